"""Built messages need no SMTP dot-stuffing: leading dots are quoted-printable escapes."""

from __future__ import annotations

import binascii
import email
from email import policy

from hypothesis import given
from hypothesis import strategies as st

from dispatch.delivery.mime import _QP_AS_IS, MessageFactory, _qp
from dispatch.delivery.smtp import _dot_stuff
from dispatch.delivery.transport import DotSafeBytes
from dispatch.editions import compose, samples
from dispatch.editions.views import RecipientView

LINE_PIECES = st.sampled_from([".", "..", "a", "é", "=", " ", "\n", "\r\n", "x" * 40, ".x" * 20])


@given(st.lists(LINE_PIECES, max_size=40).map("".join))
def test_quoted_printable_never_starts_a_line_with_a_dot_and_decodes_back(text):
    encoded = _qp(text)
    lines = encoded.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert all(len(line) <= 76 for line in lines)
    expected = text.replace("\r\n", "\n").encode()
    assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")) == expected


def test_a_reader_whose_values_start_lines_with_dots_gets_them_intact():
    branding = samples.sample_branding()
    edition = samples.sample_edition("newsletter", "fr")
    compiled = compose.compile_edition(edition, branding)
    factory = MessageFactory(branding, list_id="lettre.la27eregion.example")
    reader = RecipientView(email="point@example.org", name=".Point .final", locale="fr")
    data = factory.build(compose.personalise(compiled, reader)).data

    assert type(data) is DotSafeBytes
    assert b"\r\n." not in data and not data.startswith(b".")
    assert _dot_stuff(data) == data + b".\r\n"
    parsed = email.message_from_bytes(data, policy=policy.default)
    body = parsed.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert ".Point .final" in text


@given(st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=90))
def test_values_encoded_as_they_are_are_exactly_what_quoted_printable_leaves_alone(text):
    encoded = binascii.b2a_qp(text.encode(), quotetabs=False, istext=True, header=False)
    if _QP_AS_IS.fullmatch(text):
        assert encoded == text.encode() and len(text) <= 75
        assert _qp(text) == text.encode() + b"=\r\n"
