"""Source payloads hold only what the columns do not: the comment of ``sources.payload`` and
``forced_sources.payload`` says so (PostgreSQL keeps column comments; SQLite has none).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

The upgrade changes no row: a payload written before holds the record's id and is read as the
whole record, as it always was (``skysift.store.payloads.record_from``); rows written after the
upgrade leave out the fields their columns hold as sent. The downgrade writes those rows' payloads
whole again (the columns joined to the payload), which the code of 0009 reads.

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "JSON of every field, as sent"
AFTER = "JSON of the fields the other columns do not hold as sent; every field when it holds the id"


def _comment(new: str, old: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("sources", "forced_sources"):
        op.alter_column(table, "payload", existing_type=sa.Text(), existing_nullable=False,
                        comment=new, existing_comment=old)


_COLUMNS = {
    "sources": ("diaSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr",
                "reliability", "ra", "dec", "snr"),
    "forced_sources": ("diaForcedSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux",
                       "psfFluxErr"),
}


def _payloads_whole() -> None:
    """Write every payload without the id whole again: the columns joined to it."""
    conn = op.get_bind()
    for table, names in _COLUMNS.items():
        t = sa.table(table, *(sa.column(n) for n in (*names, "payload")))
        update = (sa.update(t).where(t.c[names[0]] == sa.bindparam("key"))
                  .values(payload=sa.bindparam("whole")))
        last = 0
        while True:  # 10,000 rows at a time, in id order
            rows = conn.execute(sa.select(*(t.c[n] for n in names), t.c.payload)
                                .where(t.c[names[0]] > last).order_by(t.c[names[0]])
                                .limit(10_000)).all()
            if not rows:
                break
            last = rows[-1][0]
            params = []
            for row in rows:
                extra = json.loads(row[-1])
                if names[0] not in extra:
                    whole = dict(zip(names, row[:-1], strict=True))
                    whole.update(extra)
                    params.append({"key": row[0],
                                   "whole": json.dumps(whole, separators=(",", ":"))})
            if params:
                conn.execute(update, params)


def upgrade() -> None:
    _comment(AFTER, BEFORE)


def downgrade() -> None:
    _payloads_whole()
    _comment(BEFORE, AFTER)
