"""events: their own fields, changes as rows, reminders once per reader and offset

Event items gain their zone, online and registration links, organiser, cost, status,
calendar SEQUENCE and a "no reminders" switch; WordPress sources their own events schedule,
validators and topic; subscribers the "remind me of events" choice (on). Changes of an
event's time or place are rows (`event_changes`), decided once each (`event_notices`);
`event_reminders` holds one row per (event, reader, offset).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:51:48
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("detected_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_event_changes_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_changes")),
    )
    with op.batch_alter_table("event_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_changes_item_id"), ["item_id"], unique=False)

    op.create_table(
        "event_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_event_reminders_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_event_reminders_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_event_reminders_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_reminders")),
        sa.UniqueConstraint(
            "item_id",
            "subscriber_id",
            "offset_days",
            name=op.f("uq_event_reminders_item_id_subscriber_id_offset_days"),
        ),
    )
    with op.batch_alter_table("event_reminders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_reminders_edition_id"), ["edition_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_event_reminders_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "event_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["event_changes.id"],
            name=op.f("fk_event_notices_change_id_event_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_event_notices_edition_id_editions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_event_notices_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_notices")),
        sa.UniqueConstraint("change_id", name=op.f("uq_event_notices_change_id")),
    )
    with op.batch_alter_table("event_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_notices_item_id"), ["item_id"], unique=False)

    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("online_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("registration_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("organiser", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("cost", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "event_status",
                sa.String(length=20),
                server_default=sa.text("'confirmed'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("event_sequence", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("reminders_off", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("events_topic_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "events_interval_minutes",
                sa.Integer(),
                server_default=sa.text("60"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("events_etag", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("events_last_modified", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("events_next_poll_at", dispatch.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "events_last_polled_at", dispatch.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("events_last_result", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("events_last_error", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sources_events_topic_id_topics"),
            "topics",
            ["events_topic_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # SQLite copies the table to add this column: it must keep AUTOINCREMENT, so that an
    # erased reader's id (and the signed links that carry it) never goes to someone new.
    with op.batch_alter_table(
        "subscribers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("event_reminders", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table(
        "subscribers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("event_reminders")

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sources_events_topic_id_topics"), type_="foreignkey"
        )
        batch_op.drop_column("events_last_error")
        batch_op.drop_column("events_last_result")
        batch_op.drop_column("events_last_polled_at")
        batch_op.drop_column("events_next_poll_at")
        batch_op.drop_column("events_last_modified")
        batch_op.drop_column("events_etag")
        batch_op.drop_column("events_interval_minutes")
        batch_op.drop_column("events_topic_id")

    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_column("reminders_off")
        batch_op.drop_column("event_sequence")
        batch_op.drop_column("event_status")
        batch_op.drop_column("cost")
        batch_op.drop_column("organiser")
        batch_op.drop_column("registration_url")
        batch_op.drop_column("online_url")
        batch_op.drop_column("event_timezone")

    with op.batch_alter_table("event_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_notices_item_id"))

    op.drop_table("event_notices")
    with op.batch_alter_table("event_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_reminders_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_event_reminders_edition_id"))

    op.drop_table("event_reminders")
    with op.batch_alter_table("event_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_changes_item_id"))

    op.drop_table("event_changes")
