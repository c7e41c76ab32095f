"""Final message bytes: MIME structure, required headers, encoding, DKIM, header injection."""

from __future__ import annotations

import base64
import email
import re
from dataclasses import replace
from email import policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.delivery.mime import DkimKey, HeaderError, MessageFactory, format_mailbox
from dispatch.editions import compose, samples
from dispatch.editions.views import EDITION_KINDS, TRANSACTIONAL_KINDS

ALL_SAMPLES = [(kind, locale) for kind in EDITION_KINDS for locale in ("fr", "en")]
LIST_ID = "lettre.la27eregion.example"
ALWAYS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
)
BULK_ONLY = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, str], compose.CompiledEdition]:
    branding = samples.sample_branding()
    return {
        (kind, locale): compose.compile_edition(samples.sample_edition(kind, locale), branding)
        for kind, locale in ALL_SAMPLES
    }


@pytest.fixture(scope="module")
def factory() -> MessageFactory:
    return MessageFactory(samples.sample_branding(), list_id=LIST_ID)


@pytest.fixture(scope="module")
def rsa_key() -> tuple[bytes, str]:
    """A fresh DKIM key: the private PEM and the DNS TXT record publishing its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def _parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize(("kind", "locale"), ALL_SAMPLES)
def test_every_template_makes_a_message_that_parses_back(kind, locale, compiled, factory):
    message = compose.personalise(compiled[(kind, locale)], samples.sample_recipient(locale))
    out = factory.build(message, envelope_from="bounce+d12-3f9a0c1b2d4e@la27eregion.example")
    assert b"\r\n" in out.data and b"\n" not in out.data.replace(b"\r\n", b"")
    parsed = _parse(out.data)
    assert parsed.defects == []
    for name in ALWAYS:
        assert len(parsed.get_all(name, [])) == 1, name
    for name in BULK_ONLY:
        expected = 0 if kind in TRANSACTIONAL_KINDS else 1
        assert len(parsed.get_all(name, [])) == expected, name
    assert parsed["Subject"] == message.subject
    assert parsed["From"] == "La 27e Région <lettre@la27eregion.example>"
    assert parsed["To"].addresses[0].addr_spec == "camille.0@example.org"
    assert parsed["To"].addresses[0].display_name == message.to_name
    assert parsed["Reply-To"] == "contact@la27eregion.example"
    assert parsed["Content-Language"] == locale
    assert parsed["Message-ID"] == out.message_id
    assert out.message_id.endswith("@la27eregion.example>")
    # The envelope sender goes to MAIL FROM; the receiving server writes Return-Path.
    assert parsed["Return-Path"] is None
    assert out.envelope_from == "bounce+d12-3f9a0c1b2d4e@la27eregion.example"
    assert parsed["X-Dispatch-Test"] is None
    html = parsed.get_body(("html",))
    text = parsed.get_body(("plain",))
    assert html is not None and text is not None
    assert html.get_content_charset() == "utf-8"
    assert html.get_content().replace("\r\n", "\n") == message.html
    assert text.get_content().replace("\r\n", "\n") == message.text
    for part in parsed.walk():
        assert part.defects == []
    # Quoted-printable lines stay within RFC 2045's 76 characters.
    assert max(len(line) for line in out.data.split(b"\r\n")) <= 998
    body_lines = out.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines if not line.startswith(b"Content-")) <= 76
    if kind == "event":
        assert parsed.get_content_type() == "multipart/mixed"
        (ics,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
        assert ics.get_filename() in ("evenement.ics", "event.ics")
        assert b"BEGIN:VCALENDAR" in ics.get_payload(decode=True)
    else:
        assert parsed.get_content_type() == "multipart/alternative"


def test_list_unsubscribe_offers_one_click_url_and_mailto(compiled, factory):
    message = compose.personalise(compiled[("newsletter", "fr")], samples.sample_recipient("fr"))
    parsed = _parse(factory.build(message).data)
    header = str(parsed["List-Unsubscribe"])
    assert re.fullmatch(
        r"<https://www\.la27eregion\.example/unsubscribe/tok000000\.Zm9vYmFy>,\s*"
        r"<mailto:unsubscribe@la27eregion\.example\?subject=unsubscribe%20tok000000\.Zm9vYmFy>",
        header,
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == "La 27e Région <lettre.la27eregion.example>"


def test_each_copy_gets_its_own_message_id(compiled, factory):
    message = compose.personalise(compiled[("alert", "fr")], samples.sample_recipient("fr"))
    ids = {factory.build(message).message_id for _ in range(50)}
    assert len(ids) == 50


def test_test_sends_are_marked(compiled, factory):
    message = compose.personalise(compiled[("newsletter", "en")], samples.sample_recipient("en"))
    parsed = _parse(factory.build(message, test=True).data)
    assert parsed["X-Dispatch-Test"] == "yes"
    assert parsed["Subject"] == "[Test] The July newsletter"
    # The real send is not affected by the test one built before it.
    assert _parse(factory.build(message).data)["Subject"] == "The July newsletter"


def test_extra_headers_are_added_once_and_checked(compiled, factory):
    message = compose.personalise(compiled[("alert", "en")], samples.sample_recipient("en"))
    parsed = _parse(factory.build(message, extra_headers=[("X-Dispatch-Delivery", "d1-ab")]).data)
    assert parsed.get_all("X-Dispatch-Delivery") == ["d1-ab"]
    with pytest.raises(HeaderError):
        factory.build(message, extra_headers=[("X-Evil", "a\r\nBcc: victim@example.org")])
    with pytest.raises(HeaderError):
        factory.build(message, extra_headers=[("Bad Name", "x")])


@pytest.mark.parametrize(
    "field",
    ["to_email", "unsubscribe_url", "unsubscribe_mailto"],
)
def test_line_breaks_in_header_values_are_refused(field, compiled, factory):
    message = compose.personalise(compiled[("newsletter", "fr")], samples.sample_recipient("fr"))
    hostile = replace(message, **{field: "x@example.org\r\nBcc: victim@example.org"})
    with pytest.raises(HeaderError, match="line break"):
        factory.build(hostile)


def test_hostile_subject_and_name_cannot_add_headers(factory):
    edition = replace(
        samples.sample_edition("newsletter", "fr"), subject="Hello\r\nBcc: victim@example.org"
    )
    compiled = compose.compile_edition(edition, samples.sample_branding())
    assert compiled.subject == "Hello Bcc: victim@example.org"  # folded into one line
    reader = replace(samples.sample_recipient("fr"), name="Eve\r\nBcc: victim@example.org")
    parsed = _parse(factory.build(compose.personalise(compiled, reader)).data)
    assert parsed.get_all("Bcc") is None
    assert parsed["To"].addresses[0].addr_spec == "camille.0@example.org"
    with pytest.raises(HeaderError):
        factory.build(replace(compose.personalise(compiled, reader), subject="a\nBcc: x@y.z"))


def test_display_names_with_specials_and_accents_are_encoded():
    encoded = format_mailbox("Zoé Æsir-Øster", "z@example.org")
    assert encoded.isascii()
    parsed = _parse(f"To: {encoded}\r\n\r\n".encode())["To"].addresses[0]
    assert (parsed.display_name, parsed.addr_spec) == ("Zoé Æsir-Øster", "z@example.org")
    long_name = "Ève-Éloïse " * 8
    parsed = _parse(f"To: {format_mailbox(long_name, 'e@example.org')}\r\n\r\n".encode())
    assert " ".join(parsed["To"].addresses[0].display_name.split()) == long_name.strip()
    very_long = "Ã" * 60
    parsed = _parse(f"To: {format_mailbox(very_long, 'e@example.org')}\r\n\r\n".encode())
    assert parsed["To"].addresses[0].display_name.replace(" ", "") == very_long
    assert format_mailbox('Smith, "J"', "j@example.org") == '"Smith, \\"J\\"" <j@example.org>'
    assert format_mailbox("", "j@example.org") == "j@example.org"
    assert format_mailbox("A", "a@exämple.org") == "A <a@xn--exmple-cua.org>"
    with pytest.raises(HeaderError):
        format_mailbox("A", "not an address")


def test_dkim_signature_verifies_and_a_tampered_body_fails(compiled, rsa_key):
    private, record = rsa_key
    key = DkimKey(selector="dispatch", domain="la27eregion.example", private_key=private)
    signing = MessageFactory(samples.sample_branding(), list_id=LIST_ID, dkim=key)
    message = compose.personalise(compiled[("newsletter", "fr")], samples.sample_recipient("fr"))
    data = signing.build(message).data
    lookups: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        lookups.append(name)
        return record.encode() if name == b"dispatch._domainkey.la27eregion.example." else b""

    assert dkim.verify(data, dnsfunc=dns)
    assert lookups == [b"dispatch._domainkey.la27eregion.example."]
    signature = _parse(data)["DKIM-Signature"]
    signed = {h.strip().lower() for h in re.search(r"h=([^;]+)", signature).group(1).split(":")}
    assert {
        "from", "to", "subject", "date", "message-id", "list-unsubscribe",
        "list-unsubscribe-post", "mime-version", "content-type",
    } <= signed  # fmt: skip
    tampered = data.replace(b"Bilan de l'ann", b"Bilan de l'Ann", 1)
    assert tampered != data
    assert not dkim.verify(tampered, dnsfunc=dns)
    forged = data.replace(b"Subject: La lettre de juillet", b"Subject: La lettre d'ao=C3=BBt", 1)
    assert forged != data
    assert not dkim.verify(forged, dnsfunc=dns)


def test_transactional_mail_is_signed_without_list_headers(compiled, rsa_key):
    private, record = rsa_key
    key = DkimKey(selector="dispatch", domain="la27eregion.example", private_key=private)
    signing = MessageFactory(samples.sample_branding(), list_id=LIST_ID, dkim=key)
    message = compose.personalise(compiled[("confirm", "en")], samples.sample_recipient("en"))
    data = signing.build(message).data
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record.encode())
    assert "list-unsubscribe" not in _parse(data)["DKIM-Signature"].lower()
