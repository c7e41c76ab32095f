"""link counts: each bulk edition's link targets and their clicks, nothing about readers

`link_targets` holds one row per (edition, link): the target URL and how many times its
signed redirect was followed. Written only when `mail.link_counts` is on (off by default).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_targets",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_link_targets_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "link_id", name=op.f("pk_link_targets")),
    )


def downgrade() -> None:
    op.drop_table("link_targets")
