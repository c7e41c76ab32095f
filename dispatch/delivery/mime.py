"""Turning a personalised email into the bytes sent: MIME structure, headers, DKIM.

A `MessageFactory` is built once per edition. The parts every copy shares are prepared
once: fixed headers, the MIME skeleton and the quoted-printable encoding of the static HTML
and text chunks. Per recipient only the slot values are encoded and the few headers that
differ (To, Date, Message-ID, List-Unsubscribe) are written; the message is assembled as
bytes, with no `email.message` object, and parses back cleanly with Python's `email`.

Quoted-printable lets chunks be encoded separately: each encoded chunk ends with a soft
line break, so the decoder joins them into exactly the original text. The multipart
boundary starts with "=_", which quoted-printable output can never contain.

Header values are checked: a CR, LF or other control character in an address, URL, subject
or extra header raises `HeaderError` (a display name is cosmetic: its control characters
become spaces). Non-ASCII text is RFC 2047 encoded; the one exception is a recipient whose
local part is not ASCII, written as UTF-8 (RFC 6532) for a relay that offers SMTPUTF8.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
import uuid
from base64 import encodebytes
from binascii import b2a_base64
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate

from dispatch.config import Settings
from dispatch.delivery.dkim import DkimKey, DkimKeyError, DkimSigner
from dispatch.delivery.transport import DotSafeBytes
from dispatch.editions.compose import Attachment, RenderedMessage
from dispatch.editions.service import branding
from dispatch.editions.views import Branding

CRLF = b"\r\n"
#: Headers DKIM signs when present (RFC 8058 asks for the List-Unsubscribe pair).
DKIM_HEADERS: tuple[str, ...] = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
)
TEST_HEADER = "X-Dispatch-Test"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ":" (RFC 5322 ftext)
_ATOM_SAFE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*")
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_ADDRESS = re.compile(r"[^\s@<>\"(),;:\\\[\]]+@[^\s@<>\"(),;:\\\[\]]+")


class HeaderError(ValueError):
    """A header value that would break or forge the message (e.g. a line break in it)."""


__all__ = ["DkimKey", "DkimKeyError", "HeaderError", "MessageFactory", "OutgoingMessage"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message ready for SMTP: its bytes, who it goes to, the envelope sender, and the
    content items it shows (written to the reader's receipts once it is sent)."""

    message_id: str
    recipient: str
    envelope_from: str
    data: bytes
    item_ids: tuple[int, ...] = ()


# --- Header encoding -------------------------------------------------------------------


def check_header_value(value: str, what: str) -> str:
    """`value` unchanged, or `HeaderError` if it contains a line break or control character."""
    if _CONTROL.search(value):
        raise HeaderError(f"{what} contains a line break or control character: {value!r}")
    return value


