"""Importing subscribers from a CSV file (all rows or none) and exporting them as CSV or JSON.

The CSV columns are `email` (required), `name`, `language` (fr|en) and `topics`
(`blog:weekly;events:immediately`). The export writes the same columns plus the status and
dates, so an export can be read back by the import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.audience import records, service
from dispatch.audience.addresses import (
    InternationalAddressError,
    InvalidInputError,
    check_mailable,
    clean_text,
    normalise_email,
)
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import suppression_reason
from dispatch.config import Settings
from dispatch.content.models import Topic

COLUMNS = ("email", "name", "language", "topics", "letter")
#: An import file larger than this is refused before it is read (about 100,000 rows).
MAX_FILE_BYTES = 10_000_000
#: A cell longer than this is an error on its line: no column needs more (names: 200).
MAX_CELL = 1000
EXPORT_COLUMNS = (*COLUMNS, "status", "created_at", "confirmed_at", "unsubscribed_at")
ALIASES = {
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "courriel": "email",
    "adresse": "email",
    "name": "name",
    "nom": "name",
    "language": "language",
    "langue": "language",
    "locale": "language",
    "topics": "topics",
    "thèmes": "topics",
    "themes": "topics",
    "letter": "letter",
    "lettre": "letter",
    "newsletter": "letter",
}
#: How a cell of the letter column may say yes or no (empty: yes, the default).
_YES = {"", "yes", "y", "oui", "o", "true", "vrai", "1", "x"}
_NO = {"no", "n", "non", "false", "faux", "0"}


@dataclass(frozen=True)
class RowNote:
    """Why a line is left out: `reason` in English (the CLI and the API), and `words`, the
    same as a phrase with its values, for the staff pages to say in the staff's language."""

    line: int
    email: str
    reason: str
    words: tuple[str, tuple[tuple[str, str], ...]] | None = None

    def __str__(self) -> str:
        who = f" ({self.email})" if self.email else ""
        return f"line {self.line}{who}: {self.reason}"


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)  # left alone on purpose
    errors: list[RowNote] = field(default_factory=list)  # any error: nothing was imported

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Row:
    line: int
    request: service.SubscriptionRequest


_NOT_BACK = {
    "unsubscribed": "not added back: this person unsubscribed",
    "bounced": "not added back: mail to this address bounced",
    "complained": "not added back: this person reported a letter as spam",
    "erased": "not added back: this person asked to be erased",
    "purged": "not added back: removed after a long silence",
}


def _words(phrase: str, **values: object) -> tuple[str, tuple[tuple[str, str], ...]]:
    return phrase, tuple((name, str(value)) for name, value in values.items())


def _letter(cell: str) -> bool:
    value = cell.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise InvalidInputError("letter", f"the letter column says {cell.strip()!r}: yes or no")


def field_words(
    error: InvalidInputError, value: str = ""
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What is wrong with a field, as a phrase for the staff pages (not the address
    parser's own English)."""
    if isinstance(error, InternationalAddressError):
        return _words(
            "the address has accented letters before the @, which this mail server cannot "
            "deliver to"
        )
    if error.field == "email":
        return _words("this is not an email address one can write to")
    if error.field == "name":
        return _words("the name is too long or holds a line break")
    if error.field == "language":
        return _words("the language is « %(value)s »: fr or en", value=value)
    if error.field == "letter":
        return _words("the letter column says yes or no (oui or non)")
    return _words("the topics cannot be read: topic:frequency pairs, e.g. blog:weekly")


def _delimiter(header_line: str) -> str:
    # French spreadsheets save with ";"; topics then need quotes or "|" between pairs.
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_rows(
    text: str, *, known_topics: Iterable[str], smtputf8: bool = False
) -> tuple[list[_Row], list[RowNote]]:
    """Parse and check every row; returns the good rows and one note per bad row.

    `smtputf8`: the mail path can deliver to non-ASCII local parts (else they are refused).
    A file over MAX_FILE_BYTES is refused whole; a cell over MAX_CELL is its line's error.
    """
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_FILE_BYTES:
        return [], [RowNote(0, "", too_large(len(text.encode())))]
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        return [], [RowNote(1, "", "the file is empty: a header line with 'email' is needed")]
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first_line))
    try:
        header_cells = next(reader)
    except csv.Error as error:
        return [], [RowNote(1, "", f"the header line cannot be read: {error}")]
    header = [ALIASES.get(cell.strip().lower(), cell.strip().lower()) for cell in header_cells]
    if "email" not in header:
        return [], [RowNote(1, "", f"no 'email' column in the header ({', '.join(header)})")]
    known = set(known_topics)
    rows: list[_Row] = []
    notes: list[RowNote] = []
    seen: dict[str, int] = {}
    for line, cells in _lines(reader, notes):
        if not any(cell.strip() for cell in cells):
            continue
        longest = max(len(cell) for cell in cells)
        if longest > MAX_CELL:
            notes.append(
                RowNote(
                    line,
                    "",
                    f"a cell is {longest:,} characters long, over {MAX_CELL:,}",
                    _words(
                        "a cell is %(length)s characters long, over %(most)s",
                        length=longest,
                        most=MAX_CELL,
                    ),
                )
            )
            continue
        values = dict(zip(header, cells, strict=False))
        raw_email = values.get("email", "").strip()
        try:
            email = normalise_email(raw_email)
            check_mailable(email, smtputf8=smtputf8)
            name = clean_text(values.get("name"), "name")
            language = (values.get("language") or "fr").strip().lower() or "fr"
            if language not in service.LOCALES:
                raise InvalidInputError("language", f"language must be fr or en, not {language!r}")
            topics = service.parse_topics(values.get("topics") or "")
            letter = _letter(values.get("letter", ""))
        except InvalidInputError as exc:
            raw = values.get("language", "") if exc.field == "language" else ""
            notes.append(
                RowNote(line, raw_email[:320], f"{exc.field}: {exc}", field_words(exc, raw))
            )
            continue
        unknown = sorted(set(topics) - known)
        if unknown:
            listed, names = ", ".join(unknown), ", ".join(sorted(known))
            notes.append(
                RowNote(
                    line,
                    email,
                    f"topics: unknown topic {listed} (known: {names})",
                    _words(
                        "unknown topic %(topics)s (known: %(known)s)", topics=listed, known=names
                    ),
                )
            )
            continue
        if email in seen:
            notes.append(
                RowNote(
                    line,
                    email,
                    f"same address as line {seen[email]}",
                    _words("same address as line %(line)s", line=seen[email]),
                )
            )
            continue
        seen[email] = line
        request = service.SubscriptionRequest(
            email=email, name=name, locale=language, topics=topics, smtputf8=smtputf8, letter=letter
        )
        rows.append(_Row(line, request))
    return rows, notes


