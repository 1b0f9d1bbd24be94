"""The TNS catalogue an operator loads (``skysift tns load``), for ``objects.tns_name``.

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
        "tns_objects",
        sa.Column("tns_name", sa.Text(), primary_key=True, comment="e.g. 2025abc (no prefix)"),
        sa.Column("name_prefix", sa.Text(), comment="AT, SN, TDE, ..."),
        sa.Column("ra", sa.Double(), nullable=False, comment="deg"),
        sa.Column("decl", sa.Double(), nullable=False, comment="deg"),
        sa.Column("redshift", sa.Double()),
        sa.Column("type", sa.Text(), comment="classification, e.g. SN Ia; NULL when unclassified"),
        sa.Column("discoverydate", sa.Text(), comment="as TNS writes it (UTC)"),
        sa.Column("internal_names", sa.Text()),
        sa.Column("loaded", TS, nullable=False, server_default=sa.func.current_timestamp(),
                  comment="when `skysift tns load` ran"),
    )


def downgrade() -> None:
    op.drop_table("tns_objects")
