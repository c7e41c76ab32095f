"""Settings: defaults < settings.toml < DISPATCH_SECTION__KEY environment variables.

Secrets (keys, passwords, tokens) are read from the environment only, so that the TOML file
can be committed and shared. `load_settings()` turns every problem into a `ConfigError` whose
message names the key and where to fix it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
import tomllib
from datetime import time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "DISPATCH_"
# An earlier default, public in the code: refused wherever it is given.
PLACEHOLDER_SECRET = "insecure-embedded-demo-key-change-me"  # noqa: S105
DEFAULT_SETTINGS_FILE = "settings.toml"

# Fields that may only come from the environment, as "section.key".
SECRET_KEYS = frozenset(
    {
        "security.secret_key",
        "security.old_secret_keys",
        "security.webhook_secret",
        "mail.smtp_password",
        "mail.dkim_private_key",
        "mail.dkim_ed25519_private_key",
        "mail.imap_password",
        "social.credentials_key",
        "providers.postmark_webhook_token",
        "providers.mailgun_signing_key",
        "providers.brevo_webhook_token",
    }
)


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and where to fix it."""


class Section(BaseModel):
    # A misspelt key is an error, not a silently ignored line.
    model_config = ConfigDict(extra="forbid")


class AppSettings(Section):
    # "embedded": SQLite + serverless broker + outbox folders, for one machine.
    # "production": PostgreSQL + Redis + SMTP; refuses placeholder secrets.
    mode: Literal["embedded", "production"] = "embedded"
    base_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("var")
    timezone: str = "Europe/Paris"
    default_locale: Literal["fr", "en"] = "fr"
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone name; write it as Area/City, "
                "for example Europe/Paris"
            ) from None
        return value


class DatabaseSettings(Section):
    # Empty means a SQLite file in app.data_dir. Kept out of reprs: it may hold a password.
    url: str = Field(default="", repr=False)
    echo: bool = False


class BrokerSettings(Section):
    # Empty means kombu's filesystem transport in app.data_dir/broker: no server needed.
    url: str = Field(default="", repr=False)
    visibility_timeout: int = Field(default=3600, ge=60)


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # A public form posted sooner than this after it was shown is a robot's.
    form_min_seconds: float = Field(default=2.0, ge=0)
    # The reverse proxies in front of dispatch (addresses or CIDR networks): only a request
    # from one of them may say who the visitor is. Empty: the connecting address is the visitor.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # The header those proxies write the visitor's address in (and the scheme, for HSTS).
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # Public form posts from one visitor's address per hour (an office behind one NAT too).
    posts_per_ip_per_hour: int = Field(default=30, ge=1)
    # Public form posts per hour from everyone together: a ceiling against a spread attack.
    posts_per_hour: int = Field(default=2000, ge=1)
    # Emails sent on request (confirmation, link) to one address, per hour and per day.
    mails_per_address_per_hour: int = Field(default=3, ge=1)
    mails_per_address_per_day: int = Field(default=6, ge=1)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # From the environment as "10.0.0.1, 172.30.80.0/24"; from TOML as a list.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (write 10.0.0.1 or 172.30.80.0/24)"
                ) from None
        return value

    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies]


class BrandingSettings(Section):
    org_name: str = "La 27e Région"
    site_url: str = "https://www.la27eregion.fr"
    logo_url: str = ""
    logo_alt: str = ""
    primary_colour: str = "#b3005e"
    text_colour: str = "#1f1f1f"
    postal_address: str = "La 27e Région, 5 rue de Charonne, 75011 Paris, France"


Provider = Literal["", "ses", "postmark", "mailgun", "sendgrid", "brevo"]

#: SMTP relay presets: what `mail.provider` fills in when it is not set explicitly. Rates only
#: where the provider documents them (README, "Email providers"); "{region}" is
#: `mail.provider_region`.
PROVIDER_PRESETS: dict[str, dict[str, Any]] = {
    # SES quotas are per account: these are the sandbox's (1 message/s, 200 a day).
    "ses": {
        "smtp_host": "email-smtp.{region}.amazonaws.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "rate_per_second": 1,
        "rate_per_hour": 200,
    },
    # Postmark's broadcast stream, for newsletters; no sending rate is documented.
    "postmark": {
        "smtp_host": "smtp-broadcasts.postmarkapp.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
    },
    "mailgun": {
        "smtp_host": "smtp{region}.mailgun.org",
        "smtp_port": 587,
        "smtp_security": "starttls",
    },
    # SendGrid documents limits per connection (5,000 messages), none per second.
    "sendgrid": {"smtp_host": "smtp.sendgrid.net", "smtp_port": 587, "smtp_security": "starttls"},
    # Brevo's transactional sending: 1,000 per second and 3,600,000 per hour.
    "brevo": {
        "smtp_host": "smtp-relay.brevo.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "rate_per_second": 1000,
        "rate_per_hour": 3_600_000,
    },
}


