"""Hostile CSV files: a huge file or a huge cell is refused with the usual per-line report,
never a traceback, and nothing is imported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from dispatch.audience import importexport
from dispatch.audience.models import Subscriber
from tests.conftest import Cli


def _count(cli: Cli) -> int:
    with cli.sessions()() as session:
        return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def test_a_file_with_one_twenty_megabyte_cell_is_refused_whole(cli: Cli, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nlea@example.org," + "N" * 20_000_000 + "\n", "utf-8")

    result = cli("subscribers", "import", str(people), "--consent-source", "Salon 2026")

    assert result.exit_code == 1
    assert "Import refused: the file is 20.0 MB, over the 10 MB an import takes" in result.stderr
    assert _count(cli) == 0


def test_oversized_cells_are_reported_on_their_lines(cli: Cli, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name\n"
        "lea@example.org,Léa\n"
        f"camille@example.org,{'C' * 5_000_000}\n"  # beyond what the csv module reads
        f"zoe@example.org,{'Z' * 2_000}\n"  # readable, but no column needs that much
        '"sam@example.org","unfinished\n'
        "jo@example.org,Jo\n",
        "utf-8",
    )

    result = cli("subscribers", "import", str(people), "--consent-source", "Salon 2026")

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors[0].startswith("error   line 3: this line cannot be read: field larger")
    assert (
        errors[1]
        == f"error   line 4: a cell is 2,000 characters long, over {importexport.MAX_CELL:,}"
    )
    assert "nothing was imported" in result.stderr
    assert _count(cli) == 0


def test_the_limits_hold_for_text_handed_in_directly() -> None:
    rows, notes = importexport.read_rows(
        "email\n" + "a" * (importexport.MAX_FILE_BYTES + 1), known_topics=[]
    )
    assert rows == [] and "over the 10 MB" in notes[0].reason
