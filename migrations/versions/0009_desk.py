"""desk: one decision per item for every channel, and each topic's desk policy

Topics gain `desk_policy` (automatic, as before, unless staff choose approval or manual);
`desk_decisions` holds one row per published item: its state and what was decided channel
by channel.

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0009"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_desk_decisions_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_decisions")),
        sa.UniqueConstraint("item_id", name=op.f("uq_desk_decisions_item_id")),
    )
    with op.batch_alter_table("desk_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_decisions_state"), ["state"], unique=False)

    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "desk_policy",
                sa.String(length=20),
                server_default=sa.text("'automatic'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_column("desk_policy")
    with op.batch_alter_table("desk_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_decisions_state"))
    op.drop_table("desk_decisions")
