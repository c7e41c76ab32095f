"""docker-compose.yml is valid Compose and only runs commands the `dispatch` CLI has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.main import get_command

from workers.main import cli as app

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "fixtures" / "compose" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_compose(), schema)


def test_compose_runs_the_production_shape() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "mailpit", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "mailpit", "web", "worker", "beat"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["web"]["environment"]["DISPATCH_APP__MODE"] == "production"


def test_only_the_compose_proxy_may_name_visitors() -> None:
    import ipaddress

    compose = _compose()
    services = compose["services"]
    trusted = services["web"]["environment"]["DISPATCH_WEB__TRUSTED_PROXIES"]
    proxy = services["proxy"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert trusted == proxy
    assert ipaddress.ip_address(proxy) in ipaddress.ip_network(subnet)
    # The web container is reachable through the proxy only: nobody else can pose as it.
    assert "ports" not in services["web"]
    assert (ROOT / "deploy" / "Caddyfile").is_file()


def test_every_dispatch_command_in_compose_exists_in_the_cli() -> None:
    cli = get_command(app)
    for name, service in _compose()["services"].items():
        command = service.get("command")
        if not command or command[0] != "dispatch":
            continue
        group = cli
        for word in command[1:]:
            if word.startswith("-"):
                break
            sub = group.commands.get(word) if hasattr(group, "commands") else None  # type: ignore[attr-defined]
            if sub is None:
                break
            group = sub
        assert group is not cli, f"service {name}: `{' '.join(command)}` is not a dispatch command"
        assert not hasattr(group, "commands"), (
            f"service {name}: `{' '.join(command)}` names a group"
        )
        options = {opt for param in group.params for opt in getattr(param, "opts", [])}
        for word in command[2:]:
            if word.startswith("--"):
                assert word in options or group.context_settings.get("ignore_unknown_options"), (
                    f"service {name}: {word} is not an option of `{' '.join(command[:2])}`"
                )


def _copied(dockerfile: str) -> dict[str, str]:
    """Each COPY source and where it lands, relative to the working directory."""
    workdir = "/"
    landed: dict[str, str] = {}
    for line in dockerfile.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "WORKDIR":
            workdir = words[1]
        elif words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            *sources, destination = words[1:]
            for source in sources:
                name = source.rstrip("/")
                target = destination if not destination.endswith("/") else destination + name
                landed[name] = str(Path(workdir, target).resolve())
    return landed


def test_dockerfile_puts_what_the_app_reads_beside_the_code() -> None:
    """The image runs from /app with the code installed editable, as `make install` does, so
    the paths the code derives from its own location (templates, migrations, settings) exist."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    landed = _copied(dockerfile)
    for part in (
        "requirements.lock",
        "pyproject.toml",
        "dispatch",
        "workers",
        "templates",
        "migrations",
        "alembic.ini",
        "settings.toml",
    ):
        assert landed.get(part) == f"/app/{part}", f"{part} is not copied to /app/{part}"
    installs = [
        line for line in dockerfile.splitlines() if "pip install" in line and "--no-deps" in line
    ]
    assert installs and all(" -e ." in line for line in installs), "install the code editable"
