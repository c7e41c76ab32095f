"""What else points at a row: counted through the foreign keys every table declares.

Removing a topic, or deleting a pick, is only safe when nothing else refers to it (a
subscriber's preference, an edition that carried the item…). Higher layers' tables are found
through the shared metadata, so content need not import them to know they exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.db import Base


def references(
    session: Session, table_name: str, row_id: int, *, ignore: Iterable[str] = ()
) -> dict[str, int]:
    """{table name: rows that point at `row_id` of `table_name`}, only tables with some."""
    target = Base.metadata.tables[table_name]
    skipped = set(ignore)
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in skipped or table is target:
            continue
        for key in table.foreign_keys:
            if key.column.table is not target:
                continue
            found = session.scalar(
                select(func.count()).select_from(table).where(key.parent == row_id)
            )
            if found:
                counts[table.name] = counts.get(table.name, 0) + int(found)
    return counts
