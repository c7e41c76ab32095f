"""Sample editions and readers, for previews, test sends, template tests and benchmarks.

The content imitates what La 27e Région publishes: articles, events and curated picks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from dispatch.editions.views import Branding, EditionView, ItemView, RecipientView

SAMPLE_TOPICS_FR = {"blog": "Le blog", "events": "Événements", "picks": "What's up ?"}
SAMPLE_TOPICS_EN = {"blog": "The blog", "events": "Events", "picks": "What's up?"}


def sample_branding() -> Branding:
    return Branding(
        org_name="La 27e Région",
        from_name="La 27e Région",
        from_address="lettre@la27eregion.example",
        reply_to="contact@la27eregion.example",
        postal_address="5 rue Example, 75011 Paris, France",
        site_url="https://www.la27eregion.example/",
        list_id_domain="lettre.la27eregion.example",
        logo_url="https://www.la27eregion.example/logo.png",
        logo_alt="La 27e Région",
        primary_colour="#e4003a",
        text_colour="#1a1a1a",
    )


def sample_items(now: datetime | None = None) -> tuple[ItemView, ...]:
    """Two posts, two events (one timed, one all-day) and three picks, one per tag."""
    now = now or datetime(2024, 7, 10, 9, 0, tzinfo=UTC)
    site = "https://www.la27eregion.example"
    return (
        ItemView(
            id=101,
            kind="post",
            title="Innovation publique : et si on « dépliait » l'évaluation ?",
            url=f"{site}/2024/07/deplier-evaluation/",
            summary_html=(
                "<p>Depuis deux ans, nous explorons avec des collectivités d'autres façons "
                "d'<strong>évaluer</strong> les politiques publiques : au plus près des "
                'usagers, en continu, et <a href="https://example.org/rapport">en '
                "commun</a>.</p>"
            ),
            excerpt="Depuis deux ans, nous explorons avec des collectivités d'autres façons "
            "d'évaluer les politiques publiques : au plus près des usagers, en continu.",
            image_url=f"{site}/images/evaluation.jpg",
            image_alt="Des agents publics autour d'une table couverte de post-it",
            published_at=now - timedelta(days=3),
            topics=("blog",),
        ),
        ItemView(
            id=102,
            kind="post",
            title="Transitions : ce que les territoires nous apprennent",
            url=f"{site}/2024/07/transitions-territoires/",
            excerpt="Retour sur six mois de résidences dans trois régions, et ce que les "
            "équipes en retiennent pour conduire la transition écologique.",
            image_url=f"{site}/images/transitions.jpg",
            image_alt="Un atelier en plein air dans un village",
            published_at=now - timedelta(days=1),
            topics=("blog", "events"),
        ),
        ItemView(
            id=201,
            kind="event",
            title="Assemblée générale de La 27e Région",
            url=f"{site}/evenements/assemblee-generale-2024/",
            excerpt="Bilan de l'année, projets à venir et moment convivial.",
            event_start=datetime(2024, 7, 17, 12, 0, tzinfo=UTC),
            event_end=datetime(2024, 7, 17, 15, 0, tzinfo=UTC),
            location="La Paillasse, 226 rue Saint-Denis, Paris",
            published_at=now - timedelta(days=5),
            topics=("events",),
            ics_url=f"{site}/evenements/assemblee-generale-2024.ics",
        ),
        ItemView(
            id=202,
            kind="event",
            title="Journée d'étude « Design des politiques publiques »",
            url=f"{site}/evenements/journee-design/",
            excerpt="Une journée pour croiser pratiques et recherches.",
            event_start=datetime(2024, 9, 19, 0, 0, tzinfo=UTC),
            event_end=datetime(2024, 9, 20, 0, 0, tzinfo=UTC),
            all_day=True,
            location="Lyon",
            topics=("events",),
        ),
        ItemView(
            id=301,
            kind="pick",
            title="Un guide pour des formulaires administratifs lisibles",
            url="https://example.org/guide-formulaires",
            tag="onaime",
            comment="Clair, concret, et testé avec de vrais usagers.",
            topics=("picks",),
        ),
        ItemView(
            id=302,
            kind="pick",
            title="Faut-il confier l'instruction des aides à des algorithmes ?",
            url="https://example.org/algorithmes-aides",
            tag="controverse",
            comment="Un débat vif entre juristes et ingénieurs.",
            topics=("picks",),
        ),
        ItemView(
            id=303,
            kind="pick",
            title="The State of Public Sector Innovation",
            url="https://example.org/state-of-innovation",
            tag="mustread",
            excerpt="An international overview, with French case studies.",
            topics=("picks",),
        ),
    )


def sample_edition(kind: str, locale: str = "fr") -> EditionView:
    """A sample edition of each kind ("newsletter", "alert", "digest", "event", …)."""
    items = sample_items()
    names = SAMPLE_TOPICS_FR if locale == "fr" else SAMPLE_TOPICS_EN
    french = locale == "fr"
    subjects = {
        "newsletter": "La lettre de juillet" if french else "The July newsletter",
        "alert": "",
        "digest": "",
        "event": "",
    }
    chosen: tuple[ItemView, ...] = ()
    if kind in ("newsletter", "digest"):
        chosen = items
    elif kind == "alert":
        chosen = items[:1]
    elif kind == "event":
        chosen = items[2:3]
    intro = (
        "<p>Bonjour à toutes et à tous ! Ce mois-ci, nous revenons sur nos travaux "
        "d'évaluation et vous donnons rendez-vous à l'assemblée générale.</p>"
        if french
        else "<p>Hello everyone! This month we look back on our work on evaluation and "
        "invite you to our general assembly.</p>"
    )
    return EditionView(
        kind=kind,  # type: ignore[arg-type]
        subject=subjects.get(kind, ""),
        locale=locale,
        intro_html=intro if kind == "newsletter" else "",
        items=chosen,
        topic_names=MappingProxyType(dict(names)),
        key=f"sample-{kind}-{locale}",
        digest_period="weekly" if kind == "digest" else "",
        web_url="https://www.la27eregion.example/lettres/juillet-2024/"
        if kind == "newsletter"
        else "",
    )


def sample_recipient(locale: str = "fr", *, index: int = 0) -> RecipientView:
    """A sample reader with signed-looking links (they point nowhere)."""
    site = "https://www.la27eregion.example"
    token = f"tok{index:06d}.Zm9vYmFy"
    return RecipientView(
        email=f"camille.{index}@example.org",
        name="Camille Dupré" if locale == "fr" else "Sam Taylor",
        locale=locale,
        unsubscribe_url=f"{site}/unsubscribe/{token}",
        preferences_url=f"{site}/preferences/{token}",
        confirm_url=f"{site}/confirm/{token}",
        topics=frozenset({"blog", "events", "picks"}),
        unsubscribe_mailto=f"mailto:unsubscribe@la27eregion.example?subject=unsubscribe%20{token}",
    )
