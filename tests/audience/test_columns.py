"""Reading other tools' exports as the import's columns."""

from __future__ import annotations

import csv
import io

from dispatch.audience import columns


def test_headers_of_each_tool_are_recognised() -> None:
    mailchimp = ["Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME"]
    kind, found = columns.recognise(mailchimp)
    assert kind == "mailchimp"
    assert (found["email"], found["first_name"], found["last_name"]) == (0, 1, 2)
    kind, found = columns.recognise(["EMAIL", "FIRSTNAME", "LASTNAME", "SMS"])
    assert kind == "brevo" and (found["first_name"], found["last_name"]) == (1, 2)
    kind, found = columns.recognise(["uuid", "email", "name", "attributes", "status"])
    assert kind == "listmonk" and (found["name"], found["attributes"]) == (2, 3)
    # A lone "nom" is the whole name, as dispatch's own import reads it.
    kind, found = columns.recognise(["Courriel", "Nom", "Langue"])
    assert (found["email"], found["name"], found["last_name"], found["language"]) == (0, 1, None, 2)


def test_rewrite_keeps_original_lines_and_reads_languages() -> None:
    text = (
        "EMAIL;PRENOM;NOM;LANGUE\n"
        'a@example.org;Ana;"Le\nGall";French\n'  # a cell over two lines
        "\n"
        "b@example.org;Bo;;en_GB\n"
    )
    sheet = columns.read_sheet(text)
    assert sheet.format == "brevo" and sheet.delimiter == ";"
    rewritten, lines = columns.rewrite(sheet, sheet.guessed, default_topics="blog:weekly")
    rows = list(csv.reader(io.StringIO(rewritten)))
    assert rows[1] == ["a@example.org", "Ana Le Gall", "fr", "blog:weekly", ""]
    assert rows[2] == ["b@example.org", "Bo", "en", "blog:weekly", ""]
    assert lines == [3, 5]
    assert columns.original_line(lines, 3) == 5 and columns.original_line(lines, 0) == 0
    assert columns.language_of("Deutsch") == "Deutsch"  # left for the import to refuse
