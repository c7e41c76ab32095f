"""The demo's social accounts: one per network, posting automatically to the outbox folder.

They have no credentials, so in embedded mode every post is written as JSON under
`var/outbox/social/` (see `accounts.uses_outbox`). Giving one of them credentials later
(`dispatch social accounts add` a real one, then disable the demo's) is configuration only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.social import service
from dispatch.social.models import SocialAccount

DEMO_ACCOUNTS = [
    # network, name, base URL, handle
    ("mastodon", "La 27e Région (Mastodon, démo)", "https://mastodon.social", "@la27eregion"),
    ("bluesky", "La 27e Région (Bluesky, démo)", "https://bsky.social", "la27eregion.bsky.social"),
    ("linkedin", "La 27e Région (LinkedIn, démo)", "", "2414183"),
]


def seed_social(session: Session, settings: Settings) -> list[SocialAccount]:
    """Create the demo accounts once (automatic, every topic); returns those created."""
    if session.scalar(select(SocialAccount.id).limit(1)) is not None:
        return []
    return [
        service.add_account(
            session,
            settings,
            service.AccountSpec(
                network=network,
                name=name,
                base_url=base_url,
                handle=handle,
                mode="automatic",
                language=settings.app.default_locale,
            ),
        )
        for network, name, base_url, handle in DEMO_ACCOUNTS
    ]
