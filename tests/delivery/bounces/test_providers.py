"""What a provider gets to echo back: the header each one returns in its webhooks."""

from __future__ import annotations

import email
import json
from email import policy

import pytest

from dispatch.config import AppSettings, MailSettings, build_settings
from dispatch.delivery import verp
from dispatch.delivery.bounces import providers
from dispatch.delivery.claims import Recipient
from dispatch.delivery.sending import build_message
from dispatch.editions import compose, samples


@pytest.mark.parametrize(
    ("provider", "header", "carries"),
    [
        ("postmark", "X-PM-Metadata-dispatch_delivery", lambda v: v),
        ("mailgun", "X-Mailgun-Variables", lambda v: json.loads(v)["dispatch_delivery"]),
        ("sendgrid", "X-SMTPAPI", lambda v: json.loads(v)["unique_args"]["dispatch_delivery"]),
        ("brevo", "X-Mailin-custom", lambda v: v),
    ],
)
def test_each_message_carries_the_token_where_the_provider_echoes_it(
    provider, header, carries, tmp_path
) -> None:
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path),
        mail=MailSettings(provider=provider, smtp_host="relay.example.org"),
    )
    prepared = _prepared(settings)
    message = build_message(prepared, Recipient(41, 7, "a@example.org", "A", "fr", 0), settings)
    assert message is not None
    parsed = email.message_from_bytes(message.data, policy=policy.default)
    token = carries(str(parsed[header]))
    assert verp.read_token(token, settings.secret_key) == 41
    assert parsed[verp.DELIVERY_HEADER] == token  # and our own header, for SES


def test_without_a_provider_only_our_header_goes(tmp_path) -> None:
    assert providers.echo_header("", "d1-000000000000") is None
    assert providers.echo_header("ses", "d1-000000000000") is None


def _prepared(settings):
    from dispatch.delivery.mime import message_factory
    from dispatch.delivery.prepared import PreparedEdition

    compiled = compose.compile_edition(
        samples.sample_edition("newsletter", "fr"), samples.sample_branding()
    )

    class _Compilation:
        edition_id = 3

        def for_locale(self, locale):
            return compiled

    return PreparedEdition(_Compilation(), message_factory(settings))  # type: ignore[arg-type]
