"""Web sessions kept in the store (revocable), and confirmed email addresses.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Users who already had an email address keep receiving digests: their address counts as
confirmed from the time the user was made (docs/email.md).

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column(
        "email_verified_at", TS, nullable=True,
        comment="UTC time the owner confirmed the email address; NULL = not confirmed"))
    op.execute("UPDATE users SET email_verified_at = created WHERE email IS NOT NULL")
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.Text(), nullable=False, comment="sha256 hex of the session id"),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_web_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