def _address(value: str, what: str, *, utf8: bool = False) -> str:
    """An ASCII addr-spec; an internationalised domain is written in IDNA form. With `utf8`
    (a recipient), a non-ASCII local part is kept as UTF-8 (RFC 6532): such a message
    needs a relay that offers SMTPUTF8, which the SMTP transport checks."""
    check_header_value(value, what)
    value = value.strip()
    if not _ADDRESS.fullmatch(value):
        raise HeaderError(f"{what} is not an email address: {value!r}")
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        if utf8:
            return value
        raise HeaderError(f"{what} has a non-ASCII local part, which needs SMTPUTF8: {value!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise HeaderError(f"{what} has an invalid domain: {value!r}") from error
    return f"{local}@{domain}"


def _phrase(name: str) -> str:
    """A display name as an atom sequence, a quoted string or an RFC 2047 encoded word."""
    name = " ".join(_CONTROL.sub(" ", name).split())
    if not name:
        return ""
    if name.isascii():
        if _ATOM_SAFE.fullmatch(name) and not _PHRASE_SPECIALS.search(name):
            return name
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # Encoded words of at most 45 bytes stay within RFC 2047's 75 characters. Longer names
    # are cut after a space, kept inside the word: readers ignore the folding whitespace
    # between encoded words (Python's own parser keeps it, which only doubles a space).
    words: list[bytes] = []
    current = b""
    for token in re.findall(r"\S+\s*|\s+", name):
        raw = token.encode("utf-8")
        if current and len(current) + len(raw) > 45:
            words.append(current)
            current = b""
        while len(raw) > 45:  # one very long word: cut between characters
            cut = 45
            while raw[cut] & 0xC0 == 0x80:  # not inside a UTF-8 sequence
                cut -= 1
            words.append(raw[:cut])
            raw = raw[cut:]
        current += raw
    words.append(current)
    return "\r\n ".join(
        "=?utf-8?b?" + b2a_base64(word, newline=False).decode("ascii") + "?=" for word in words
    )


def envelope_address(address: str) -> str:
    """A recipient as the SMTP envelope and the To header carry it: IDNA domain when the
    local part is ASCII (no SMTPUTF8 needed), UTF-8 otherwise."""
    return _address(address, "recipient", utf8=True)


def format_mailbox(name: str, address: str, what: str = "address", *, utf8: bool = False) -> str:
    """``Name <address>`` for a header, safely encoded; just the address when unnamed."""
    addr = _address(address, what, utf8=utf8)
    phrase = _phrase(name)
    return f"{phrase} <{addr}>" if phrase else addr


def _unstructured(name: str, value: str) -> str:
    """A text header (Subject) folded and RFC 2047 encoded when not plain ASCII."""
    check_header_value(value, name)
    if value.isascii() and len(value) + len(name) + 2 <= 78:
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


_last_date: tuple[int, str] = (-1, "")


def _date_header(date: float | None) -> str:
    """The Date header: for "now", formatted once per second rather than once per copy."""
    global _last_date
    if date is not None:
        return formatdate(date, usegmt=True)
    now = int(time.time())
    second, text = _last_date
    if second != now:
        text = formatdate(now, usegmt=True)
        _last_date = (now, text)
    return text


def make_message_id(domain: str) -> str:
    """A new, globally unique Message-ID on `domain`, angle brackets included."""
    return f"<{uuid.uuid4().hex}.{int(time.time())}@{domain}>"


# --- Quoted-printable ------------------------------------------------------------------


def _qp(text: str) -> bytes:
    """`text` quoted-printable encoded, CRLF line ends, ending with a soft line break.

    Encoded pieces can be concatenated: each ends with "=\\r\\n", which decodes to nothing.
    """
    if not text:
        return b""
    if _QP_AS_IS.fullmatch(text):
        # A short value that encodes to itself (most names and links): one line, as is.
        return text.encode("ascii") + b"=\r\n"
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    lines = encoded.split(b"\n")
    last = lines[-1]
    if len(last) > 75:  # room for the trailing "=" within the 76-character limit
        cut = len(last) - 3 if last[-3:-2] == b"=" else len(last) - 1
        lines[-1:] = [last[:cut] + b"=", last[cut:]]
    if lines[-1]:
        lines[-1] += b"="
        lines.append(b"")
    if any(line.startswith(b".") for line in lines):
        lines = _without_leading_dots(lines)
    return CRLF.join(lines)


def _without_leading_dots(lines: list[bytes]) -> list[bytes]:
    """Quoted-printable lines with a leading dot written ``=2E``.

    No line of a built message then starts with a dot, so it needs no SMTP dot-stuffing
    (RFC 5321 §4.5.2) and goes out as built (`DotSafeBytes`). A line pushed past 76
    characters by the escape is cut with a soft line break, never inside an escape.
    """
    out = []
    for line in lines:
        while line.startswith(b"."):
            line = b"=2E" + line[1:]
            if len(line) <= 76:
                break
            cut = 75  # the soft line break's "=" makes 76
            if line[cut - 1 : cut] == b"=":
                cut -= 1
            elif line[cut - 2 : cut - 1] == b"=":
                cut -= 2
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return out


# Printable ASCII but "=", not starting with a dot nor ending with a space, one line short
# enough for its soft line break: what quoted-printable leaves unchanged.
_QP_AS_IS = re.compile(r"(?![.])[ !-<>-~]{0,74}[!-<>-~]")

_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_AT_EOL = re.compile(rb"[ \t]+\r\n")
_WSP_RUN_TEXT = re.compile(r"[ \t]+")


def _relaxed_body(piece: bytes) -> bytes:
    """DKIM "relaxed" body canonicalisation of a piece that ends at a line end.

    The rules are line-local, so pieces cut at line ends canonicalise separately; only the
    last piece of a body could carry trailing empty lines, and ours never does.
    """
    return _WSP_RUN.sub(b" ", _WSP_AT_EOL.sub(b"\r\n", piece))


@dataclass(frozen=True, slots=True)
class _EncodedChunks:
    static: tuple[bytes, ...]
    canonical: tuple[bytes, ...]  # for the DKIM body hash


def _encode_static(static: tuple[str, ...]) -> _EncodedChunks:
    encoded = tuple(_qp(chunk) for chunk in static)
    return _EncodedChunks(encoded, tuple(_relaxed_body(chunk) for chunk in encoded))


# --- The factory -----------------------------------------------------------------------


class MessageFactory:
    """Builds the bytes of each copy of one edition (one subject, one set of attachments).

    `list_id` is the List-Id identifier (e.g. ``newsletter.la27eregion.fr``).
    `message_id_domain` defaults to the From address's domain; `unsubscribe_mailto` is the
    default ``mailto:`` for List-Unsubscribe when a recipient has none of their own.
    Thread-safe once built: per-edition caches are filled idempotently.
    """

    def __init__(
        self,
        branding: Branding,
        *,
        list_id: str,
        dkim: DkimKey | Sequence[DkimKey] | None = None,
        message_id_domain: str | None = None,
        unsubscribe_mailto: str = "",
    ) -> None:
        self.branding = branding
        self.dkim = dkim
        self.from_header = format_mailbox(branding.sender_name, branding.from_address, "From")
        self.from_address = _address(branding.from_address, "From")
        self.reply_to = _address(branding.reply_to, "Reply-To") if branding.reply_to else ""
        domain = message_id_domain or self.from_address.rpartition("@")[2]
        self.message_id_domain = check_header_value(domain, "Message-ID domain")
        list_id = check_header_value(list_id.strip().strip("<>"), "List-Id")
        if not list_id or not list_id.isascii() or " " in list_id:
            raise HeaderError(f"List-Id must be a dotted ASCII name, not {list_id!r}")
        name = _phrase(branding.org_name)
        self.list_id = f"{name} <{list_id}>" if name else f"<{list_id}>"
        self.unsubscribe_mailto = (
            check_header_value(unsubscribe_mailto, "unsubscribe mailto")
            if unsubscribe_mailto
            else ""
        )
        self._boundary = "=_dispatch_" + secrets.token_hex(12)
        self._encoded: dict[int, tuple[tuple[str, ...], _EncodedChunks]] = {}
        self._skeletons: dict[tuple[str, str, tuple[Attachment, ...], bool], _Skeleton] = {}
        keys = [dkim] if isinstance(dkim, DkimKey) else list(dkim or ())
        self._signer = DkimSigner(keys, DKIM_HEADERS) if keys else None

    # Static chunks are shared by every copy of a variant: encode each tuple once.
    def _encoded_for(self, static: tuple[str, ...]) -> _EncodedChunks:
        found = self._encoded.get(id(static))
        if found is not None and found[0] is static:
            return found[1]
        encoded = _encode_static(static)
        self._encoded[id(static)] = (static, encoded)  # keeps `static` alive: ids stay unique
        return encoded

    def _skeleton(self, message: RenderedMessage, test: bool) -> _Skeleton:
        key = (message.subject, message.locale, message.attachments, test)
        found = self._skeletons.get(key)
        if found is None:
            found = _Skeleton.build(self, message, test)
            self._skeletons[key] = found
        return found

    def build(
        self,
        message: RenderedMessage,
        *,
        message_id: str | None = None,
        envelope_from: str | None = None,
        date: float | None = None,
        test: bool = False,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> OutgoingMessage:
        """The final bytes of `message` (CRLF line ends), DKIM-signed when a key is set.

        `envelope_from` (a VERP address) is the SMTP MAIL FROM; the receiving server writes
        it as Return-Path (RFC 5321 §4.4), so the message itself does not carry one;
        `test` marks the message (``X-Dispatch-Test: yes``, "[Test]" subject prefix);
        `extra_headers` are added as given (e.g. ``X-Dispatch-Delivery``), after checking.
        """
        skeleton = self._skeleton(message, test)
        to = format_mailbox(message.to_name, message.to_email, "To", utf8=True)
        message_id = message_id or make_message_id(self.message_id_domain)
        check_header_value(message_id, "Message-ID")
        sender = _address(envelope_from, "envelope sender") if envelope_from else ""
        head: list[tuple[str, str]] = []
        head.append(("Date", _date_header(date)))
        head.append(("To", to))
        head.append(("Message-ID", message_id))
        if message.bulk:
            links = []
            if message.unsubscribe_url:
                url = check_header_value(message.unsubscribe_url, "unsubscribe URL")
                links.append(f"<{url}>")
            mailto = message.unsubscribe_mailto or self.unsubscribe_mailto
            if mailto:
                links.append(f"<{check_header_value(mailto, 'unsubscribe mailto')}>")
            if links:
                head.append(("List-Unsubscribe", ",\r\n ".join(links)))
                if message.unsubscribe_url:
                    head.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        for name, value in extra_headers:
            if not _HEADER_NAME.fullmatch(name):
                raise HeaderError(f"{name!r} is not a valid header name")
            head.append((name, check_header_value(value, name)))
        html = self._encoded_for(message.html_static)
        text = self._encoded_for(message.text_static)
        signed = self._signer is not None
        pieces = [skeleton.before_text]
        canonical = [skeleton.canonical[0]]  # the DKIM body, only filled in when signing
        for encoded, values, after, after_canonical in (
            (text, message.text_values, skeleton.before_html, skeleton.canonical[1]),
            (html, message.html_values, skeleton.after_html, skeleton.canonical[2]),
        ):
            pieces.append(encoded.static[0])
            canonical.append(encoded.canonical[0])
            for value, chunk, chunk_canonical in zip(
                values, encoded.static[1:], encoded.canonical[1:], strict=True
            ):
                value_encoded = _qp(value)
                pieces += (value_encoded, chunk)
                if signed:
                    canonical += (_relaxed_body(value_encoded), chunk_canonical)
            pieces.append(after)
            canonical.append(after_canonical)
        head += skeleton.header_fields
        header_block = "".join(f"{name}: {value}\r\n" for name, value in head)
        if self._signer is not None:
            header_block = self._signer.sign(head, canonical) + header_block
        try:
            head_bytes = header_block.encode("ascii")
        except UnicodeEncodeError:  # a UTF-8 To address (RFC 6532), for an SMTPUTF8 relay
            head_bytes = header_block.encode()
        data = head_bytes + b"\r\n" + b"".join(pieces)
        if not any(name.startswith(".") for name, _ in extra_headers):
            # Header lines start with a name or folding white space, the MIME frame with
            # "--" or a field name, bodies are quoted-printable without leading dots, and
            # attachments are base64: nothing in `data` needs dot-stuffing.
            data = DotSafeBytes(data)
        return OutgoingMessage(
            message_id=message_id,
            recipient=envelope_address(message.to_email),
            envelope_from=sender or self.from_address,
            data=data,
            item_ids=message.item_ids,
        )


@dataclass(frozen=True, slots=True)
class _Skeleton:
    """Everything a copy shares: fixed headers and the MIME frame around the two bodies."""

    header_fields: tuple[tuple[str, str], ...]
    before_text: bytes
    before_html: bytes
    after_html: bytes
    canonical: tuple[bytes, bytes, bytes]  # the three frame pieces, DKIM-canonicalised

    @classmethod
    def build(cls, factory: MessageFactory, message: RenderedMessage, test: bool) -> _Skeleton:
        boundary = factory._boundary
        subject = f"[Test] {message.subject}" if test else message.subject
        locale = check_header_value(message.locale, "Content-Language")
        fields = [
            ("From", factory.from_header),
            ("Subject", _unstructured("Subject", subject)),
        ]
        if factory.reply_to:
            fields.append(("Reply-To", factory.reply_to))
        if message.bulk:
            fields.append(("List-Id", factory.list_id))
        if test:
            fields.append((TEST_HEADER, "yes"))
        fields.append(("Content-Language", locale))
        fields.append(("MIME-Version", "1.0"))
        alternative = boundary + "_alt"
        if message.attachments:
            fields.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
        else:
            fields.append(("Content-Type", f'multipart/alternative; boundary="{alternative}"'))

        def part_header(content_type: str) -> str:
            return (
                f"Content-Type: {content_type}\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            )

        before_text = ""
        if message.attachments:
            before_text += (
                f"--{boundary}\r\n"
                f'Content-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'
            )
        before_text += f"--{alternative}\r\n" + part_header('text/plain; charset="utf-8"')
        before_html = f"\r\n--{alternative}\r\n" + part_header('text/html; charset="utf-8"')
        after_html = f"\r\n--{alternative}--\r\n"
        for attachment in message.attachments:
            filename = check_header_value(attachment.filename, "attachment name")
            if not filename.isascii() or '"' in filename:
                raise HeaderError(f"attachment name {filename!r} must be plain ASCII")
            content_type = check_header_value(attachment.content_type, "attachment type")
            encoded = encodebytes(attachment.data).replace(b"\n", b"\r\n").decode("ascii")
            after_html += (
                f"\r\n--{boundary}\r\n"
                f'Content-Type: {content_type}; name="{filename}"\r\n'
                f'Content-Disposition: attachment; filename="{filename}"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n"
                f"{encoded}"
            )
        if message.attachments:
            after_html += f"\r\n--{boundary}--\r\n"
        frame = (
            before_text.encode("ascii"),
            before_html.encode("ascii"),
            after_html.encode("ascii"),
        )
        return cls(
            header_fields=tuple(fields),
            before_text=frame[0],
            before_html=frame[1],
            after_html=frame[2],
            canonical=(
                _relaxed_body(frame[0]),
                _relaxed_body(frame[1]),
                _relaxed_body(frame[2]),
            ),
        )


def dkim_keys(settings: Settings) -> tuple[DkimKey, ...]:
    """The configured DKIM keys: the RSA one, then the Ed25519 one, each when its selector,
    the domain and its private key are all set."""
    mail = settings.mail
    keys = []
    for selector, private in (
        (mail.dkim_selector, mail.dkim_private_key),
        (mail.dkim_ed25519_selector, mail.dkim_ed25519_private_key),
    ):
        if selector and mail.dkim_domain and private is not None:
            keys.append(
                DkimKey(
                    selector=selector,
                    domain=mail.dkim_domain,
                    private_key=private.get_secret_value().encode(),
                )
            )
    return tuple(keys)


def message_factory(settings: Settings) -> MessageFactory:
    """The MIME builder for one edition's copies (or one kind of email), with DKIM when set."""
    return MessageFactory(
        branding(settings), list_id=settings.mail.list_id, dkim=dkim_keys(settings)
    )
