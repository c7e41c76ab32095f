"""delivery at scale: leases tied to the database server's life, a resumable audience snapshot

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_epoch", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience_cursor", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("audience_leased_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("audience_lease_until", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Editions started before: their snapshot was written whole, in one transaction.
    op.execute(
        "UPDATE editions SET audience_cursor = max_subscriber_id "
        "WHERE max_subscriber_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("audience_lease_until")
        batch_op.drop_column("audience_leased_by")
        batch_op.drop_column("audience_cursor")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("lease_epoch")
