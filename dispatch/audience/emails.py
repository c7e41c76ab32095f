"""The emails a person asks for: the confirmation (double opt-in) and the preferences link.

Plain multipart/alternative messages in the subscriber's language, built here and handed to
the mail transport chosen by settings (outbox folder or SMTP). Sending is idempotent: the
request stamps `*_requested_at`, sending stamps `*_sent_at`, and a second run sends nothing.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

from sqlalchemy.orm import Session

from dispatch.audience import tokens
from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery.transport import (
    MailTransport,
    OutboxTransport,
    SendOutcome,
    SmtpTransport,
)
from dispatch.i18n import gettext

Kind = Literal["confirm", "link"]
__all__ = ["SendOutcome", "build_message", "send_confirmation", "send_preferences_link"]


def transport_for(settings: Settings) -> MailTransport:
    """The mail path settings choose: the outbox folder (embedded) or the SMTP relay."""
    mail = settings.mail
    if mail.transport == "smtp":
        password = mail.smtp_password.get_secret_value() if mail.smtp_password else None
        return SmtpTransport(
            mail.smtp_host,
            mail.smtp_port,
            security=mail.smtp_security,
            username=mail.smtp_username or None,
            password=password if mail.smtp_username else None,
            timeout=mail.smtp_timeout,
        )
    return OutboxTransport(settings.mail_outbox_dir)


def envelope_from(settings: Settings) -> str:
    return f"{settings.mail.bounce_local_part}@{settings.bounce_domain}"


def _texts(settings: Settings, kind: Kind, locale: str) -> dict[str, str]:
    org = settings.branding.org_name

    def _(msgid: str) -> str:
        return gettext(locale, msgid)

    if kind == "confirm":
        return {
            "subject": _("Please confirm your subscription to %(org)s") % {"org": org},
            "heading": _("Confirm your subscription"),
            "lead": _("Someone, hopefully you, asked to receive news from %(org)s at this address.")
            % {"org": org},
            "button": _("Confirm my subscription"),
            "ignore": _(
                "If you did not ask for it, ignore this email: you will not hear from us again."
            ),
            "why": _(
                "You receive this email because your address was entered on the %(org)s "
                "subscription form."
            )
            % {"org": org},
        }
    return {
        "subject": _("Manage your subscription to %(org)s") % {"org": org},
        "heading": _("Your preferences link"),
        "lead": _(
            "You asked for a link to manage your subscription. It is personal: please do not "
            "forward this email."
        ),
        "button": _("Manage my preferences"),
        "ignore": _("If you did not ask for it, you can ignore this email."),
        "why": _(
            "You receive this email because someone asked for a preferences link for this "
            "address on the %(org)s website."
        )
        % {"org": org},
    }


def build_message(
    settings: Settings,
    *,
    kind: Kind,
    to: str,
    name: str,
    locale: str,
    url: str,
    now: datetime | None = None,
) -> bytes:
    """A complete RFC 5322 message (UTF-8, text and HTML parts) with one link in it."""
    texts = _texts(settings, kind, locale)
    hello = (
        gettext(locale, "Hello %(name)s,") % {"name": name} if name else gettext(locale, "Hello,")
    )
    copy_hint = gettext(locale, "If the button does not work, copy this address into your browser:")
    text = "\n\n".join(
        [hello, texts["lead"], f"{texts['button']}:\n{url}", texts["ignore"], "-- ", texts["why"]]
    )
    colour = settings.branding.primary_colour
    e = html.escape
    body_html = f"""<!doctype html>
<html lang="{e(locale)}"><head><meta charset="utf-8"><title>{e(texts["subject"])}</title></head>
<body style="margin:0;padding:24px;background:#f4f4f4;font-family:Arial,Helvetica,sans-serif;
color:#1f1f1f;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;padding:24px">
<p style="font-weight:bold;margin:0 0 16px">{e(settings.branding.org_name)}</p>
<h1 style="font-size:22px;margin:0 0 16px">{e(texts["heading"])}</h1>
<p>{e(hello)}</p>
<p>{e(texts["lead"])}</p>
<p style="margin:24px 0"><a href="{e(url)}" style="background:{e(colour)};color:#ffffff;
padding:12px 20px;text-decoration:none;display:inline-block;font-weight:bold">
{e(texts["button"])}</a></p>
<p style="font-size:14px">{e(copy_hint)}<br><a href="{e(url)}">{e(url)}</a></p>
<p style="font-size:14px">{e(texts["ignore"])}</p>
<p style="font-size:12px;color:#555555">{e(texts["why"])}<br>
{e(settings.branding.postal_address)}</p>
</div></body></html>
"""
    message = EmailMessage()
    message["Subject"] = texts["subject"]
    message["From"] = Address(settings.mail.from_name, addr_spec=settings.mail.from_address)
    message["To"] = Address(name, addr_spec=to) if name else to
    if settings.mail.reply_to:
        message["Reply-To"] = settings.mail.reply_to
    message["Date"] = format_datetime(now or utcnow())
    message["Message-ID"] = make_msgid(domain=settings.mail.from_address.rpartition("@")[2])
    # A transactional message the person asked for: autoresponders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    message.add_alternative(body_html, subtype="html", charset="utf-8")
    # After the body: setting content drops Content-* headers set before it.
    message["Content-Language"] = locale
    return message.as_bytes()


def send_confirmation(
    session: Session, settings: Settings, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Send the confirm link if one was requested since the last sending; None if not due."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != "pending":
        return None
    if not _due(subscriber.confirm_requested_at, subscriber.confirmation_sent_at):
        return None
    url = tokens.confirm_url(settings, subscriber.id, subscriber.confirm_nonce)
    outcome = _send(settings, subscriber, "confirm", url, transport)
    if outcome.ok:
        subscriber.confirmation_sent_at = utcnow()
        session.flush()
    return outcome


def send_preferences_link(
    session: Session, settings: Settings, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Send the preferences link if one was requested since the last sending."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != "active":
        return None
    if not _due(subscriber.link_requested_at, subscriber.link_sent_at):
        return None
    if is_suppressed(session, settings, subscriber.email):
        return None
    url = tokens.preferences_url(settings, subscriber.id)
    outcome = _send(settings, subscriber, "link", url, transport)
    if outcome.ok:
        subscriber.link_sent_at = utcnow()
        session.flush()
    return outcome


def _due(requested: datetime | None, sent: datetime | None) -> bool:
    return requested is not None and (sent is None or sent < requested)


def _send(
    settings: Settings, subscriber: Subscriber, kind: Kind, url: str, transport: MailTransport
) -> SendOutcome:
    message = build_message(
        settings,
        kind=kind,
        to=subscriber.email,
        name=subscriber.name,
        locale=subscriber.locale,
        url=url,
    )
    with transport:
        return transport.send(envelope_from(settings), subscriber.email, message)