def _lines(reader: Any, notes: list[RowNote]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each row; a row the csv module cannot read (a cell beyond
    its own limit, a stray quote) becomes a note on its line, and reading goes on."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            notes.append(
                RowNote(
                    reader.line_num,
                    "",
                    f"this line cannot be read: {error}",
                    _words("this line cannot be read (a stray quote?)"),
                )
            )
            continue
        yield reader.line_num, cells


def too_large(size: int) -> str:
    return (
        f"the file is {size / 1_000_000:.1f} MB, over the {MAX_FILE_BYTES // 1_000_000} MB "
        "an import takes: split it into several files"
    )


def import_subscribers(
    session: Session,
    settings: Settings,
    text: str,
    *,
    consent_source: str,
    dry_run: bool = False,
    smtputf8: bool = False,
    welcome: bool = False,
) -> ImportReport:
    """Add every valid row as an active subscriber, or nothing at all if any row is invalid.

    Nobody gets a welcome email unless `welcome` is asked for (then each added person does).
    Existing subscribers are left as they are and suppressed addresses are never added back
    (both are listed as skipped): an old list must not undo someone's unsubscription.
    """
    report = ImportReport()
    if not consent_source.strip():
        report.errors.append(RowNote(0, "", "--consent-source is required: where did they agree?"))
        return report
    known = session.scalars(select(Topic.slug)).all()
    rows, report.errors = read_rows(text, known_topics=known, smtputf8=smtputf8)
    if report.errors:
        return report
    origin = Origin(source=f"import: {consent_source.strip()}")
    existing = set(session.scalars(select(Subscriber.email)))
    to_add = []
    for row in rows:
        email = row.request.email
        normalised = normalise_email(email)
        reason = suppression_reason(session, settings, normalised)
        if reason is not None:
            report.skipped.append(
                RowNote(
                    row.line,
                    normalised,
                    f"suppressed ({reason})",
                    _words(_NOT_BACK.get(reason, "not added back: on the suppression list")),
                )
            )
        elif normalised in existing:
            report.skipped.append(
                RowNote(
                    row.line, normalised, "already a subscriber", _words("already a subscriber")
                )
            )
        else:
            to_add.append(row)
    for row in to_add:
        if not dry_run:
            records.add_subscriber(
                session, settings, row.request, origin, action="import", welcome=welcome
            )
        report.added.append(normalise_email(row.request.email))
    if not dry_run:
        audit.record(
            session,
            "subscribers.imported",
            summary={
                "consent_source": consent_source.strip(),
                "added": len(report.added),
                "skipped": len(report.skipped),
                "welcome": welcome,
            },
        )
    return report


def list_records(session: Session, *, status: str | None = None) -> list[dict[str, Any]]:
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    return [records.subscriber_record(s) for s in session.scalars(query)]


def export_records(session: Session, *, status: str | None = None) -> list[dict[str, Any]]:
    """Everyone (or everyone of `status`): personal data leaving, so the audit says who took it."""
    rows = list_records(session, status=status)
    audit.record(session, "subscribers.exported", summary={"status": status, "rows": len(rows)})
    return rows


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        row = {
            **record,
            "topics": service.format_topics(record["topics"]),
            "letter": "yes" if record["letter"] else "no",
        }
        writer.writerow([_cell(row.get(column)) for column in EXPORT_COLUMNS])


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to spreadsheets: quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
