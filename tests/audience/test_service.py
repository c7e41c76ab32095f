"""The subscriber lifecycle as staff and readers see it: states, ledger, suppression, erasure."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dispatch.audience import reach, records, service, tokens
from dispatch.audience.addresses import InvalidInputError
from dispatch.audience.consent import CURRENT_CONSENT_VERSION, Origin
from dispatch.audience.models import ConsentEvent, Preference, Subscriber, Suppression
from dispatch.audience.suppression import email_hash, is_suppressed, suppress
from dispatch.config import AppSettings, SecuritySettings, Settings, build_settings
from dispatch.content.models import Topic
from dispatch.db import utcnow
from tests.audience import factories
from tests.audience.factories import WEB


def events(session: Session, subscriber_id: int) -> list[str]:
    rows = session.scalars(
        select(ConsentEvent.action)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.id)
    )
    return list(rows)


def test_a_new_subscription_is_pending_with_its_consent_recorded(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    request = service.SubscriptionRequest(
        email="  Marie.Dupont@Example.ORG ",
        name="Marie Dupont",
        locale="en",
        topics={"blog": "weekly", "events": "immediately"},
    )
    mail = service.request_subscription(db_session, settings, request, WEB)

    assert mail.mail == "confirm"
    subscriber = db_session.get(Subscriber, mail.subscriber_id)
    assert subscriber is not None
    assert subscriber.email == "marie.dupont@example.org"
    assert subscriber.status == "pending"
    assert subscriber.locale == "en"
    assert service.preferences_of(subscriber) == {"blog": "weekly", "events": "immediately"}
    assert not reach.is_reachable(db_session, settings, subscriber)
    (event,) = db_session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber.id)
    )
    assert event.action == "subscribe"
    assert event.consent_version == CURRENT_CONSENT_VERSION
    assert event.ip == "192.0.2.10"
    assert event.user_agent == "Mozilla/5.0 (test)"
    assert event.details["topics"] == {"blog": "weekly", "events": "immediately"}


def test_confirming_activates_once_and_a_second_click_changes_nothing(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.pending(db_session, settings)
    token = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)

    assert service.peek_confirm(db_session, settings, token).status == "confirmed"
    assert subscriber.status == "pending", "looking at the link must not confirm"

    assert service.confirm(db_session, settings, token, WEB).status == "confirmed"
    assert subscriber.status == "active"
    assert subscriber.confirmed_at is not None
    assert reach.is_reachable(db_session, settings, subscriber)
    assert service.confirm(db_session, settings, token, WEB).status == "already"
    assert events(db_session, subscriber.id) == ["subscribe", "confirm"]


def test_forged_and_expired_confirm_links_do_nothing(
    db_session: Session, settings: Settings, topics: list[Topic], monkeypatch: pytest.MonkeyPatch
) -> None:
    subscriber = factories.pending(db_session, settings)
    good = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)
    forged = tokens.make_confirm_token(settings, subscriber.id + 1, subscriber.confirm_nonce)
    with monkeypatch.context() as patch:
        days = settings.security.confirm_max_age_days + 1
        patch.setattr(time, "time", lambda: utcnow().timestamp() - days * 86400)
        old = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)

    assert service.confirm(db_session, settings, good[:-2] + "xx", WEB).status == "invalid"
    assert service.confirm(db_session, settings, forged, WEB).status == "invalid"
    assert service.confirm(db_session, settings, old, WEB).status == "expired"
    assert subscriber.status == "pending"


def test_the_answer_never_depends_on_the_address_state_but_active_settings_are_kept(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.active(db_session, settings, topics={"blog": "monthly"})
    intruder = service.SubscriptionRequest(
        email=subscriber.email, name="Someone else", topics={"events": "immediately"}
    )

    mail = service.request_subscription(db_session, settings, intruder, WEB)

    # The owner gets their preferences link; nothing about them changed.
    assert mail == service.MailRequest(subscriber.id, "link")
    assert subscriber.status == "active"
    assert subscriber.name == "Camille Martin"
    assert service.preferences_of(subscriber) == {"blog": "monthly"}


def test_unsubscribing_suppresses_and_coming_back_needs_a_new_confirmation(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.active(db_session, settings)
    old_link = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)

    assert service.unsubscribe(db_session, settings, subscriber, WEB) is True
    assert service.unsubscribe(db_session, settings, subscriber, WEB) is False  # idempotent
    assert subscriber.status == "unsubscribed"
    assert is_suppressed(db_session, settings, subscriber.email)
    # The confirm link of the first subscription cannot bring the address back.
    assert service.confirm(db_session, settings, old_link, WEB).status == "invalid"

    again = factories.pending(db_session, settings, email=subscriber.email)
    assert again.id == subscriber.id
    assert again.status == "pending"
    assert is_suppressed(db_session, settings, subscriber.email), "suppressed until confirmed"
    new_link = tokens.make_confirm_token(settings, again.id, again.confirm_nonce)
    assert service.confirm(db_session, settings, new_link, WEB).status == "confirmed"
    assert not is_suppressed(db_session, settings, subscriber.email)
    assert events(db_session, subscriber.id) == [
        "subscribe",
        "confirm",
        "unsubscribe",
        "subscribe",
        "confirm",
    ]


def test_preference_changes_are_applied_and_recorded_with_what_changed(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.active(db_session, settings, topics={"blog": "weekly"})

    changes = service.update_preferences(
        db_session,
        subscriber,
        Origin("web preferences"),
        topics={"events": "monthly", "onaime": "immediately"},
        locale="en",
        pause_days=30,
    )

    assert service.preferences_of(subscriber) == {"events": "monthly", "onaime": "immediately"}
    assert subscriber.locale == "en"
    assert subscriber.paused_until is not None
    assert not reach.is_reachable(db_session, settings, subscriber), "paused"
    assert changes["topics"]["before"] == {"blog": "weekly"}
    assert changes["locale"] == {"before": "fr", "after": "en"}
    last = db_session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id)
        .order_by(ConsentEvent.id.desc())
    ).first()
    assert last is not None and last.action == "preferences"
    assert last.details["topics"]["after"] == {"events": "monthly", "onaime": "immediately"}

    unchanged = service.update_preferences(
        db_session,
        subscriber,
        Origin("web preferences"),
        topics={"events": "monthly", "onaime": "immediately"},
        locale="en",
        keep_pause=True,
    )
    assert unchanged == {}
    assert events(db_session, subscriber.id).count("preferences") == 1


def test_unsubscribed_people_cannot_change_preferences(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.active(db_session, settings)
    service.unsubscribe(db_session, settings, subscriber, WEB)
    with pytest.raises(service.NotSubscribedError):
        service.update_preferences(
            db_session, subscriber, WEB, topics={"blog": "weekly"}, locale="fr"
        )


@pytest.mark.parametrize(
    ("field", "request_"),
    [
        ("email", service.SubscriptionRequest(email="not-an-address")),
        ("email", service.SubscriptionRequest(email="a@example.org\r\nBcc: b@example.org")),
        ("name", service.SubscriptionRequest(email="a@example.org", name="Eve\r\nBcc: x@y.org")),
        ("name", service.SubscriptionRequest(email="a@example.org", name="x" * 201)),
        ("locale", service.SubscriptionRequest(email="a@example.org", locale="de")),
        ("topics", service.SubscriptionRequest(email="a@example.org", topics={"nope": "weekly"})),
        ("topics", service.SubscriptionRequest(email="a@example.org", topics={"blog": "daily"})),
    ],
)
def test_bad_input_is_refused_with_the_field_named(
    db_session: Session,
    settings: Settings,
    topics: list[Topic],
    field: str,
    request_: service.SubscriptionRequest,
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        service.request_subscription(db_session, settings, request_, WEB)
    assert raised.value.field == field
    assert db_session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_subscription_bombing_is_capped_per_address(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    victim = factories.new_email()
    request = service.SubscriptionRequest(email=victim)
    answers = [
        service.request_subscription(db_session, settings, request, WEB).mail for _ in range(5)
    ]
    assert answers == ["confirm", "confirm", "confirm", None, None]
    # The link request counts against the same budget.
    assert service.request_link(db_session, settings, victim).mail is None


def test_hard_bounces_complaints_and_repeated_soft_bounces_suppress(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    hard = factories.active(db_session, settings)
    soft = factories.active(db_session, settings)
    complainer = factories.active(db_session, settings)

    assert service.mark_bounced(db_session, settings, hard.id, hard=True) == "bounced"
    for _ in range(settings.mail.soft_bounce_threshold - 1):
        assert service.mark_bounced(db_session, settings, soft.id, hard=False) == "active"
    assert not is_suppressed(db_session, settings, soft.email)
    assert service.mark_bounced(db_session, settings, soft.id, hard=False) == "bounced"
    assert service.mark_complained(db_session, settings, complainer.id) == "complained"
    assert service.mark_bounced(db_session, settings, 10**9, hard=True) is None

    for person in (hard, soft, complainer):
        assert is_suppressed(db_session, settings, person.email)
        assert not reach.is_reachable(db_session, settings, person)
    assert events(db_session, complainer.id)[-1] == "complaint"


def test_erasure_keeps_only_a_keyed_hash(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.active(db_session, settings, email="efface.moi@example.org")
    subscriber_id = subscriber.id

    assert records.erase(db_session, settings, "Efface.Moi@example.org", Origin("cli")) is True
    db_session.expire_all()

    assert db_session.get(Subscriber, subscriber_id) is None
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(Preference)
            .where(Preference.subscriber_id == subscriber_id)
        )
        == 0
    )
    assert events(db_session, subscriber_id) == []
    digest = email_hash(settings, "efface.moi@example.org")
    (erase_event,) = db_session.scalars(
        select(ConsentEvent).where(ConsentEvent.email_hash == digest)
    )
    assert erase_event.action == "erase" and erase_event.subscriber_id is None
    assert (
        db_session.scalar(select(Suppression.reason).where(Suppression.email_hash == digest))
        == "erased"
    )
    # Nothing readable is left anywhere: no table holds the address any more.
    for table in ("subscribers", "consent_events", "suppressions"):
        rows = db_session.execute(text(f"SELECT * FROM {table}")).all()
        assert "efface.moi" not in repr(rows)
    # The person may come back, through the form and a confirmation only.
    with pytest.raises(service.SuppressedAddressError):
        records.add_subscriber(
            db_session,
            settings,
            service.SubscriptionRequest(email="efface.moi@example.org"),
            Origin("import: salon 2024"),
        )
    back = factories.active(db_session, settings, email="efface.moi@example.org")
    assert back.status == "active"
    assert not is_suppressed(db_session, settings, back.email)


def test_unconfirmed_requests_expire_and_returning_people_fall_back_to_unsubscribed(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    stranger = factories.pending(db_session, settings)
    fresh = factories.pending(db_session, settings)
    returning = factories.active(db_session, settings)
    service.unsubscribe(db_session, settings, returning, WEB)
    factories.pending(db_session, settings, email=returning.email)
    days = settings.security.confirm_max_age_days + 1
    for person in (stranger, returning):
        person.confirm_requested_at = utcnow() - timedelta(days=days)
    db_session.flush()
    stranger_id = stranger.id

    assert records.expire_pending(db_session, settings) == 2

    assert db_session.scalar(select(Subscriber.id).where(Subscriber.id == stranger_id)) is None
    assert events(db_session, stranger_id) == []
    assert fresh.status == "pending"
    assert returning.status == "unsubscribed"
    assert is_suppressed(db_session, settings, returning.email)


def test_rotating_the_secret_key_keeps_links_and_suppressions(
    db_session: Session, tmp_path: object, topics: list[Topic]
) -> None:
    before = build_settings(
        app=AppSettings(data_dir=tmp_path),
        security=SecuritySettings(secret_key=SecretStr("k" * 40)),
    )
    after = build_settings(
        app=AppSettings(data_dir=tmp_path),
        security=SecuritySettings(
            secret_key=SecretStr("n" * 40), old_secret_keys=SecretStr("k" * 40)
        ),
    )
    suppress(db_session, before, "parti@example.org", "unsubscribed")
    link = tokens.make_token(before, "unsubscribe", 42)

    assert is_suppressed(db_session, after, "parti@example.org")
    assert tokens.read_token(after, "unsubscribe", link) == 42
    assert tokens.make_token(after, "unsubscribe", 42) != link


def test_consent_events_cannot_be_rewritten(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.pending(db_session, settings)
    event = db_session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber.id)
    ).one()
    event.source = "something else"
    with pytest.raises(ValueError, match="append-only"):
        db_session.flush()
    db_session.rollback()


def test_staff_can_add_people_who_consented_elsewhere(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = records.add_subscriber(
        db_session,
        settings,
        service.SubscriptionRequest(email="ag2024@example.org", topics={"events": "immediately"}),
        Origin("Assemblée générale 2024, bulletin papier"),
    )
    assert subscriber.status == "active"
    assert events(db_session, subscriber.id) == ["add"]
    with pytest.raises(InvalidInputError, match="already"):
        records.add_subscriber(
            db_session,
            settings,
            service.SubscriptionRequest(email="ag2024@example.org"),
            Origin("again"),
        )
    with pytest.raises(InvalidInputError):
        records.add_subscriber(
            db_session, settings, service.SubscriptionRequest(email="x@example.org"), Origin(" ")
        )


def test_parse_topics_reads_the_import_format() -> None:
    assert service.parse_topics("blog:weekly;events:immediately") == {
        "blog": "weekly",
        "events": "immediately",
    }
    assert service.parse_topics("blog | onaime:monthly") == {"blog": "weekly", "onaime": "monthly"}
    assert service.parse_topics("") == {}
    with pytest.raises(InvalidInputError, match="daily"):
        service.parse_topics("blog:daily")
    with pytest.raises(InvalidInputError, match="twice"):
        service.parse_topics("blog:weekly;blog:monthly")


def test_the_reachable_condition_and_the_per_reader_rule_agree(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    active = factories.active(db_session, settings)
    paused = factories.active(db_session, settings)
    paused.paused_until = utcnow() + timedelta(days=3)
    pending = factories.pending(db_session, settings)
    never_confirmed = factories.active(db_session, settings)
    never_confirmed.confirmed_at = None
    db_session.flush()
    people = [active, paused, pending, never_confirmed]
    ids = set(db_session.scalars(select(Subscriber.id).where(reach.reachable())))
    assert ids & {p.id for p in people} == {active.id}
    assert [reach.is_reachable(db_session, settings, p) for p in people] == [
        True,
        False,
        False,
        False,
    ]


def test_suppression_survives_with_settings_isolated(settings: Settings) -> None:
    # The hash is keyed: another installation (another key) cannot recognise the address.
    other = build_settings(
        app=settings.app, security=SecuritySettings(secret_key=SecretStr("z" * 40))
    )
    assert email_hash(settings, "a@example.org") != email_hash(other, "a@example.org")
    assert email_hash(settings, "A@Example.org ") == email_hash(settings, "a@example.org")


def test_the_demo_seeds_varied_readers_once(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    from dispatch.audience.demo import READERS, seed_subscribers

    assert seed_subscribers(db_session, settings) == len(READERS)
    assert seed_subscribers(db_session, settings) == 0
    statuses = set(db_session.scalars(select(Subscriber.status)))
    assert statuses == {"active", "pending", "unsubscribed"}
    assert set(db_session.scalars(select(Subscriber.locale))) == {"fr", "en"}
