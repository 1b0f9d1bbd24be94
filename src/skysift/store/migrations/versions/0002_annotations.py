"""Annotators and annotations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("url", sa.Text(), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_annotators_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_annotators")),
    )
    op.create_index(op.f("ix_annotators_user_id"), "annotators", ["user_id"])

    op.create_table(
        "annotations",
        sa.Column("id", ID64, autoincrement=True, nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), nullable=False,
                  comment="not a foreign key: kept for objects the store has not seen yet"),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("classification", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Text(), server_default="", nullable=False),
        sa.Column("explanation", sa.Text(), server_default="", nullable=False),
        sa.Column("classdict", sa.Text(), nullable=True, comment="JSON object, as sent"),
        sa.Column("url", sa.Text(), server_default="", nullable=False),
        sa.Column("timestamp", TS, nullable=False, comment="UTC time of the last write"),
        sa.ForeignKeyConstraint(["topic"], ["annotators.topic"],
                                name=op.f("fk_annotations_topic_annotators"),
                                ondelete="CASCADE", onupdate="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
        sa.UniqueConstraint("diaObjectId", "topic", name=op.f("uq_annotations_diaObjectId_topic")),
    )
    op.create_index(op.f("ix_annotations_topic"), "annotations", ["topic"])


def downgrade() -> None:
    op.drop_table("annotations")
    op.drop_table("annotators")
