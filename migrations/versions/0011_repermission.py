"""subscribers: the welcome as a request, the letter as a choice, re-permission before a purge

`welcome_requested_at` makes the welcome something asked for (a confirmation asks; an import
only with --welcome) instead of implied by `confirmed_at`; welcomes still due from the form
are carried over. `letter` is the reader's choice of the staff letter (on, as it was for
everyone). `repermission_requested_at` / `repermission_sent_at`: the "do you want to stay?"
email that `purge-inactive` sends before it erases anyone.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table(
        "subscribers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("welcome_requested_at", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("letter", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "repermission_requested_at", dispatch.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("repermission_sent_at", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Welcomes still owed to people who confirmed from the form (they carry a consent
    # version; people added or imported by staff do not, and are not welcomed unasked).
    op.execute(
        "UPDATE subscribers SET welcome_requested_at = confirmed_at "
        "WHERE confirmed_at IS NOT NULL AND welcome_sent_at IS NULL "
        "AND consent_version IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table(
        "subscribers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("repermission_sent_at")
        batch_op.drop_column("repermission_requested_at")
        batch_op.drop_column("letter")
        batch_op.drop_column("welcome_requested_at")
