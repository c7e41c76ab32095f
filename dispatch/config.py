"""Settings: defaults < settings.toml < DISPATCH_SECTION__KEY environment variables.

Secrets (keys, passwords, tokens) are read from the environment only, so that the TOML file
can be committed and shared. `load_settings()` turns every problem into a `ConfigError` whose
message names the key and where to fix it.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "DISPATCH_"
PLACEHOLDER_SECRET = "insecure-embedded-demo-key-change-me"  # noqa: S105 - a marker, refused in production
DEFAULT_SETTINGS_FILE = "settings.toml"

# Fields that may only come from the environment, as "section.key".
SECRET_KEYS = frozenset(
    {
        "security.secret_key",
        "security.old_secret_keys",
        "security.staff_token",
        "security.webhook_secret",
        "mail.smtp_password",
        "mail.dkim_private_key",
        "mail.imap_password",
        "social.credentials_key",
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


class BrandingSettings(Section):
    org_name: str = "La 27e Région"
    site_url: str = "https://www.la27eregion.fr"
    logo_url: str = ""
    logo_alt: str = ""
    primary_colour: str = "#b3005e"
    text_colour: str = "#1f1f1f"
    postal_address: str = "La 27e Région, 5 rue de Charonne, 75011 Paris, France"


class MailSettings(Section):
    transport: Literal["outbox", "smtp"] = "outbox"
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
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_private_key: SecretStr | None = None
    # Whole messages per second (at least 1); rate_per_hour covers slower providers.
    rate_per_second: int = Field(default=50, ge=1)
    rate_per_hour: int = Field(default=100_000, gt=0)
    batch_size: int = Field(default=500, ge=1, le=5000)
    lease_seconds: int = Field(default=600, ge=30)
    max_attempts: int = Field(default=5, ge=1)
    pause_after_errors: int = Field(default=50, ge=1)
    soft_bounce_threshold: int = Field(default=3, ge=1)
    # Bounce mailbox: a Maildir path, or IMAP when imap_host is set.
    bounce_maildir: Path | None = None
    imap_host: str = ""
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_username: str = ""
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    imap_ssl: bool = True
    tracking: bool = False


class SecuritySettings(Section):
    secret_key: SecretStr | None = None
    # Comma-separated previous keys, still accepted for signed links (rotation).
    old_secret_keys: SecretStr | None = None
    staff_token: SecretStr | None = None
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
    security: SecuritySettings = SecuritySettings()
    content: ContentSettings = ContentSettings()
    events: EventsSettings = EventsSettings()
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


def _check_secrets(settings: Settings) -> None:
    security = settings.security
    if settings.app.mode == "embedded":
        if security.secret_key is None:
            security.secret_key = SecretStr(PLACEHOLDER_SECRET)
        if security.staff_token is None:
            security.staff_token = SecretStr("demo-staff-token")
        if security.webhook_secret is None:
            security.webhook_secret = SecretStr("demo-webhook-secret")
        return
    required = {
        "security.secret_key": security.secret_key,
        "security.staff_token": security.staff_token,
    }
    for dotted, value in required.items():
        if value is None or not value.get_secret_value():
            raise ConfigError(f"{dotted} is required in production mode: set {_env_name(dotted)}.")
    assert security.secret_key is not None
    key = security.secret_key.get_secret_value()
    if key == PLACEHOLDER_SECRET or len(key) < 32:
        raise ConfigError(
            "security.secret_key is a placeholder or shorter than 32 characters, which is refused "
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
