"""Context: watchlists and their cones and hits, watchmaps and area hits, gravitational-wave
events, their sky maps and hits (skysift.context).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.schema`` say; a schema change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.func.current_timestamp()


def _owned() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "watchlists",
        *_owned(),
        sa.Column("radius_arcsec", sa.Double(), nullable=False,
                  comment="default cone radius (arcsec), for cones without their own"),
        sa.Column("n_cones", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", TS, server_default=NOW, nullable=False),
        sa.Column("modified", TS, server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watchlists_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlists")),
    )
    op.create_index(op.f("ix_watchlists_user_id"), "watchlists", ["user_id"])
    op.create_table(
        "watchlist_cones",
        sa.Column("cone_id", ID64, autoincrement=True, nullable=False),
        sa.Column("wl_id", sa.Integer(), nullable=False),
        sa.Column("ra", sa.Double(), nullable=False, comment="degrees, ICRS"),
        sa.Column("decl", sa.Double(), nullable=False, comment="degrees, ICRS"),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("radius_arcsec", sa.Double(), nullable=True,
                  comment="this cone's radius; NULL = the list's"),
        sa.ForeignKeyConstraint(["wl_id"], ["watchlists.id"],
                                name=op.f("fk_watchlist_cones_wl_id_watchlists"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cone_id", name=op.f("pk_watchlist_cones")),
    )
    op.create_index(op.f("ix_watchlist_cones_wl_id"), "watchlist_cones", ["wl_id"])
    op.create_table(
        "watchlist_hits",
        sa.Column("diaObjectId", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("cone_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("wl_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("arcsec", sa.Double(), nullable=False, comment="angular separation (arcsec)"),
        sa.ForeignKeyConstraint(["cone_id"], ["watchlist_cones.cone_id"],
                                name=op.f("fk_watchlist_hits_cone_id_watchlist_cones"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["wl_id"], ["watchlists.id"],
                                name=op.f("fk_watchlist_hits_wl_id_watchlists"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("diaObjectId", "cone_id", name=op.f("pk_watchlist_hits")),
    )
    op.create_index(op.f("ix_watchlist_hits_wl_id"), "watchlist_hits", ["wl_id"])
    op.create_table(
        "watchmaps",
        *_owned(),
        sa.Column("moc", sa.Text(), nullable=False, comment="the MOC, mocpy's ASCII serialisation"),
        sa.Column("area_deg2", sa.Double(), nullable=False, comment="sky area (deg2)"),
        sa.Column("max_order", sa.Integer(), nullable=False),
        sa.Column("created", TS, server_default=NOW, nullable=False),
        sa.Column("modified", TS, server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watchmaps_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchmaps")),
    )
    op.create_index(op.f("ix_watchmaps_user_id"), "watchmaps", ["user_id"])
    op.create_table(
        "area_hits",
        sa.Column("ar_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["ar_id"], ["watchmaps.id"],
                                name=op.f("fk_area_hits_ar_id_watchmaps"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ar_id", "diaObjectId", name=op.f("pk_area_hits")),
    )
    op.create_index(op.f("ix_area_hits_diaObjectId"), "area_hits", ["diaObjectId"])
    op.create_table(
        "gw_events",
        sa.Column("superevent_id", sa.Text(), nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False, comment="of the latest notice"),
        sa.Column("alert_time", TS, nullable=False, comment="time_created of the latest notice"),
        sa.Column("t_event", sa.Double(), nullable=True,
                  comment="event time (MJD, TAI scale as midpointMjdTai)"),
        sa.Column("far", sa.Double(), nullable=True, comment="false alarm rate (Hz)"),
        sa.Column("significant", sa.Boolean(), nullable=True),
        sa.Column("gw_group", sa.Text(), nullable=True,
                  comment="CBC or Burst (the notice's event.group)"),
        sa.Column("p_BNS", sa.Double(), nullable=True),
        sa.Column("p_NSBH", sa.Double(), nullable=True),
        sa.Column("p_BBH", sa.Double(), nullable=True),
        sa.Column("p_Terrestrial", sa.Double(), nullable=True),
        sa.Column("HasNS", sa.Double(), nullable=True),
        sa.Column("HasRemnant", sa.Double(), nullable=True),
        sa.Column("HasMassGap", sa.Double(), nullable=True),
        sa.Column("area50", sa.Double(), nullable=True, comment="50% credible area (deg2)"),
        sa.Column("area90", sa.Double(), nullable=True, comment="90% credible area (deg2)"),
        sa.Column("dist_mean", sa.Double(), nullable=True, comment="posterior mean distance (Mpc)"),
        sa.Column("dist_std", sa.Double(), nullable=True,
                  comment="posterior distance standard deviation (Mpc)"),
        sa.Column("retracted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("map_version", sa.Integer(), nullable=True,
                  comment="the gw_maps version in use; NULL = no map"),
        sa.Column("updated", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("superevent_id", name=op.f("pk_gw_events")),
    )
    op.create_table(
        "gw_maps",
        sa.Column("superevent_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False),
        sa.Column("alert_time", TS, nullable=False),
        sa.Column("fits", sa.LargeBinary(), nullable=False,
                  comment="the multi-order sky map, as sent"),
        sa.ForeignKeyConstraint(["superevent_id"], ["gw_events.superevent_id"],
                                name=op.f("fk_gw_maps_superevent_id_gw_events"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("superevent_id", "version", name=op.f("pk_gw_maps")),
    )
    op.create_table(
        "gw_hits",
        sa.Column("superevent_id", sa.Text(), nullable=False),
        sa.Column("diaObjectId", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contour", sa.Double(), nullable=False,
                  comment="credible level (0-1) of the object's position in the latest map"),
        sa.Column("probdens2", sa.Double(), nullable=False, comment="probability per deg2 there"),
        sa.Column("t_gw", sa.Double(), nullable=True,
                  comment="days from the event to the first detection"),
        sa.ForeignKeyConstraint(["superevent_id"], ["gw_events.superevent_id"],
                                name=op.f("fk_gw_hits_superevent_id_gw_events"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("superevent_id", "diaObjectId", name=op.f("pk_gw_hits")),
    )
    op.create_index(op.f("ix_gw_hits_diaObjectId"), "gw_hits", ["diaObjectId"])


def downgrade() -> None:
    for table in ("gw_hits", "gw_maps", "gw_events", "area_hits", "watchmaps", "watchlist_hits",
                  "watchlist_cones", "watchlists"):
        op.drop_table(table)
