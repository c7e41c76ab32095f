"""Settings: layering, secrets from the environment only, errors that name what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.config import PLACEHOLDER_SECRET, ConfigError, load_settings

STRONG = "k" * 40


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
