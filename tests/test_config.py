"""Settings: layering, secrets from the environment only, errors that name what to fix."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from dispatch.config import (
    PLACEHOLDER_SECRET,
    SECRET_KEYS,
    ConfigError,
    Settings,
    load_settings,
)

STRONG = "k" * 40
_ASSIGNMENT = re.compile(r"^[a-z_]+ = ")


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "settings.toml"
    monkeypatch.setenv("DISPATCH_SETTINGS_FILE", str(path))
    return path


def test_defaults_are_the_embedded_mode(settings_file: Path) -> None:
    settings_file.write_text("")
    settings = load_settings()
    assert settings.app.mode == "embedded"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.broker_url == "filesystem://"
    assert settings.mail.transport == "outbox"
    assert settings.app.default_locale == "fr"
    # Embedded mode makes its own secrets on the first run, private to this installation.
    secrets_file = settings.app.data_dir / "secrets.toml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert len(settings.secret_key) >= 48 and settings.secret_key != PLACEHOLDER_SECRET
    assert settings.security.webhook_secret is not None
    assert settings.social.credentials_key is not None
    # Every process of the installation reads the same ones.
    assert load_settings().secret_key == settings.secret_key


def test_environment_overrides_the_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text("[web]\nport = 8100\n[mail]\nbatch_size = 200\n")
    monkeypatch.setenv("DISPATCH_WEB__PORT", "8200")
    settings = load_settings()
    assert settings.web.port == 8200
    assert settings.mail.batch_size == 200


def test_invalid_value_names_the_key_and_the_file(settings_file: Path) -> None:
    settings_file.write_text('[web]\nport = "huit mille"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "web.port" in message
    assert str(settings_file) in message


def test_invalid_environment_value_names_the_variable(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text("")
    monkeypatch.setenv("DISPATCH_MAIL__BATCH_SIZE", "-3")
    with pytest.raises(ConfigError, match="DISPATCH_MAIL__BATCH_SIZE"):
        load_settings()


def test_a_secret_in_the_file_is_refused(settings_file: Path) -> None:
    settings_file.write_text('[security]\nsecret_key = "oops"\n')
    with pytest.raises(ConfigError, match="DISPATCH_SECURITY__SECRET_KEY"):
        load_settings()


def test_unknown_key_is_refused(settings_file: Path) -> None:
    settings_file.write_text("[mail]\nsmtp_hots = 'typo'\n")
    with pytest.raises(ConfigError, match=r"mail\.smtp_hots"):
        load_settings()


def _production(settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file.write_text('[app]\nmode = "production"\n')
    monkeypatch.setenv("DISPATCH_DATABASE__URL", "postgresql+psycopg://d@localhost/d")
    monkeypatch.setenv("DISPATCH_BROKER__URL", "redis://localhost:6379/0")


def test_production_refuses_a_missing_secret(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(settings_file, monkeypatch)
    with pytest.raises(ConfigError, match="DISPATCH_SECURITY__SECRET_KEY"):
        load_settings()


@pytest.mark.parametrize("mode", ["embedded", "production"])
def test_the_old_public_placeholder_is_refused_in_every_mode(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    _production(settings_file, monkeypatch)
    monkeypatch.setenv("DISPATCH_APP__MODE", mode)
    monkeypatch.setenv("DISPATCH_SECURITY__SECRET_KEY", PLACEHOLDER_SECRET)
    with pytest.raises(ConfigError, match="published with dispatch"):
        load_settings()


def test_production_needs_database_and_broker(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(settings_file, monkeypatch)
    monkeypatch.setenv("DISPATCH_SECURITY__SECRET_KEY", STRONG)
    monkeypatch.delenv("DISPATCH_BROKER__URL")
    with pytest.raises(ConfigError, match="DISPATCH_BROKER__URL"):
        load_settings()
    monkeypatch.setenv("DISPATCH_BROKER__URL", "redis://localhost:6379/0")
    settings = load_settings()
    assert settings.secret_key == STRONG
    # Secrets never show in a repr or a log line, nor does a password inside a URL.
    assert STRONG not in repr(settings)
    monkeypatch.setenv("DISPATCH_DATABASE__URL", "postgresql+psycopg://d:hunter2@localhost/d")
    assert "hunter2" not in repr(load_settings())


def test_the_cli_reports_a_config_error_cleanly(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    settings_file.write_text("[web]\nport = 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "workers", "db", "upgrade"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "web.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_time_zone_that_does_not_exist_is_named_in_one_line(settings_file: Path) -> None:
    settings_file.write_text('[app]\ntimezone = "Paris"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    problems = [line for line in str(excinfo.value).splitlines() if line.startswith("- ")]
    assert len(problems) == 1
    assert "app.timezone" in problems[0] and "Europe/Paris" in problems[0]
    assert str(settings_file) in problems[0]


# settings.toml documents every setting: the model and the file cannot drift apart.

ROOT_SETTINGS = Path(__file__).resolve().parent.parent / "settings.toml"


def _model_settings() -> dict[str, dict[str, object]]:
    """section -> key -> default, for every setting of the model."""
    return {
        section: {
            key: spec.get_default(call_default_factory=True)
            for key, spec in field.annotation.model_fields.items()  # type: ignore[union-attr]
        }
        for section, field in Settings.model_fields.items()
    }


def _file_lines() -> dict[str, list[str]]:
    """section -> its lines, comments included."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in ROOT_SETTINGS.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.rstrip().endswith("]"):
            current = line.strip()[1:-1]
            sections[current] = []
        elif current:
            sections[current].append(line)
    return sections


