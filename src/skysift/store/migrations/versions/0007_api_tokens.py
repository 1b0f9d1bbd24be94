"""API tokens: several per user, each named, dated and revocable.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Every user's existing token (the hash in ``users.token_hash``) becomes their first row here, so
no script is logged out by the upgrade.

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False,
                  comment="sha256 hex of the token; the token is never stored"),
        sa.Column("token_prefix", sa.Text(), nullable=False, comment="first 8 characters, to show"),
        sa.Column("created", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("last_used", TS, nullable=True,
                  comment="UTC time of the last call (to the minute)"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.execute("INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, created) "
               "SELECT id, 'first', token_hash, token_prefix, created FROM users")


def downgrade() -> None:
    op.drop_table("api_tokens")
