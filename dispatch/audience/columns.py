"""Another tool's subscriber export, read as the import's columns.

Mailchimp ("Email Address", "First Name", "Last Name", MEMBER_RATING, OPTIN_TIME…), Brevo
(EMAIL, PRENOM/NOM or FIRSTNAME/LASTNAME, semicolon-separated) and listmonk (email, name,
attributes as JSON) are recognised by their headers; staff can change what was guessed.
`rewrite` turns the file into the import's own CSV (`importexport.COLUMNS`), with the line of
the original file for each row, so that errors point at the line staff can open.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: What a column can be taken as, in the order the mapping form asks.
FIELDS = (
    "email", "first_name", "last_name", "name", "language", "topics", "letter", "attributes"
)  # fmt: skip
FORMATS = ("mailchimp", "brevo", "listmonk", "dispatch", "other")

# Header cells, lower-cased without spaces, dashes, underscores or accents → a field.
_ALIASES = {
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "courriel": "email",
    "adresse": "email",
    "adresseemail": "email",
    "adressemail": "email",
    "firstname": "first_name",
    "prenom": "first_name",
    "fname": "first_name",
    "lastname": "last_name",
    "nom": "last_name",
    "lname": "last_name",
    "surname": "last_name",
    "nomdefamille": "last_name",
    "name": "name",
    "fullname": "name",
    "nomcomplet": "name",
    "language": "language",
    "langue": "language",
    "locale": "language",
    "lang": "language",
    "topics": "topics",
    "themes": "topics",
    "attributes": "attributes",
    "attribs": "attributes",
    "letter": "letter",
    "lettre": "letter",
    "newsletter": "letter",
}
_MAILCHIMP = {"memberrating", "optintime", "optinip", "confirmtime", "leid", "euid"}
_BREVO = {"prenom", "firstname", "sms", "doubleoptin", "contactid", "blacklisted"}
#: The columns of dispatch's own export (`importexport.EXPORT_COLUMNS`).
_DISPATCH = {"email", "name", "language", "topics", "letter", "status"} | {
    "createdat",
    "confirmedat",
    "unsubscribedat",
}
_LANGUAGES = {
    "fr": "fr",
    "français": "fr",
    "francais": "fr",
    "french": "fr",
    "en": "en",
    "english": "en",
    "anglais": "en",
}
_SPACES = re.compile(r"[\s_\-]+")
_ACCENTS = str.maketrans("éèêëàâîïôöùûüç", "eeeeaaiioouuuc")
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class Sheet:
    """A CSV file as read: its header, its rows with their line numbers, what it looks like."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str
    format: str
    guessed: dict[str, int | None]

    def preview(self, count: int = PREVIEW_ROWS) -> list[list[str]]:
        width = len(self.header)
        return [(cells + [""] * width)[:width] for _line, cells in self.rows[:count]]


def _key(cell: str) -> str:
    return _SPACES.sub("", cell.strip().lower()).translate(_ACCENTS)


def _delimiter(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def recognise(header: list[str]) -> tuple[str, dict[str, int | None]]:
    """Which tool wrote this header, and which column is which field (None: no column)."""
    keys = [_key(cell) for cell in header]
    found: dict[str, int | None] = dict.fromkeys(FIELDS)
    for index, key in enumerate(keys):
        name = _ALIASES.get(key)
        if name is not None and found[name] is None:
            found[name] = index
    # A lone "nom" (no first name beside it) is the whole name, as the import reads it.
    if found["first_name"] is None and found["last_name"] is not None and found["name"] is None:
        found["name"], found["last_name"] = found["last_name"], None
    present = set(keys)
    if present & _MAILCHIMP or "emailaddress" in present:
        kind = "mailchimp"
    elif "EMAIL" in [cell.strip() for cell in header] and present & (_BREVO | {"nom"}):
        kind = "brevo"
    elif "attributes" in present and "email" in present:
        kind = "listmonk"
    elif "email" in present and present <= _DISPATCH:
        kind = "dispatch"
    else:
        kind = "other"
    return kind, found


def read_sheet(text: str) -> Sheet:
    """Read a whole CSV file; ValueError (said plainly) if it has no header line."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ValueError("the file is empty: a header line is needed")
    delimiter = _delimiter(first_line)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as error:
        raise ValueError(f"the header line cannot be read: {error}") from error
    rows: list[tuple[int, list[str]]] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rows.append((reader.line_num, ["\x00unreadable"]))
            continue
        if any(cell.strip() for cell in cells):
            rows.append((reader.line_num, cells))
    kind, guessed = recognise(header)
    return Sheet(header, rows, delimiter, kind, guessed)


def language_of(value: str) -> str:
    """fr or en from "fr", "fr_FR", "French", "Français"…; anything else is kept as typed
    (the import then says on its line that it is not a language dispatch writes in)."""
    text = value.strip().lower()
    if not text:
        return ""
    if text in _LANGUAGES:
        return _LANGUAGES[text]
    short = re.split(r"[-_]", text, maxsplit=1)[0]
    return short if short in ("fr", "en") else value.strip()


def _attribute_language(raw: str) -> str:
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    for key in ("language", "lang", "locale", "langue"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return ""


def rewrite(
    sheet: Sheet, mapping: Mapping[str, int | None], *, default_topics: str = ""
) -> tuple[str, list[int]]:
    """The file in the import's columns, and the original line of each of its rows (the
    rewritten file's line n + 2 is `lines[n]`). Rows whose cells could not be read stay, so
    that the import reports them on their line."""

    def cell(cells: list[str], name: str) -> str:
        index = mapping.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("email", "name", "language", "topics", "letter"))
    lines: list[int] = []
    for line, cells in sheet.rows:
        name = cell(cells, "name") or " ".join(
            part for part in (cell(cells, "first_name"), cell(cells, "last_name")) if part
        )
        language = cell(cells, "language") or _attribute_language(cell(cells, "attributes"))
        row = [
            cell(cells, "email"),
            name,
            language_of(language),
            cell(cells, "topics"),
            cell(cells, "letter"),
        ]
        if not row[3]:
            row[3] = default_topics
        # One row per line, so that line numbers carry back to the original file.
        writer.writerow([" ".join(value.split()) if "\n" in value else value for value in row])
        lines.append(line)
    return out.getvalue(), lines


def original_line(lines: list[int], rewritten_line: int) -> int:
    """The original file's line for a line of the rewritten one (0 stays 0: the whole file)."""
    index = rewritten_line - 2
    return lines[index] if 0 <= index < len(lines) else rewritten_line
