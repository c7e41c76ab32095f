"""item sources: one item per real post, whichever sources list it

`item_sources` maps every source's entry (source, guid) to its item, with what that source
last said (content hash, status, topics). Posts gain what tells the same post across the
sources of a site: `site` (host), `canonical_key` (hash of the canonical link) and
`wp_post_id`. Every existing item gets one row (its own source's entry) and its keys;
items already duplicated across sources stay as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:10:00
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db
from dispatch.content.identity import identity_of

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000


def upgrade() -> None:
    op.create_table(
        "item_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=1000), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("topic_ids", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_item_sources_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_item_sources_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_sources")),
        sa.UniqueConstraint("source_id", "guid", name=op.f("uq_item_sources_source_id_guid")),
    )
    with op.batch_alter_table("item_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_sources_item_id"), ["item_id"], unique=False)

    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("canonical_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("wp_post_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_content_items_canonical_key"), ["canonical_key"], unique=False
        )
        batch_op.create_index("ix_content_items_site_post", ["site", "wp_post_id"], unique=False)

    _backfill()


def _backfill() -> None:
    """One row per existing item (its own source's entry, as it stands), and its keys."""
    bind = op.get_bind()
    op.execute(
        "INSERT INTO item_sources (item_id, source_id, guid, url, content_hash, status,"
        " topic_ids, first_seen_at, last_seen_at)"
        " SELECT id, source_id, guid, url, content_hash, status, '[]', first_seen_at,"
        " last_seen_at FROM content_items"
    )
    topics: dict[int, list[int]] = defaultdict(list)
    for item_id, topic_id in bind.execute(
        sa.text("SELECT item_id, topic_id FROM item_topics ORDER BY item_id, topic_id")
    ):
        topics[item_id].append(topic_id)
    sightings = sa.table(
        "item_sources", sa.column("item_id", sa.Integer), sa.column("topic_ids", sa.JSON)
    )
    rows = [{"b_item": item_id, "b_topics": ids} for item_id, ids in topics.items()]
    for start in range(0, len(rows), CHUNK):
        bind.execute(
            sightings.update()
            .where(sightings.c.item_id == sa.bindparam("b_item"))
            .values(topic_ids=sa.bindparam("b_topics", type_=sa.JSON)),
            rows[start : start + CHUNK],
        )

    items = sa.table(
        "content_items",
        sa.column("id", sa.Integer),
        sa.column("site", sa.String),
        sa.column("canonical_key", sa.String),
        sa.column("wp_post_id", sa.Integer),
    )
    keyed = []
    for item_id, url, guid in bind.execute(
        sa.text("SELECT id, url, guid FROM content_items WHERE kind = 'post'")
    ):
        keys = identity_of(kind="post", url=url, guid=guid, wp_post_id=None)
        if keys.site is not None:
            keyed.append(
                {
                    "b_id": item_id,
                    "b_site": keys.site,
                    "b_key": keys.canonical_key,
                    "b_post": keys.wp_post_id,
                }
            )
    for start in range(0, len(keyed), CHUNK):
        bind.execute(
            items.update()
            .where(items.c.id == sa.bindparam("b_id"))
            .values(
                site=sa.bindparam("b_site"),
                canonical_key=sa.bindparam("b_key"),
                wp_post_id=sa.bindparam("b_post"),
            ),
            keyed[start : start + CHUNK],
        )


def downgrade() -> None:
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_index("ix_content_items_site_post")
        batch_op.drop_index(batch_op.f("ix_content_items_canonical_key"))
        batch_op.drop_column("wp_post_id")
        batch_op.drop_column("canonical_key")
        batch_op.drop_column("site")

    with op.batch_alter_table("item_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_sources_item_id"))

    op.drop_table("item_sources")
