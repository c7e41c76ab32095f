"""edition headings: a letter's own sections

An item of a staff letter may open a section: `heading` holds its title per language
(``{"fr": "Agenda", "en": "Events"}``); the items after it belong to that section until the
next heading. Existing rows have none (the letter groups its items by kind, as before).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heading", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.drop_column("heading")
