"""The store's tables, as SQLAlchemy Core ``Table`` objects.

The same definitions serve SQLite and PostgreSQL. Column names are Lasair's and Rubin's camelCase
spelling; SQLAlchemy quotes them, so in raw PostgreSQL SQL write ``"diaObjectId"``.

The migrations in ``skysift/store/migrations/versions`` create exactly this ``metadata`` (a test
compares them with Alembic's autogenerate on both engines). A change here needs a new migration.

Later issues add their tables in their own migrations (annotators 0002, context 0006).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from skysift.store.columns import COLUMNS

__all__ = [
    "DEFAULT_BYTE_QUOTA",
    "FORCED_COLUMNS",
    "OUTPUTS",
    "PAYLOAD_DOC",
    "SOURCE_COLUMNS",
    "TRIGGERS",
    "UTCDateTime",
    "annotations_table",
    "annotators",
    "api_tokens",
    "area_hits",
    "email_pending",
    "filters",
    "forced_sources",
    "gw_events",
    "gw_hits",
    "gw_maps",
    "ingest_stats",
    "metadata",
    "objects",
    "sources",
    "topic_stats",
    "users",
    "watchlist_cones",
    "watchlist_hits",
    "watchlists",
    "watchmaps",
    "web_sessions",
]

TRIGGERS = ("none", "alert", "annotation", "both")
OUTPUTS = ("plain", "lite", "full", "email")
DEFAULT_BYTE_QUOTA = 100_000_000
_BIGINT_OBJECT_COLUMNS = {"diaObjectId", "healpix", "htm16"}
#: 64-bit id primary keys: BIGINT on PostgreSQL; on SQLite ``INTEGER PRIMARY KEY``, which makes
#: the id the rowid (64-bit signed): no separate unique index, one B-tree lookup per id.
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (UTC), on both engines.

    SQLite keeps no time zone, so naive values read back are declared UTC; aware values written
    are converted to UTC first.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _object_columns() -> list[sa.Column[Any]]:
    cols: list[sa.Column[Any]] = []
    for doc in COLUMNS:
        if doc.name == "diaObjectId":
            cols.append(sa.Column("diaObjectId", ID64, primary_key=True,
                                  autoincrement=False))
        elif doc.name in _BIGINT_OBJECT_COLUMNS:
            cols.append(sa.Column(doc.name, sa.BigInteger))
        elif doc.type == "int":
            cols.append(sa.Column(doc.name, sa.Integer))
        elif doc.type == "float":
            cols.append(sa.Column(doc.name, sa.Double))
        else:
            cols.append(sa.Column(doc.name, sa.Text))
    cols += [
        sa.Column("diaObjectSourceId", sa.BigInteger,
                  comment="diaSourceId of the alert whose diaObject record is kept"),
        sa.Column("diaObject", sa.Text, comment="JSON of the kept diaObject record, as sent"),
        sa.Column("updated", UTCDateTime, nullable=False, default=_now,
                  comment="UTC time of the last recompute"),
    ]
    return cols


objects = sa.Table(
    "objects", metadata,
    *_object_columns(),
    sa.Index(None, "healpix"),
    sa.Index(None, "htm16"),
    sa.Index(None, "lastDiaSourceMjdTai"),
)

#: The ``sources`` / ``forced_sources`` columns that hold a record's own values (the id first);
#: ``payload`` holds the record's other fields (:func:`skysift.store.payloads.payload_beside`).
SOURCE_COLUMNS = ("diaSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr",
                  "reliability", "ra", "dec", "snr")
FORCED_COLUMNS = ("diaForcedSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux",
                  "psfFluxErr")
PAYLOAD_DOC = ("JSON of the fields the other columns do not hold as sent; every field when it "
               "holds the id")

sources = sa.Table(
    "sources", metadata,
    sa.Column("diaSourceId", ID64, primary_key=True, autoincrement=False),
    sa.Column("diaObjectId", sa.BigInteger, index=True),
    sa.Column("midpointMjdTai", sa.Double, nullable=False),
    sa.Column("band", sa.Text),
    sa.Column("psfFlux", sa.Double),
    sa.Column("psfFluxErr", sa.Double),
    sa.Column("reliability", sa.Double),
    sa.Column("ra", sa.Double),
    sa.Column("dec", sa.Double),
    sa.Column("snr", sa.Double),
    sa.Column("payload", sa.Text, nullable=False, comment=PAYLOAD_DOC),
    sa.Column("ingested", UTCDateTime, nullable=False, default=_now),
)

forced_sources = sa.Table(
    "forced_sources", metadata,
    sa.Column("diaForcedSourceId", ID64, primary_key=True, autoincrement=False),
    sa.Column("diaObjectId", sa.BigInteger, index=True),
    sa.Column("midpointMjdTai", sa.Double, nullable=False),
    sa.Column("band", sa.Text),
    sa.Column("psfFlux", sa.Double),
    sa.Column("psfFluxErr", sa.Double),
    sa.Column("payload", sa.Text, nullable=False, comment=PAYLOAD_DOC),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("email", sa.Text),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True,
              comment="sha256 hex of the API token; the token is never stored"),
    sa.Column("token_prefix", sa.Text, nullable=False, comment="first 8 characters, to show"),
    sa.Column("password_hash", sa.Text),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("is_power", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
    # migration 0005: digests go only to an address its owner has confirmed
    sa.Column("email_verified_at", UTCDateTime,
              comment="UTC time the owner confirmed the email address; NULL = not confirmed"),
)

#: Log-in sessions of the web site (migration 0005): the cookie holds a random session id, the
#: store its SHA-256. Logging out deletes the row; a password change deletes the user's rows.
web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("id_hash", sa.Text, primary_key=True, comment="sha256 hex of the session id"),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
)

filters = sa.Table(
    "filters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False, default="none", server_default="none"),
    sa.Column("output", sa.Text, nullable=False, default="plain", server_default="plain"),
    sa.Column("public", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("topic", sa.Text, unique=True),
    sa.Column("byte_quota", sa.BigInteger, nullable=False, default=DEFAULT_BYTE_QUOTA,
              server_default=str(DEFAULT_BYTE_QUOTA), comment="bytes per UTC day; -1 = unlimited"),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
    sa.Column("modified", UTCDateTime, nullable=False, default=_now, onupdate=_now,
              server_default=sa.func.current_timestamp()),
    sa.Column("expires", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("last_run_at", UTCDateTime),
    # email digests, failure notices and expiry (migration 0003; see skysift.notify)
    sa.Column("last_email_at", UTCDateTime, comment="UTC time of the last digest sent"),
    sa.Column("error_email_at", UTCDateTime,
              comment="UTC time of the last run-failure notice sent to the owner"),
    sa.Column("expiry_warned_at", UTCDateTime,
              comment="UTC time the owner was warned that the filter expires soon"),
    sa.CheckConstraint("\"trigger\" IN ('none', 'alert', 'annotation', 'both')", name="trigger"),
    sa.CheckConstraint("output IN ('plain', 'lite', 'full', 'email')", name="output"),
)
# A user cannot have two filters whose names differ only in case (Lasair's rule).
sa.Index("uq_filters_user_id_lower_name", filters.c.user_id, sa.func.lower(filters.c.name),
         unique=True)

topic_stats = sa.Table(
    "topic_stats", metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True, comment="UTC day"),
    sa.Column("records_produced", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("bytes_produced", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("records_rejected", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("bytes_rejected", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("last_record_at", UTCDateTime),
)

# Matches of email filters waiting for the next digest (migration 0003): the selected columns
# and UTC as JSON, no light curve. diaSourceId (of the triggering detection) makes a batch that
# is processed again after a crash add nothing twice.
email_pending = sa.Table(
    "email_pending", metadata,
    sa.Column("id", ID64, primary_key=True, autoincrement=True),
    sa.Column("filter_id", sa.Integer, sa.ForeignKey("filters.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("diaObjectId", sa.BigInteger),
    sa.Column("diaSourceId", sa.BigInteger),
    sa.Column("record", sa.Text, nullable=False, comment="JSON: selected columns and UTC"),
    sa.Column("matched", UTCDateTime, nullable=False, default=_now),
    sa.UniqueConstraint("filter_id", "diaSourceId"),
)

ingest_stats = sa.Table(
    "ingest_stats", metadata,
    sa.Column("day", sa.Date, primary_key=True, comment="UTC day"),
    sa.Column("alerts_ingested", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("alerts_rejected", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("last_batch_at", UTCDateTime),
    sa.Column("last_batch_lag_s", sa.Double),
)

# Annotators (migration 0002): a named topic (a valid SQL identifier) owned by one user, who alone
# may write its annotations. Filters join an annotator by its topic, used as a table alias.
annotators = sa.Table(
    "annotators", metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("url", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("public", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
)

# One live annotation per (object, annotator), replaced on update. diaObjectId is not a foreign
# key: an annotation for an object the store has not seen yet is kept and applies when it arrives.
annotations_table = sa.Table(
    "annotations", metadata,
    sa.Column("id", ID64, primary_key=True, autoincrement=True),
    sa.Column("diaObjectId", sa.BigInteger, nullable=False,
              comment="not a foreign key: kept for objects the store has not seen yet"),
    sa.Column("topic", sa.Text,
              sa.ForeignKey("annotators.topic", ondelete="CASCADE", onupdate="CASCADE"),
              nullable=False, index=True),
    sa.Column("classification", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("version", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("explanation", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("classdict", sa.Text, comment="JSON object, as sent"),
    sa.Column("url", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("timestamp", UTCDateTime, nullable=False, default=_now,
              comment="UTC time of the last write"),
    sa.UniqueConstraint("diaObjectId", "topic"),
)

# ---------------------------------------------------------------------------------------------
# Context (migration 0006; see skysift.context): watchlists, watchmaps, gravitational-wave events.
# Hit tables are many-to-many: one object may hit several cones, lists, areas and events.

watchlists = sa.Table(
    "watchlists", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("public", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("radius_arcsec", sa.Double, nullable=False,
              comment="default cone radius (arcsec), for cones without their own"),
    sa.Column("n_cones", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
    sa.Column("modified", UTCDateTime, nullable=False, default=_now, onupdate=_now,
              server_default=sa.func.current_timestamp()),
)

watchlist_cones = sa.Table(
    "watchlist_cones", metadata,
    sa.Column("cone_id", ID64, primary_key=True, autoincrement=True),
    sa.Column("wl_id", sa.Integer, sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("ra", sa.Double, nullable=False, comment="degrees, ICRS"),
    sa.Column("decl", sa.Double, nullable=False, comment="degrees, ICRS"),
    sa.Column("name", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("radius_arcsec", sa.Double, comment="this cone's radius; NULL = the list's"),
)

watchlist_hits = sa.Table(
    "watchlist_hits", metadata,
    sa.Column("diaObjectId", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("cone_id", sa.BigInteger,
              sa.ForeignKey("watchlist_cones.cone_id", ondelete="CASCADE"),
              primary_key=True, autoincrement=False),
    sa.Column("wl_id", sa.Integer, sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("arcsec", sa.Double, nullable=False, comment="angular separation (arcsec)"),
)

watchmaps = sa.Table(
    "watchmaps", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("public", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("moc", sa.Text, nullable=False, comment="the MOC, mocpy's ASCII serialisation"),
    sa.Column("area_deg2", sa.Double, nullable=False, comment="sky area (deg2)"),
    sa.Column("max_order", sa.Integer, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
    sa.Column("modified", UTCDateTime, nullable=False, default=_now, onupdate=_now,
              server_default=sa.func.current_timestamp()),
)

area_hits = sa.Table(
    "area_hits", metadata,
    sa.Column("ar_id", sa.Integer, sa.ForeignKey("watchmaps.id", ondelete="CASCADE"),
              primary_key=True, autoincrement=False),
    sa.Column("diaObjectId", sa.BigInteger, primary_key=True, autoincrement=False, index=True),
)

gw_events = sa.Table(
    "gw_events", metadata,
    sa.Column("superevent_id", sa.Text, primary_key=True),
    sa.Column("alert_type", sa.Text, nullable=False, comment="of the latest notice"),
    sa.Column("alert_time", UTCDateTime, nullable=False,
              comment="time_created of the latest notice"),
    sa.Column("t_event", sa.Double, comment="event time (MJD, TAI scale as midpointMjdTai)"),
    sa.Column("far", sa.Double, comment="false alarm rate (Hz)"),
    sa.Column("significant", sa.Boolean),
    sa.Column("gw_group", sa.Text, comment="CBC or Burst (the notice's event.group)"),
    sa.Column("p_BNS", sa.Double), sa.Column("p_NSBH", sa.Double),
    sa.Column("p_BBH", sa.Double), sa.Column("p_Terrestrial", sa.Double),
    sa.Column("HasNS", sa.Double), sa.Column("HasRemnant", sa.Double),
    sa.Column("HasMassGap", sa.Double),
    sa.Column("area50", sa.Double, comment="50% credible area (deg2)"),
    sa.Column("area90", sa.Double, comment="90% credible area (deg2)"),
    sa.Column("dist_mean", sa.Double, comment="posterior mean distance (Mpc)"),
    sa.Column("dist_std", sa.Double, comment="posterior distance standard deviation (Mpc)"),
    sa.Column("retracted", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("map_version", sa.Integer, comment="the gw_maps version in use; NULL = no map"),
    sa.Column("updated", UTCDateTime, nullable=False, default=_now, onupdate=_now,
              server_default=sa.func.current_timestamp()),
)

crossmatch_tns = sa.Table(
    "crossmatch_tns", metadata,
    sa.Column("tns_name", sa.Text, primary_key=True, comment="e.g. 2025abc (no prefix)"),
    sa.Column("tns_prefix", sa.Text, comment="AT, SN, TDE, ..."),
    sa.Column("ra", sa.Double, nullable=False, comment="deg"),
    sa.Column("decl", sa.Double, nullable=False, comment="deg"),
    sa.Column("z", sa.Double, comment="redshift"),
    sa.Column("type", sa.Text, comment="classification, e.g. SN Ia; NULL when unclassified"),
    sa.Column("disc_date", sa.Text, comment="discovery date, as TNS writes it (UTC)"),
    sa.Column("internal_names", sa.Text),
    sa.Column("loaded", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp(), comment="when `skysift tns load` ran"),
)

gw_maps = sa.Table(
    "gw_maps", metadata,
    sa.Column("superevent_id", sa.Text,
              sa.ForeignKey("gw_events.superevent_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("alert_type", sa.Text, nullable=False),
    sa.Column("alert_time", UTCDateTime, nullable=False),
    sa.Column("fits", sa.LargeBinary, nullable=False, comment="the multi-order sky map, as sent"),
)

gw_hits = sa.Table(
    "gw_hits", metadata,
    sa.Column("superevent_id", sa.Text,
              sa.ForeignKey("gw_events.superevent_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("diaObjectId", sa.BigInteger, primary_key=True, autoincrement=False, index=True),
    sa.Column("contour", sa.Double, nullable=False,
              comment="credible level (0-1) of the object's position in the latest map"),
    sa.Column("probdens2", sa.Double, nullable=False, comment="probability per deg2 there"),
    sa.Column("t_gw", sa.Double, comment="days from the event to the first detection"),
)

#: API tokens (migration 0007): a user may hold several (one per script or machine), each
#: revocable; only the SHA-256 of a token is kept. ``users.token_hash`` holds the hash of the
#: token the user was made with (kept for old rows; tokens are looked up here).
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True,
              comment="sha256 hex of the token; the token is never stored"),
    sa.Column("token_prefix", sa.Text, nullable=False, comment="first 8 characters, to show"),
    sa.Column("created", UTCDateTime, nullable=False, default=_now,
              server_default=sa.func.current_timestamp()),
    sa.Column("last_used", UTCDateTime, comment="UTC time of the last call (to the minute)"),
)
