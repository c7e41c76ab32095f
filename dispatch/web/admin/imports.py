"""Importing subscribers from a CSV file, in three steps: upload, check the preview and the
column mapping (Mailchimp, Brevo and listmonk exports are recognised), then import.

Between the steps the uploaded file waits in the data folder (`imports/`, named after the
staff member and a random token) and is deleted once imported; files left behind are
deleted after a day. The import itself is the service's (`importexport.import_subscribers`):
every valid row or nothing, existing and suppressed addresses skipped, the consent source
recorded as an import.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from dispatch.audience import columns, importexport
from dispatch.audience.models import FREQUENCIES
from dispatch.config import Settings
from dispatch.staff.roles import Permission
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import render, staff_locale
from dispatch.web.admin.subscribers import FREQUENCY_LABELS, topic_choices
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of

router = APIRouter()
MAX_BYTES = importexport.MAX_FILE_BYTES
KEEP_SECONDS = 24 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
FIELD_LABELS = {
    "email": "Email address",
    "first_name": "First name",
    "last_name": "Last name",
    "name": "Full name",
    "language": "Language",
    "topics": "Topics",
    "letter": "The letter (yes or no; empty: yes)",
    "attributes": "Attributes (JSON, listmonk)",
}
FORMAT_LABELS = {
    "mailchimp": "a Mailchimp export",
    "brevo": "a Brevo export",
    "listmonk": "a listmonk export",
    "dispatch": "a dispatch export",
    "other": "a file of its own kind",
}


def run_import(
    session: Session,
    settings: Settings,
    text: str,
    *,
    consent_source: str,
    welcome: bool,
    dry_run: bool,
) -> importexport.ImportReport:
    """The one call of the import service from these pages: nobody is welcomed unless
    staff ticked the box."""
    return importexport.import_subscribers(
        session, settings, text, consent_source=consent_source, dry_run=dry_run, welcome=welcome
    )


def _folder(settings: Settings) -> Path:
    folder = settings.app.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(settings: Settings, staff: Staff, token: str) -> Path | None:
    if not _TOKEN.fullmatch(token):
        return None
    path = _folder(settings) / f"{staff.user.id}-{token}.csv"
    return path if path.is_file() else None


def _sweep(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Windows save "CSV" in Windows-1252 unless told otherwise.
        return data.decode("cp1252", errors="replace")


def _upload_page(
    request: Request, staff: Staff, errors: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        "admin/import.html",
        staff=staff,
        title="Import subscribers",
        status_code=400 if errors else 200,
        errors=errors or {},
        max_mb=MAX_BYTES // 1_000_000,
    )


@router.get("/subscribers/import", response_class=HTMLResponse)
def upload_form(request: Request, staff: Staff = page(Permission.SUBSCRIBERS)) -> HTMLResponse:
    return _upload_page(request, staff)


@router.post("/subscribers/import", response_model=None)
async def upload(request: Request, staff: Staff = form(Permission.SUBSCRIBERS)) -> Response:
    """Keep the file for the next step and show its preview."""
    locale = staff.user.language
    settings = settings_of(request)
    declared = request.headers.get("content-length", "")
    too_big = translate(locale, "The file is larger than %(mb)s MB: split it into several files.")
    if declared.isdigit() and int(declared) > MAX_BYTES + 100_000:
        return _upload_page(request, staff, {"file": too_big % {"mb": MAX_BYTES // 1_000_000}})
    posted = (await request.form()).get("file")
    data = await posted.read(MAX_BYTES + 1) if isinstance(posted, UploadFile) else b""
    if len(data) > MAX_BYTES:
        return _upload_page(request, staff, {"file": too_big % {"mb": MAX_BYTES // 1_000_000}})
    if not data.strip():
        return _upload_page(request, staff, {"file": translate(locale, "Choose a CSV file.")})
    try:
        columns.read_sheet(_decode(data))
    except ValueError as error:
        return _upload_page(request, staff, {"file": str(error)})
    folder = _folder(settings)
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{staff.user.id}-{token}.csv").write_bytes(data)
    return RedirectResponse(f"/admin/subscribers/import/{token}", status_code=303)


def _mapping_from(fields: dict[str, str], width: int) -> dict[str, int | None]:
    mapping: dict[str, int | None] = {}
    for name in columns.FIELDS:
        value = fields.get(f"map-{name}", "")
        mapping[name] = int(value) if value.isdigit() and int(value) < width else None
    return mapping


def _preview_page(
    request: Request,
    staff: Staff,
    session: Session,
    token: str,
    sheet: columns.Sheet,
    *,
    mapping: dict[str, int | None],
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    report: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/import-preview.html",
        staff=staff,
        title="Check the import",
        status_code=status_code,
        token=token,
        header=sheet.header,
        preview=sheet.preview(),
        row_count=len(sheet.rows),
        format_label=FORMAT_LABELS[sheet.format],
        semicolons=sheet.delimiter == ";",
        fields=[(name, FIELD_LABELS[name]) for name in columns.FIELDS],
        mapping=mapping,
        values=values,
        topics=topic_choices(session, staff.user.language),
        frequencies=FREQUENCY_LABELS,
        errors=errors or {},
        report=report,
    )


@router.get("/subscribers/import/{token}", response_model=None)
def preview(
    token: str,
    request: Request,
    staff: Staff = page(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> Response:
    path = _path(settings_of(request), staff, token)
    if path is None:
        return RedirectResponse("/admin/subscribers/import", status_code=303)
    sheet = columns.read_sheet(_decode(path.read_bytes()))
    values = {"consent_source": "", "welcome": False, "default_frequency": "weekly"}
    return _preview_page(
        request, staff, session, token, sheet, mapping=sheet.guessed, values=values
    )


@router.post("/subscribers/import/{token}", response_model=None)
def check_or_import(
    token: str,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """`action=check`: a dry run that lists what would happen; `action=import`: do it."""
    settings = settings_of(request)
    locale = staff.user.language
    path = _path(settings, staff, token)
    if path is None:
        return RedirectResponse("/admin/subscribers/import", status_code=303)
    sheet = columns.read_sheet(_decode(path.read_bytes()))
    mapping = _mapping_from(fields, len(sheet.header))
    topics = topic_choices(session, locale)
    frequency = fields.get("default_frequency", "weekly")
    frequency = frequency if frequency in FREQUENCIES else "weekly"
    chosen = [t["slug"] for t in topics if fields.get(f"default-{t['slug']}") == "on"]
    values: dict[str, Any] = {
        "consent_source": fields.get("consent_source", "").strip()[:150],
        "welcome": fields.get("welcome") == "on",
        "default_frequency": frequency,
        "default_topics": chosen,
    }
    errors: dict[str, str] = {}
    if mapping["email"] is None:
        errors["map-email"] = translate(locale, "Choose the column that holds the addresses.")
    if not values["consent_source"]:
        errors["consent_source"] = translate(
            locale, "Say where these people agreed to receive it (a form, a sign-up sheet…)."
        )
    dry_run = fields.get("action") != "import"
    if errors:
        return _preview_page(
            request, staff, session, token, sheet, mapping=mapping, values=values,
            errors=errors, status_code=400,
        )  # fmt: skip
    text, lines = columns.rewrite(
        sheet, mapping, default_topics=";".join(f"{slug}:{frequency}" for slug in chosen)
    )
    with session.begin_nested():
        report = run_import(
            session,
            settings,
            text,
            consent_source=values["consent_source"],
            welcome=values["welcome"],
            dry_run=dry_run,
        )
    if report.ok and not dry_run:
        path.unlink(missing_ok=True)
        query = f"done=imported&added={len(report.added)}&skipped={len(report.skipped)}"
        return RedirectResponse(f"/admin/subscribers?{query}", status_code=303)

    locale = staff_locale(request, staff)

    def said(note: importexport.RowNote) -> str:
        if note.words is None:
            return note.reason
        phrase, values = note.words
        return translate(locale, phrase) % dict(values)

    def notes(found: list[importexport.RowNote]) -> list[dict[str, Any]]:
        return [
            {"line": columns.original_line(lines, n.line), "email": n.email, "reason": said(n)}
            for n in found
        ]

    summary = {
        "checked": dry_run,
        "added": len(report.added),
        "skipped": notes(report.skipped),
        "errors": notes(report.errors),
    }
    return _preview_page(
        request, staff, session, token, sheet, mapping=mapping, values=values,
        report=summary, status_code=200 if report.ok else 400,
    )  # fmt: skip
