"""Lasair-LSST's light-curve features in ``objects``: nights, good sources, jumps, pair colours,
htm16, and the places of the columns that need outside data (BBB fit, absolute magnitudes, ebv,
tns_name).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Objects stored before the upgrade get the new values at their next alert (every alert recomputes
an object's features from its whole stored light curve); until then the new columns are NULL.

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLOATS = ["jump1", "jump2",
           "latestPairMJD", "latestPairColourMag", "latestPairColourTemp",
           "penultimatePairMJD", "penultimatePairColourMag", "penultimatePairColourTemp",
           "BBBRiseRate", "BBBFallRate", "BBBTemp", "BBBPeakFlux", "BBBPeakMJD", "BBBPeakAbsMag",
           "absMag", "absMagMJD", "ebv"]
_TEXTS = ["latestPairColourBands", "penultimatePairColourBands", "tns_name"]
_INTS = ["nPosDiaSourcesNights", "nSourcesGood"]


def _columns() -> list[sa.Column]:
    return ([sa.Column("htm16", sa.BigInteger(), nullable=True)]
            + [sa.Column(n, sa.Integer(), nullable=True) for n in _INTS]
            + [sa.Column(n, sa.Double(), nullable=True) for n in _FLOATS]
            + [sa.Column(n, sa.Text(), nullable=True) for n in _TEXTS])


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        for column in _columns():
            batch.add_column(column)
    op.create_index(op.f("ix_objects_htm16"), "objects", ["htm16"])


def downgrade() -> None:
    op.drop_index(op.f("ix_objects_htm16"), table_name="objects")
    with op.batch_alter_table("objects") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