def test_settings_toml_writes_every_setting_with_its_default() -> None:
    written = tomllib.loads(ROOT_SETTINGS.read_text(encoding="utf-8"))
    lines = _file_lines()
    for section, defaults in _model_settings().items():
        model = type(getattr(Settings(), section))
        for key, default in defaults.items():
            dotted = f"{section}.{key}"
            if dotted in SECRET_KEYS:
                assert key not in written.get(section, {}), f"{dotted} is a secret"
                continue
            if default is None:
                # TOML has no null: the key is shown commented out, with what unset means.
                assert any(line.startswith(f"# {key} = ") for line in lines.get(section, [])), (
                    f"settings.toml lacks a commented '# {key} = …' in [{section}]"
                )
                continue
            assert key in written.get(section, {}), f"settings.toml lacks {dotted}"
            value = getattr(model(**{key: written[section][key]}), key)
            assert value == default, f"{dotted} is {value!r} in settings.toml, {default!r} in code"


def test_settings_toml_says_what_each_setting_means() -> None:
    for section, lines in _file_lines().items():
        for number, line in enumerate(lines):
            if not _ASSIGNMENT.match(line):
                continue
            above = number - 1
            while above >= 0 and _ASSIGNMENT.match(lines[above]):
                above -= 1  # a group of keys under one comment
            assert above >= 0 and lines[above].startswith("#"), (
                f"[{section}] {line.split('=')[0].strip()} has no comment saying what it means"
            )


def test_settings_toml_names_every_secret_and_holds_none() -> None:
    text = ROOT_SETTINGS.read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for dotted in SECRET_KEYS:
        variable = "DISPATCH_" + dotted.replace(".", "__").upper()
        assert variable in comments, f"settings.toml does not name {variable}"


def test_settings_toml_loads_as_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("DISPATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DISPATCH_SETTINGS_FILE", str(ROOT_SETTINGS))
    loaded = load_settings()
    for section, defaults in _model_settings().items():
        for key, default in defaults.items():
            if f"{section}.{key}" not in SECRET_KEYS:
                assert getattr(getattr(loaded, section), key) == default, f"{section}.{key}"


def test_a_provider_preset_fills_the_relay_and_its_documented_rates(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text('[mail]\nprovider = "brevo"\nsmtp_port = 2525\n')
    mail = load_settings().mail
    assert (mail.smtp_host, mail.smtp_port, mail.smtp_security) == (
        "smtp-relay.brevo.com",
        2525,  # set explicitly: kept
        "starttls",
    )
    assert (mail.rate_per_second, mail.rate_per_hour) == (1000, 3_600_000)
    settings_file.write_text('[mail]\nprovider = "ses"\nprovider_region = "eu-west-3"\n')
    monkeypatch.setenv("DISPATCH_MAIL__RATE_PER_SECOND", "14")
    mail = load_settings().mail
    assert mail.smtp_host == "email-smtp.eu-west-3.amazonaws.com"
    assert (mail.rate_per_second, mail.rate_per_hour) == (14, 200)
    settings_file.write_text('[mail]\nprovider = "mailgun"\nprovider_region = "eu"\n')
    assert load_settings().mail.smtp_host == "smtp.eu.mailgun.org"
    settings_file.write_text('[mail]\nprovider = "ses"\n')
    with pytest.raises(ConfigError, match="provider_region"):
        load_settings()
