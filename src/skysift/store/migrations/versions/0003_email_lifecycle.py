"""Email digests and the filter lifecycle: pending matches, digest/notice/expiry timestamps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("filters", sa.Column("last_email_at", TS, nullable=True,
                                       comment="UTC time of the last digest sent"))
    op.add_column("filters", sa.Column(
        "error_email_at", TS, nullable=True,
        comment="UTC time of the last run-failure notice sent to the owner"))
    op.add_column("filters", sa.Column(
        "expiry_warned_at", TS, nullable=True,
        comment="UTC time the owner was warned that the filter expires soon"))
    op.create_table(
        "email_pending",
        sa.Column("id", ID64, autoincrement=True, nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), nullable=True),
        sa.Column("diaSourceId", sa.BigInteger(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False,
                  comment="JSON: selected columns and UTC"),
        sa.Column("matched", TS, nullable=False),
        sa.ForeignKeyConstraint(["filter_id"], ["filters.id"],
                                name=op.f("fk_email_pending_filter_id_filters"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_pending")),
        sa.UniqueConstraint("filter_id", "diaSourceId",
                            name=op.f("uq_email_pending_filter_id_diaSourceId")),
    )
    op.create_index(op.f("ix_email_pending_filter_id"), "email_pending", ["filter_id"])


def downgrade() -> None:
    op.drop_table("email_pending")
    with op.batch_alter_table("filters") as batch:
        batch.drop_column("expiry_warned_at")
        batch.drop_column("error_email_at")
        batch.drop_column("last_email_at")
