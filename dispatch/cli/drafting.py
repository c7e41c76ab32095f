"""What `dispatch editions new` and `edit` read from their options: item ids, the intro
file, the English version and the sections' titles."""

from __future__ import annotations

from pathlib import Path

import typer

from dispatch.cli.support import fail


def ids(values: list[str]) -> list[int]:
    """Item ids given as `--items 3 --items 1` or `--items 3,1`."""
    ids: list[int] = []
    for value in values:
        for part in value.replace(" ", ",").split(","):
            if not part:
                continue
            if not part.isdigit():
                fail(f"{part!r} is not an item id (see `dispatch items list`).")
            ids.append(int(part))
    return ids


def read_intro(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text.")
    except OSError as error:
        fail(f"Cannot read {path}: {error.strerror or error}.")


def english(
    subject: str | None, preheader: str | None, intro: Path | None
) -> dict[str, dict[str, str]] | None:
    """The English version given by --subject-en, --preheader-en and --intro-en, if any."""
    texts = {"subject": subject, "preheader": preheader, "intro": read_intro(intro)}
    given = {name: value for name, value in texts.items() if value is not None}
    return {"en": given} if given else None


def headings(french: list[str], english: list[str]) -> dict[int, dict[str, str]] | None:
    """Section titles given as `--heading 12="Agenda"` and `--heading-en 12="Events"`."""
    found: dict[int, dict[str, str]] = {}
    for language, values in (("fr", french), ("en", english)):
        for value in values:
            item, sep, title = value.partition("=")
            if not sep or not item.strip().isdigit():
                fail(f'{value!r}: give ITEM=TITLE, e.g. --heading 12="Agenda".')
            found.setdefault(int(item), {})[language] = title.strip()
    return found or None


HEADING = typer.Option(
    [],
    "--heading",
    help='ITEM=TITLE: that item opens a section so titled (repeatable), e.g. 12="Agenda".',
)
HEADING_EN = typer.Option(
    [], "--heading-en", help="ITEM=TITLE: the section's English title (with an English version)."
)
SUBJECT_EN = typer.Option(
    None, "--subject-en", help="The English subject: English readers get the English version."
)
PREHEADER_EN = typer.Option(None, "--preheader-en", help="The English preheader.")
INTRO_EN = typer.Option(
    None, "--intro-en", help="A Markdown file: the English editorial.", dir_okay=False
)
