"""Initial schema: objects, sources, forced_sources, users, filters, topic_stats, ingest_stats.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = ("u", "g", "r", "i", "z", "y")
TS = sa.DateTime(timezone=True)
# BIGINT ids; INTEGER PRIMARY KEY (the 64-bit rowid) on SQLite
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = "JSON of every field, as sent"


def _d(name: str) -> sa.Column:
    return sa.Column(name, sa.Double(), nullable=True)


def _i(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=True)


def _objects_columns() -> list[sa.Column]:
    cols = [
        sa.Column("diaObjectId", ID64, autoincrement=False, nullable=False),
        _d("ra"), _d("decl"), _d("firstDiaSourceMjdTai"), _d("lastDiaSourceMjdTai"),
        _d("latest_psfFlux"), _i("nDiaSources"), _i("nPosDiaSources"),
    ]
    cols += [_i(f"n{b}Sources") for b in BANDS]
    for b in BANDS:
        cols += [_d(f"{b}_psfFlux"), _d(f"{b}_latestMJD"), _d(f"{b}_psfFluxMean"),
                 _d(f"{b}_psfFluxMeanErr")]
    cols += [_d("latestR"), _d("medianR"), _d("glat"),
             sa.Column("healpix", sa.BigInteger(), nullable=True)]
    # the diaObject's own columns, copied as sent (lsst.v11_1.diaObject)
    cols += [_d("validityStartMjdTai"), _d("raErr"), _d("decErr"), _d("ra_dec_Cov")]
    for b in BANDS:
        cols += [_d(f"{b}_psfFluxSigma"), _i(f"{b}_psfFluxNdata"), _d(f"{b}_fpFluxMean"),
                 _d(f"{b}_fpFluxMeanErr"), _d(f"{b}_scienceFluxMean"),
                 _d(f"{b}_scienceFluxMeanErr"), _d(f"{b}_psfFluxMin"), _d(f"{b}_psfFluxMax"),
                 _d(f"{b}_psfFluxMaxSlope"), _d(f"{b}_psfFluxErrMean")]
    cols += [
        sa.Column("diaObjectSourceId", sa.BigInteger(), nullable=True,
                  comment="diaSourceId of the alert whose diaObject record is kept"),
        sa.Column("diaObject", sa.Text(), nullable=True,
                  comment="JSON of the kept diaObject record, as sent"),
        sa.Column("updated", TS, nullable=False, comment="UTC time of the last recompute"),
    ]
    return cols


def upgrade() -> None:
    op.create_table(
        "objects", *_objects_columns(),
        sa.PrimaryKeyConstraint("diaObjectId", name=op.f("pk_objects")),
    )
    op.create_index(op.f("ix_objects_healpix"), "objects", ["healpix"])
    op.create_index(op.f("ix_objects_lastDiaSourceMjdTai"), "objects", ["lastDiaSourceMjdTai"])

    op.create_table(
        "sources",
        sa.Column("diaSourceId", ID64, autoincrement=False, nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), nullable=True),
        sa.Column("midpointMjdTai", sa.Double(), nullable=False),
        sa.Column("band", sa.Text(), nullable=True),
        _d("psfFlux"), _d("psfFluxErr"), _d("reliability"), _d("ra"), _d("dec"), _d("snr"),
        sa.Column("payload", sa.Text(), nullable=False, comment=JSON_DOC),
        sa.Column("ingested", TS, nullable=False),
        sa.PrimaryKeyConstraint("diaSourceId", name=op.f("pk_sources")),
    )
    op.create_index(op.f("ix_sources_diaObjectId"), "sources", ["diaObjectId"])

    op.create_table(
        "forced_sources",
        sa.Column("diaForcedSourceId", ID64, autoincrement=False, nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), nullable=True),
        sa.Column("midpointMjdTai", sa.Double(), nullable=False),
        sa.Column("band", sa.Text(), nullable=True),
        _d("psfFlux"), _d("psfFluxErr"),
        sa.Column("payload", sa.Text(), nullable=False, comment=JSON_DOC),
        sa.PrimaryKeyConstraint("diaForcedSourceId", name=op.f("pk_forced_sources")),
    )
    op.create_index(op.f("ix_forced_sources_diaObjectId"), "forced_sources", ["diaObjectId"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.Text(), nullable=False,
                  comment="sha256 hex of the API token; the token is never stored"),
        sa.Column("token_prefix", sa.Text(), nullable=False, comment="first 8 characters, to show"),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_power", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
    )

    op.create_table(
        "filters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), server_default="none", nullable=False),
        sa.Column("output", sa.Text(), server_default="plain", nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("byte_quota", sa.BigInteger(), server_default="100000000", nullable=False,
                  comment="bytes per UTC day; -1 = unlimited"),
        sa.Column("created", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("modified", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("expires", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", TS, nullable=True),
        sa.Column("last_run_at", TS, nullable=True),
        sa.CheckConstraint("output IN ('plain', 'lite', 'full', 'email')",
                           name=op.f("ck_filters_output")),
        sa.CheckConstraint("\"trigger\" IN ('none', 'alert', 'annotation', 'both')",
                           name=op.f("ck_filters_trigger")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_filters_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filters")),
        sa.UniqueConstraint("topic", name=op.f("uq_filters_topic")),
    )
    op.create_index(op.f("ix_filters_user_id"), "filters", ["user_id"])
    # case-insensitive unique filter names per user (an expression index, on both engines)
    op.create_index("uq_filters_user_id_lower_name", "filters",
                    ["user_id", sa.literal_column("lower(name)")], unique=True)

    op.create_table(
        "topic_stats",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC day"),
        sa.Column("records_produced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes_produced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("records_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_record_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("topic", "day", name=op.f("pk_topic_stats")),
    )

    op.create_table(
        "ingest_stats",
        sa.Column("day", sa.Date(), nullable=False, comment="UTC day"),
        sa.Column("alerts_ingested", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("alerts_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_batch_at", TS, nullable=True),
        sa.Column("last_batch_lag_s", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ingest_stats")),
    )


def downgrade() -> None:
    for table in ("ingest_stats", "topic_stats", "filters", "users", "forced_sources",
                  "sources", "objects"):
        op.drop_table(table)