class MailSettings(Section):
    transport: Literal["outbox", "smtp"] = "outbox"
    # An SMTP relay preset (dispatch.delivery.providers): fills smtp_host, smtp_port,
    # smtp_security and, where the provider documents them, the rates, unless set here.
    provider: Provider = ""
    # ses: the AWS region (eu-west-3…); mailgun: "eu" for the EU region.
    provider_region: str = ""
    # Empty means app.data_dir/outbox/mail.
    outbox_dir: Path | None = None
    from_name: str = "La 27e Région"
    from_address: str = "lettre@dispatch.localhost"
    reply_to: str = ""
    # Envelope sender domain for VERP bounce addresses; empty means from_address's domain.
    bounce_domain: str = ""
    bounce_local_part: str = "bounces"
    list_id: str = "lettre.dispatch.localhost"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=30.0, gt=0)
    # Internationalised addresses (accents or non-Latin letters before the @) need a relay
    # that offers SMTPUTF8: "auto" asks the relay (the outbox always can), "yes" or "no" say.
    # Without it, such addresses are refused at sign-up and import.
    smtputf8: Literal["auto", "yes", "no"] = "auto"
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_private_key: SecretStr | None = None
    # A second, Ed25519 signature beside the RSA one (RFC 8463), under its own selector.
    dkim_ed25519_selector: str = ""
    dkim_ed25519_private_key: SecretStr | None = None
    # Whole messages per second (at least 1); rate_per_hour covers slower providers.
    rate_per_second: int = Field(default=50, ge=1)
    rate_per_hour: int = Field(default=100_000, gt=0)
    batch_size: int = Field(default=500, ge=1, le=5000)
    lease_seconds: int = Field(default=600, ge=30)
    max_attempts: int = Field(default=5, ge=1)
    pause_after_errors: int = Field(default=50, ge=1)
    # After a failed connection (refused, 421 greeting, TLS or login failure) each worker
    # waits before the next attempt: this long, doubling at each failure, up to the maximum.
    reconnect_delay_seconds: float = Field(default=1.0, gt=0)
    reconnect_delay_max_seconds: float = Field(default=60.0, gt=0)
    soft_bounce_threshold: int = Field(default=3, ge=1)
    # Bounce mailbox: a Maildir path, or IMAP when imap_host is set.
    bounce_maildir: Path | None = None
    imap_host: str = ""
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_username: str = ""
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    imap_ssl: bool = True
    # A bounce message larger than this is not read: it is moved aside, held with its size.
    bounce_max_bytes: int = Field(default=2_000_000, ge=10_000)
    # Where messages that cannot be read go (IMAP folder; Maildir++ subfolder ".<name>").
    bounce_unreadable_folder: str = Field(default="Unreadable", min_length=1)
    tracking: bool = False

    @model_validator(mode="after")
    def _apply_provider(self) -> MailSettings:
        """Fill what `provider` presets and was not set explicitly (file or environment)."""
        preset = PROVIDER_PRESETS.get(self.provider, {})
        region = self.provider_region.strip()
        if self.provider == "ses" and not region and "smtp_host" not in self.model_fields_set:
            raise ValueError("mail.provider = 'ses' needs mail.provider_region (eu-west-3…)")
        for key, value in preset.items():
            if key in self.model_fields_set:
                continue
            if isinstance(value, str):
                suffix = f".{region}" if self.provider == "mailgun" and region else ""
                value = value.format(region=region if self.provider == "ses" else suffix)
            object.__setattr__(self, key, value)
        return self


class ProviderSettings(Section):
    """Bounce and complaint webhooks of email providers (dispatch.web.providers)."""

    # Amazon SES through SNS: the topic ARNs accepted; none means the endpoint refuses all.
    sns_topic_arns: list[str] = Field(default_factory=list)
    # Where SNS signing certificates may come from (a regular expression on the URL).
    sns_certificate_url: str = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    # Postmark and Brevo send this secret (HTTP Basic password or Bearer token).
    postmark_webhook_token: SecretStr | None = None
    brevo_webhook_token: SecretStr | None = None
    # Mailgun: the HTTP webhook signing key; SendGrid: the signed event webhook's public key.
    mailgun_signing_key: SecretStr | None = None
    sendgrid_public_key: str = ""
    # A signed event whose signature is older than this is refused (a replay).
    max_age_seconds: int = Field(default=900, ge=30)


class SecuritySettings(Section):
    secret_key: SecretStr | None = None
    # Comma-separated previous keys, still accepted for signed links (rotation).
    old_secret_keys: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    confirm_max_age_days: int = Field(default=7, ge=1)

    def signing_keys(self) -> list[str]:
        """Newest key first; itsdangerous signs with the last, so callers reverse."""
        keys = [self.secret_key.get_secret_value()] if self.secret_key else []
        if self.old_secret_keys:
            keys += [k.strip() for k in self.old_secret_keys.get_secret_value().split(",")]
        return [k for k in keys if k]


