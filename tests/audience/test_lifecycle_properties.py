"""Property: whatever people and bounces do, in any order, consent and suppression hold.

A hypothesis state machine subscribes, confirms (with fresh or stale links), changes
preferences, unsubscribes, bounces, resubscribes and erases a few addresses, and checks after
every step that no active subscription lacks a consent record and that no suppressed address
becomes mailable without a new confirmation.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import mkdtemp

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch import migrate
from dispatch.audience import reach, records, service, tokens
from dispatch.audience.consent import Origin
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import AppSettings, build_settings
from dispatch.db import make_engine
from dispatch.demo import ensure_topics

ADDRESSES = ("ana@example.org", "bo@example.org", "cyd@example.org")
EMAILS = st.sampled_from(ADDRESSES)
TOPICS = st.dictionaries(
    st.sampled_from(["blog", "events", "onaime"]),
    st.sampled_from(["immediately", "weekly", "monthly"]),
    max_size=3,
)
WEB = Origin("web form", ip="192.0.2.1", user_agent="hypothesis")
CONSENTING = ("confirm", "add", "import")

_DATA = Path(mkdtemp(prefix="dispatch-lifecycle-"))
SETTINGS = build_settings(app=AppSettings(data_dir=_DATA))
_engine: Engine | None = None


def engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(f"sqlite:///{_DATA / 'lifecycle.sqlite3'}")
        migrate.upgrade(_engine)
        with Session(_engine) as session:
            ensure_topics(session)
            session.commit()
    return _engine


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.connection = engine().connect()
        self.transaction = self.connection.begin()
        self.session = Session(bind=self.connection, join_transaction_mode="create_savepoint")
        # The model: addresses whose last word was "stop" and who have not confirmed since.
        self.stopped: set[str] = set()
        self.links: dict[str, list[str]] = {email: [] for email in ADDRESSES}

    def teardown(self) -> None:
        self.session.close()
        self.transaction.rollback()
        self.connection.close()

    def subscriber(self, email: str) -> Subscriber | None:
        return self.session.scalar(select(Subscriber).where(Subscriber.email == email))

    @rule(email=EMAILS, topics=TOPICS, locale=st.sampled_from(["fr", "en"]))
    def subscribe(self, email: str, topics: dict[str, str], locale: str) -> None:
        request = service.SubscriptionRequest(email=email, locale=locale, topics=topics)
        service.request_subscription(self.session, SETTINGS, request, WEB)
        person = self.subscriber(email)
        assert person is not None
        self.links[email].append(
            tokens.make_confirm_token(SETTINGS, person.id, person.confirm_nonce)
        )

    @rule(email=EMAILS, which=st.integers(min_value=0, max_value=20))
    def confirm(self, email: str, which: int) -> None:
        if not self.links[email]:
            return
        link = self.links[email][which % len(self.links[email])]
        person = self.subscriber(email)
        was_pending = person is not None and person.status == "pending"
        result = service.confirm(self.session, SETTINGS, link, WEB)
        if result.status == "confirmed":
            assert was_pending, "only a pending request can be confirmed"
            self.stopped.discard(email)

    @rule(email=EMAILS, topics=TOPICS, pause=st.sampled_from([0, 30]))
    def change_preferences(self, email: str, topics: dict[str, str], pause: int) -> None:
        person = self.subscriber(email)
        if person is None:
            return
        try:
            service.update_preferences(
                self.session, person, WEB, topics=topics, locale="fr", pause_days=pause
            )
        except service.NotSubscribedError:
            assert person.status not in ("active", "pending")

    @rule(email=EMAILS)
    def unsubscribe(self, email: str) -> None:
        person = self.subscriber(email)
        if person is not None:
            service.unsubscribe(self.session, SETTINGS, person, WEB)
            self.stopped.add(email)

    @rule(email=EMAILS, hard=st.booleans())
    def bounce(self, email: str, hard: bool) -> None:
        person = self.subscriber(email)
        if person is not None:
            status = service.mark_bounced(self.session, SETTINGS, person.id, hard=hard)
            if status == "bounced":
                self.stopped.add(email)

    @rule(email=EMAILS)
    def complain(self, email: str) -> None:
        person = self.subscriber(email)
        if person is not None:
            service.mark_complained(self.session, SETTINGS, person.id)
            self.stopped.add(email)

    @rule(email=EMAILS)
    def erase(self, email: str) -> None:
        records.erase(self.session, SETTINGS, email, Origin("cli"))
        self.stopped.add(email)

    @rule(email=EMAILS)
    def ask_for_link(self, email: str) -> None:
        service.request_link(self.session, SETTINGS, email)

    @invariant()
    def active_subscriptions_have_consent(self) -> None:
        for person in self.session.scalars(select(Subscriber).where(Subscriber.status == "active")):
            actions = self.session.scalars(
                select(ConsentEvent.action).where(ConsentEvent.subscriber_id == person.id)
            ).all()
            assert any(action in CONSENTING for action in actions), (person.email, actions)

    @invariant()
    def stopped_addresses_stay_unmailable_until_confirmed(self) -> None:
        for email in self.stopped:
            assert is_suppressed(self.session, SETTINGS, email), email
            person = self.subscriber(email)
            assert person is None or not reach.is_reachable(self.session, SETTINGS, person), email


Lifecycle.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle = Lifecycle.TestCase
