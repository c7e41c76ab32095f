"""receipts: what each reader received, and letters that must stand whole

`receipts` holds one row per (reader, item, edition), written in the commit that marks the
delivery sent; alerts, digests and letters leave out, per reader, what is already there.
`editions.send_whole` is the letter's "send every item to everyone".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("received_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_receipts_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscriber_id", "item_id", "edition_id", name=op.f("pk_receipts")
        ),
    )
    op.create_index("ix_receipts_item", "receipts", ["item_id"], unique=False)
    with op.batch_alter_table("editions") as batch:
        batch.add_column(
            sa.Column("send_whole", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("send_whole")
    op.drop_index("ix_receipts_item", table_name="receipts")
    op.drop_table("receipts")
