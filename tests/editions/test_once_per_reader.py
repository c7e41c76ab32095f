"""Once per reader: an item reaches a reader in the first edition that brings it, never again.

The receipts the engine writes when it marks a delivery sent decide what later alerts,
digests and letters leave out of that reader's copy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience import records
from dispatch.audience.models import Receipt, Subscriber
from dispatch.config import Settings
from dispatch.content.models import ContentItem
from dispatch.delivery import counts
from dispatch.editions import alerts, digests, drafts
from dispatch.editions.schedule import schedule_edition
from tests import factories
from tests.editions.delivered import body_text, outbox, publish, send_due

POST = "Les communs numériques en mairie"
PICK = "À lire, la revue des politiques publiques"
NEWS = "Nouvelle saison de la Transfo"


def _mail(settings: Settings, address: str, subject_part: str) -> list[EmailMessage]:
    return [m for m in outbox(settings).get(address, []) if subject_part in str(m["Subject"])]


def _texts(settings: Settings, address: str) -> list[str]:
    return [body_text(m) for m in outbox(settings).get(address, [])]


def _receipts(session: Session, address: str) -> set[tuple[str, str]]:
    rows = session.execute(
        select(Receipt.channel, Receipt.item_id)
        .join(Subscriber, Subscriber.id == Receipt.subscriber_id)
        .where(Subscriber.email == address)
    )
    titles = {item.id: item.title for item in session.scalars(select(ContentItem))}
    return {(channel, titles[item_id]) for channel, item_id in rows}


def _letter(
    sessions: sessionmaker[Session], subject: str, titles: list[str], *, whole: bool = False
) -> int:
    with sessions() as session, session.begin():
        items = [item for item in session.scalars(select(ContentItem)) if item.title in titles]
        edition = drafts.create_edition(session, subject=subject, items=items, send_whole=whole)
        return edition.id


def _send(sessions: sessionmaker[Session], settings: Settings, edition_id: int) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        schedule_edition(session, edition_id, send_at=now - timedelta(seconds=1), now=now)
    send_due(sessions, settings, now)


def test_an_item_a_reader_had_in_an_alert_is_left_out_of_their_digest_and_letters(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    now = datetime.now(UTC)
    due = digests.current_period("weekly", now).due_at
    published = due - timedelta(days=1)
    with sessions() as session, session.begin():
        factories.subscriber(
            session, email="vite@example.org", topics={"blog": "immediately", "onaime": "weekly"}
        )
        factories.subscriber(session, email="lundi@example.org", topics={"onaime": "weekly"})
        post = factories.item(
            session, title=POST, topics=["blog", "onaime"], published_at=published
        )
        factories.item(
            session,
            title=PICK,
            kind="pick",
            tag="onaime",
            topics=["onaime"],
            published_at=published,
        )
        publish(session, post.id, published)
    # The alert: the "immediately" reader gets the post at once.
    with sessions() as session, session.begin():
        alerts.create_alerts(session, settings, now=published + timedelta(minutes=6))
    send_due(sessions, settings, published + timedelta(minutes=6))
    assert [m["Subject"] for m in outbox(settings)["vite@example.org"]] == [POST]

    # The weekly digest: the post again for the one who never had it, not for the other.
    with sessions() as session, session.begin():
        plan = counts.plan_digest(session, "weekly", at=due)
        assert {r["email"]: len(r["items"]) for r in plan.per_reader} == {
            "vite@example.org": 1,
            "lundi@example.org": 2,
        }
        digest = digests.create_digest(session, "weekly", now=due, catch_up=False)
        assert digest is not None
        digest.send_at = now
    send_due(sessions, settings, now)
    (vite_digest,) = _mail(settings, "vite@example.org", "sélection de la semaine")
    assert PICK in body_text(vite_digest) and POST not in body_text(vite_digest)
    (lundi_digest,) = _mail(settings, "lundi@example.org", "sélection de la semaine")
    assert PICK in body_text(lundi_digest) and POST in body_text(lundi_digest)

    # A letter composed afterwards: the post is left out for both now (both had it)…
    with sessions() as session, session.begin():
        factories.item(session, title=NEWS, topics=["blog"])
    letter = _letter(sessions, "La lettre de décembre", [POST, NEWS])
    with sessions() as session:
        reach = counts.item_counts(session, letter)
        titles = {i.id: i.title for i in session.scalars(select(ContentItem))}
    assert {titles[i]: n for i, n in reach.items()} == {POST: 0, NEWS: 2}
    _send(sessions, settings, letter)
    for address in ("vite@example.org", "lundi@example.org"):
        (copy,) = _mail(settings, address, "La lettre de décembre")
        assert NEWS in body_text(copy) and POST not in body_text(copy)

    # …unless it is to go whole: then everyone gets every item.
    whole = _letter(sessions, "Le numéro spécial", [POST, NEWS], whole=True)
    _send(sessions, settings, whole)
    for address in ("vite@example.org", "lundi@example.org"):
        (copy,) = _mail(settings, address, "Le numéro spécial")
        assert NEWS in body_text(copy) and POST in body_text(copy)

    # A letter holding only what everyone has already had reaches nobody: no empty email.
    again = _letter(sessions, "Rien de neuf", [POST, NEWS])
    _send(sessions, settings, again)
    assert _mail(settings, "vite@example.org", "Rien de neuf") == []
    assert _mail(settings, "lundi@example.org", "Rien de neuf") == []

    with sessions() as session:
        assert _receipts(session, "vite@example.org") == {
            ("alert", POST),
            ("digest", PICK),
            ("newsletter", NEWS),
            ("newsletter", POST),  # the letter sent whole
        }
        exported = records.export_person(session, settings, "lundi@example.org")
        assert exported is not None
        got = {(r["channel"], r["title"]) for r in exported["received"]}
        assert got == {
            ("digest", POST),
            ("digest", PICK),
            ("newsletter", NEWS),
            ("newsletter", POST),
        }


def test_a_letter_counts_each_item_for_those_who_have_not_had_it(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session, session.begin():
        factories.subscriber(session, email="a@example.org", topics={"blog": "immediately"})
        factories.subscriber(session, email="b@example.org", topics={"blog": "weekly"})
        post = factories.item(session, title=POST)
        publish(session, post.id, datetime.now(UTC) - timedelta(minutes=30))
        alerts.create_alerts(session, settings, now=datetime.now(UTC))
    send_due(sessions, settings, datetime.now(UTC))
    letter = _letter(sessions, "Lettre", [POST])
    whole = _letter(sessions, "Lettre entière", [POST], whole=True)
    with sessions() as session:
        assert counts.item_counts(session, letter) == {post.id: 1}
        assert counts.item_counts(session, whole) == {post.id: 2}
    _send(sessions, settings, letter)
    with sessions() as session:
        assert counts.item_counts(session, letter) == {post.id: 1}  # who got it: b only
    assert _mail(settings, "a@example.org", "Lettre") == []
    assert len(_mail(settings, "b@example.org", "Lettre")) == 1
