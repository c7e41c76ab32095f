"""The house keeps its shape: domains import one way (docs/architecture.md draws it), nothing
under dispatch/ reaches Celery or workers/, and no module grows past what a reviewer can hold.

Read from the code itself, with the standard library's parser: every `import` and `from …
import`, at any depth (a late import inside a function counts like any other), and calls to
`importlib.import_module` / `__import__` with a literal name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dispatch"

#: Lower numbers sit lower. A module may import its own folder and anything strictly lower;
#: folders on the same floor never import each other (delivery and social stay apart).
FLOORS: dict[str, int] = {
    "config": 0,
    "db": 0,
    "i18n": 0,
    "doorbell": 0,
    "ratelimit": 0,
    "nonces": 0,
    "health": 0,
    "migrate": 0,
    "audit": 0,
    "content": 1,
    "audience": 2,
    "editions": 3,
    "delivery": 4,
    "social": 4,
    "staff": 5,
    "demo": 6,
    "models": 6,
    "cli": 7,
    "web": 7,
}
FORBIDDEN_ROOTS = ("celery", "kombu", "workers")
MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    module: Path
    line: int
    name: str


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _folder(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return "" if parts == ("__init__",) else parts[0]


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(Import(path, node.lineno, node.module))
            if node.module == "dispatch":
                found += [Import(path, node.lineno, f"dispatch.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append(Import(path, node.lineno, "." * node.level + (node.module or "")))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
        ):
            found.append(Import(path, node.lineno, node.args[0].value))
    return found


def _where(item: Import) -> str:
    return f"{item.module.relative_to(PACKAGE.parent)}:{item.line} imports {item.name}"


def test_every_folder_has_a_floor() -> None:
    folders = {_folder(path) for path in _modules()} - {""}
    assert folders <= FLOORS.keys(), f"give these a floor: {sorted(folders - FLOORS.keys())}"


def test_domains_import_one_way() -> None:
    wrong = []
    for path in _modules():
        mine = _folder(path)
        for item in _imports(path):
            if item.name.startswith("."):
                wrong.append(f"{_where(item)} (relative imports hide the direction)")
                continue
            parts = item.name.split(".")
            if parts[0] != "dispatch" or len(parts) < 2 or parts[1] == mine or not mine:
                continue
            theirs = parts[1]
            if theirs not in FLOORS:
                continue  # a name, not a folder: `from dispatch import __version__`
            if FLOORS[theirs] > FLOORS[mine] or (
                FLOORS[theirs] == FLOORS[mine] and FLOORS[mine] > 0
            ):
                wrong.append(
                    f"{_where(item)} ({mine} is floor {FLOORS[mine]}, {theirs} floor "
                    f"{FLOORS[theirs]})"
                )
    assert wrong == []


def test_nothing_under_dispatch_reaches_the_task_runtime() -> None:
    reached = [
        _where(item)
        for path in _modules()
        for item in _imports(path)
        if item.name.split(".")[0] in FORBIDDEN_ROOTS
    ]
    assert reached == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_too_long_to_hold_in_mind(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines; split it along its sections"


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    """The reader of imports finds the cases that matter, late and indirect ones included."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import importlib\n"
        "def late():\n"
        "    from dispatch.delivery import sending\n"
        "    importlib.import_module('workers.app')\n"
        "from dispatch import cli\n",
        encoding="utf-8",
    )
    names = [item.name for item in _imports(sample)]
    assert "dispatch.delivery" in names and "workers.app" in names and "dispatch.cli" in names
