"""publication receipts: consumers note the events they handled; content keeps no column for them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publication_receipts",
        sa.Column("consumer", sa.String(length=30), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["publication_events.id"],
            name=op.f("fk_publication_receipts_event_id_publication_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_publication_receipts")),
    )
    with op.batch_alter_table("publication_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_publication_receipts_event_id"), ["event_id"], unique=False
        )
    # What each consumer had handled becomes its receipts (silent events need none).
    for consumer, column in (("alerts", "alerts_done_at"), ("social", "social_done_at")):
        op.execute(
            "INSERT INTO publication_receipts (consumer, event_id, at) "
            f"SELECT '{consumer}', id, {column} FROM publication_events "
            f"WHERE {column} IS NOT NULL AND NOT silent"
        )
    with op.batch_alter_table("publication_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_events_alerts_done_at"))
        batch_op.drop_index(batch_op.f("ix_publication_events_social_done_at"))
        batch_op.drop_column("alerts_done_at")
        batch_op.drop_column("social_done_at")


def downgrade() -> None:
    with op.batch_alter_table("publication_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("social_done_at", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("alerts_done_at", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_publication_events_social_done_at"), ["social_done_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_publication_events_alerts_done_at"), ["alerts_done_at"], unique=False
        )
    for consumer, column in (("alerts", "alerts_done_at"), ("social", "social_done_at")):
        op.execute(
            f"UPDATE publication_events SET {column} = (SELECT at FROM publication_receipts r "
            f"WHERE r.event_id = publication_events.id AND r.consumer = '{consumer}')"
        )
    op.execute("UPDATE publication_events SET alerts_done_at = created_at WHERE silent")
    op.execute("UPDATE publication_events SET social_done_at = created_at WHERE silent")
    with op.batch_alter_table("publication_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_receipts_event_id"))
    op.drop_table("publication_receipts")