class ContentSettings(Section):
    allow_private_hosts: bool = False
    poll_interval_minutes: int = Field(default=15, ge=1)
    fetch_timeout: float = Field(default=10.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    user_agent: str = "dispatch/0.1 (+https://github.com/dispatch; feed reader)"
    ical_window_days: int = Field(default=365, ge=1)


class StaffSettings(Section):
    # A staff session ends after this long without a request, and after max_hours anyway.
    session_idle_minutes: int = Field(default=120, ge=5)
    session_max_hours: int = Field(default=12, ge=1)
    # Failed logins per account and per IP within the window before a 429 (with Retry-After).
    login_failures: int = Field(default=10, ge=3)
    login_window_minutes: int = Field(default=15, ge=1)
    # How long a one-time link to set a password stays valid.
    invite_hours: int = Field(default=48, ge=1)
    reset_hours: int = Field(default=2, ge=1)
    password_min_length: int = Field(default=12, ge=8)


class EventsSettings(Section):
    # Days before an event its reminders go, each at the event's own time of day (all-day
    # events: at all_day_reminder_time, Europe/Paris); [] sends none.
    reminder_days: list[int] = Field(default_factory=lambda: [7, 1])
    all_day_reminder_time: str = "09:00"

    @field_validator("reminder_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 60 for day in value):
            raise ValueError("each reminder is 1 to 60 days before its event")
        return sorted(set(value), reverse=True)

    @field_validator("all_day_reminder_time")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a time of day: write it as 09:00") from None
        return value

    @property
    def all_day_time(self) -> time:
        return time.fromisoformat(self.all_day_reminder_time)


class EditionsSettings(Section):
    # Alerts: items published less than alert_grouping_minutes after the first of a burst
    # share one alert, sent once alert_quiet_minutes passed without a new one.
    alert_grouping_minutes: int = Field(default=10, ge=0, le=24 * 60)
    alert_quiet_minutes: int = Field(default=5, ge=0, le=24 * 60)


class SocialSettings(Section):
    # Empty means app.data_dir/outbox/social.
    outbox_dir: Path | None = None
    credentials_key: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    app: AppSettings = AppSettings()
    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    web: WebSettings = WebSettings()
    branding: BrandingSettings = BrandingSettings()
    mail: MailSettings = MailSettings()
    providers: ProviderSettings = ProviderSettings()
    security: SecuritySettings = SecuritySettings()
    content: ContentSettings = ContentSettings()
    staff: StaffSettings = StaffSettings()
    events: EventsSettings = EventsSettings()
    editions: EditionsSettings = EditionsSettings()
    social: SocialSettings = SocialSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _settings_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # Derived locations: one place decides where embedded-mode files live.
    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.app.data_dir / 'dispatch.sqlite3').resolve()}"

    @property
    def broker_url(self) -> str:
        return self.broker.url or "filesystem://"

    @property
    def broker_folder(self) -> Path:
        return (self.app.data_dir / "broker").resolve()

    @property
    def mail_outbox_dir(self) -> Path:
        return (self.mail.outbox_dir or self.app.data_dir / "outbox" / "mail").resolve()

    @property
    def social_outbox_dir(self) -> Path:
        return (self.social.outbox_dir or self.app.data_dir / "outbox" / "social").resolve()

    @property
    def bounce_domain(self) -> str:
        return self.mail.bounce_domain or self.mail.from_address.rpartition("@")[2]

    @property
    def secret_key(self) -> str:
        # Validated at load time: present, and not the placeholder outside embedded mode.
        assert self.security.secret_key is not None
        return self.security.secret_key.get_secret_value()


def _settings_file() -> Path | None:
    explicit = os.environ.get(f"{ENV_PREFIX}SETTINGS_FILE")
    path = Path(explicit) if explicit else Path(DEFAULT_SETTINGS_FILE)
    if explicit and not path.is_file():
        raise ConfigError(f"{ENV_PREFIX}SETTINGS_FILE points to {path}, which does not exist.")
    return path if path.is_file() else None


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.replace(".", "__").upper()


def _where(dotted: str, toml_data: dict[str, Any], toml_file: Path | None) -> str:
    if _env_name(dotted) in {k.upper() for k in os.environ}:
        return f"the environment variable {_env_name(dotted)}"
    section, _, key = dotted.partition(".")
    if toml_file is not None and key in toml_data.get(section, {}):
        return f"[{section}] {key} in {toml_file}"
    return f"{toml_file or DEFAULT_SETTINGS_FILE} ([{section}] {key}) or {_env_name(dotted)}"


