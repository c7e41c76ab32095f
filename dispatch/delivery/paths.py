"""Choosing the mail path from settings: the SMTP relay, or the outbox folder (embedded)."""

from __future__ import annotations

from dispatch.config import Settings
from dispatch.delivery.mime import DkimKey, MessageFactory
from dispatch.delivery.transport import MailTransport, OutboxTransport, SmtpTransport
from dispatch.editions.service import branding


def mail_transport(settings: Settings) -> MailTransport:
    """A fresh transport for one batch: SMTP when `mail.transport = "smtp"`, else the outbox."""
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
            max_messages_per_connection=max(100, mail.batch_size),
        )
    return OutboxTransport(settings.mail_outbox_dir)


def dkim_key(settings: Settings) -> DkimKey | None:
    """The DKIM key when selector, domain and private key are all configured."""
    mail = settings.mail
    if not (mail.dkim_selector and mail.dkim_domain and mail.dkim_private_key):
        return None
    return DkimKey(
        selector=mail.dkim_selector,
        domain=mail.dkim_domain,
        private_key=mail.dkim_private_key.get_secret_value().encode(),
    )


def message_factory(settings: Settings) -> MessageFactory:
    """The MIME builder for bulk mail, with DKIM when configured."""
    return MessageFactory(
        branding(settings), list_id=settings.mail.list_id, dkim=dkim_key(settings)
    )
