"""The TNS catalogue an operator loads (``skysift tns load``): Lasair's ``crossmatch_tns``, behind
``objects.tns_name``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crossmatch_tns",
        sa.Column("tns_name", sa.Text(), primary_key=True, comment="e.g. 2025abc (no prefix)"),
        sa.Column("tns_prefix", sa.Text(), comment="AT, SN, TDE, ..."),
        sa.Column("ra", sa.Double(), nullable=False, comment="deg"),
        sa.Column("decl", sa.Double(), nullable=False, comment="deg"),
        sa.Column("z", sa.Double(), comment="redshift"),
        sa.Column("type", sa.Text(), comment="classification, e.g. SN Ia; NULL when unclassified"),
        sa.Column("disc_date", sa.Text(), comment="discovery date, as TNS writes it (UTC)"),
        sa.Column("internal_names", sa.Text()),
        sa.Column("loaded", TS, nullable=False, server_default=sa.func.current_timestamp(),
                  comment="when `skysift tns load` ran"),
    )


def downgrade() -> None:
    op.drop_table("crossmatch_tns")