def load_settings() -> Settings:
    """Build and check the settings, or raise ConfigError naming what to fix."""
    toml_file = _settings_file()
    toml_data: dict[str, Any] = {}
    if toml_file is not None:
        try:
            toml_data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_file} is not valid TOML: {exc}") from exc
    for dotted in sorted(SECRET_KEYS):
        section, _, key = dotted.partition(".")
        if key in toml_data.get(section, {}):
            raise ConfigError(
                f"{dotted} is a secret and must not be written in {toml_file}: remove it there "
                f"and set the environment variable {_env_name(dotted)} instead."
            )
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            dotted = ".".join(str(part) for part in error["loc"])
            where = _where(dotted, toml_data, toml_file)
            problems.append(f"- {dotted}: {error['msg']} (set in {where})")
        raise ConfigError("Invalid settings:\n" + "\n".join(problems)) from exc
    _check_secrets(settings)
    return settings


#: Where embedded mode keeps the secrets it made for itself, under `app.data_dir`.
SECRETS_FILE = "secrets.toml"
#: The file `_embedded_secrets` created in this process, if any (commands say so).
generated_secrets: Path | None = None
# Values published in earlier versions' code or docs: anyone could sign with them.
_PUBLIC_SECRETS = frozenset({PLACEHOLDER_SECRET, "demo-staff-token", "demo-webhook-secret"})


def _embedded_secrets(settings: Settings) -> dict[str, str]:
    """The secrets embedded mode uses when the environment gives none: random, made on the
    first run into `app.data_dir/secrets.toml` (mode 0600), the same for every process."""
    global generated_secrets
    folder = settings.app.data_dir
    path = folder / SECRETS_FILE
    if not path.exists():
        from cryptography.fernet import Fernet

        folder.mkdir(parents=True, exist_ok=True)
        made = {
            "secret_key": secrets.token_urlsafe(48),
            "webhook_secret": secrets.token_urlsafe(32),
            "credentials_key": Fernet.generate_key().decode(),
        }
        text = "# Made by dispatch on its first run in embedded mode. Keep it private.\n" + "".join(
            f'{key} = "{value}"\n' for key, value in made.items()
        )
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".secrets-")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            # A link appears whole or not at all; if another process won, use its file.
            os.link(temporary, path)
            generated_secrets = path
        except FileExistsError:
            pass
        finally:
            Path(temporary).unlink(missing_ok=True)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path} holds the embedded mode's secrets but cannot be read ({exc}); "
            "delete it to have new ones made (signed links sent so far stop working)."
        ) from exc
    return {str(k): str(v) for k, v in data.items()}


def _refuse_public(settings: Settings) -> None:
    for dotted, value in (
        ("security.secret_key", settings.security.secret_key),
        ("security.webhook_secret", settings.security.webhook_secret),
    ):
        if value is not None and value.get_secret_value() in _PUBLIC_SECRETS:
            raise ConfigError(
                f"{dotted} is a value published with dispatch, which anyone could use: set "
                f"{_env_name(dotted)} to a long random value, or unset it in embedded mode to "
                "have one made for you."
            )


def _check_secrets(settings: Settings) -> None:
    security = settings.security
    _refuse_public(settings)
    if settings.app.mode == "embedded":
        if security.secret_key and security.webhook_secret and settings.social.credentials_key:
            return
        made = _embedded_secrets(settings)
        if security.secret_key is None:
            security.secret_key = SecretStr(made["secret_key"])
        if security.webhook_secret is None:
            security.webhook_secret = SecretStr(made["webhook_secret"])
        if settings.social.credentials_key is None and made.get("credentials_key"):
            settings.social.credentials_key = SecretStr(made["credentials_key"])
        return
    if security.secret_key is None or not security.secret_key.get_secret_value():
        raise ConfigError(
            "security.secret_key is required in production mode: set "
            f"{_env_name('security.secret_key')}."
        )
    key = security.secret_key.get_secret_value()
    if len(key) < 32:
        raise ConfigError(
            "security.secret_key is shorter than 32 characters, which is refused "
            f"in production mode: set {_env_name('security.secret_key')} to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    if not settings.database.url:
        raise ConfigError(
            f"database.url is required in production mode: set {_env_name('database.url')} "
            "(postgresql+psycopg://user:password@host/dbname)."
        )
    if not settings.broker.url:
        raise ConfigError(
            f"broker.url is required in production mode: set {_env_name('broker.url')} "
            "(redis://host:6379/0)."
        )


def build_settings(**sections: Any) -> Settings:
    """Settings from explicit values (over the file and environment), checked like at start-up."""
    settings = Settings(**sections)
    _check_secrets(settings)
    return settings


@cache
def get_settings() -> Settings:
    """The process-wide settings, built once on first use."""
    return load_settings()
