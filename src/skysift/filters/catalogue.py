"""The catalogue of tables and columns a filter may use: the one module that owns it.

A :class:`Catalogue` is the allow-list the validator checks every table and column against.
:func:`catalogue` is the product's: the ``objects`` columns documented in
:mod:`skysift.store.columns` and the context tables of :mod:`skysift.context.tables`; a user's
(:func:`user_catalogue`) adds the annotators, watchlists and watchmaps they may use. Names are
kept exactly as the database spells them (``diaObjectId``, ``g_psfFlux``); lookups from user SQL
are case-insensitive, as they are in Lasair's MySQL, and return the catalogue's spelling.

An annotator is a table of the filter language named by its topic, with the columns of
:data:`ANNOTATOR_COLUMNS`; ``FROM objects, fruitbat`` joins it on diaObjectId (an implicit join,
as for any table with that column). Public annotators are usable by everyone; a private one only
by its owner. The compiler reads the table from ``annotations`` restricted to the topic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sqlalchemy as sa

from skysift.context.owned import visible_ids
from skysift.context.tables import CONTEXT_TABLES, JOIN_KEYS, SCOPED
from skysift.store.columns import filter_catalogue
from skysift.store.schema import annotators, watchlists, watchmaps

__all__ = ["ANNOTATOR_COLUMNS", "BATCH_ANNOTATIONS_COLUMNS", "COLUMN_TYPES", "KEY_COLUMN",
           "OBJECTS", "Catalogue", "annotator_acl", "catalogue", "catalogue_with",
           "user_catalogue", "visible_context", "visible_topics"]

#: The column types a catalogue may declare.
COLUMN_TYPES = frozenset({"int", "float", "text", "bool", "json"})
#: The table every filter reads; its ``diaObjectId`` is the Kafka key of every record.
OBJECTS = "objects"
KEY_COLUMN = "diaObjectId"


@dataclass(frozen=True, init=False)
class Catalogue:
    """Tables and columns that filters may read, with their types.

    Parameters
    ----------
    tables
        ``{table: {column: type}}`` where type is one of ``int, float, text, bool, json``.
        Column order is kept (it is the order ``SELECT *`` expands to).
    extra_functions
        Names of further SQL functions to allow, passed through to the database unchanged.
        **For tests only** (e.g. ``sleep`` to make timeouts deterministic); the catalogue the
        service builds never sets it.
    annotators
        Which of ``tables`` are annotators (see :mod:`skysift.annotations`): the compiler reads
        each from the ``annotations`` table, restricted to that topic.
    scopes
        ``{table: (column, ids)}``: the compiler reads ``table`` only where ``column`` is one
        of ``ids`` (a user's filters read the rows of their own and public watchlists and
        watchmaps; see :mod:`skysift.context.tables`).
    join_keys
        ``{table: (column, other)}``: a table without diaObjectId, listed after a comma, is
        joined to ``other`` on ``column`` when both are in FROM (``gw_events`` to ``gw_hits``).

    Examples
    --------
    >>> cat = Catalogue({"objects": {"diaObjectId": "int", "ra": "float"}})
    >>> cat.has("objects", "ra"), cat.has("objects", "dec")
    (True, False)
    >>> cat.find_column("objects", "DIAOBJECTID")
    'diaObjectId'
    """

    tables: Mapping[str, Mapping[str, str]]
    extra_functions: frozenset[str] = field(default=frozenset())
    annotators: frozenset[str] = field(default=frozenset())
    scopes: Mapping[str, tuple[str, frozenset[int]]] = field(default_factory=dict)
    join_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    _lower_tables: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _lower_columns: Mapping[str, Mapping[str, str]] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, str]],
        *,
        extra_functions: Iterable[str] = (),
        annotators: Iterable[str] = (),
        scopes: Mapping[str, tuple[str, Iterable[int]]] | None = None,
        join_keys: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        frozen: dict[str, Mapping[str, str]] = {}
        lower_tables: dict[str, str] = {}
        lower_columns: dict[str, Mapping[str, str]] = {}
        for table, columns in tables.items():
            if table.lower() in lower_tables:
                raise ValueError(f"table {table!r} is declared twice (names are case-insensitive)")
            lower_tables[table.lower()] = table
            cols: dict[str, str] = {}
            lower: dict[str, str] = {}
            for column, kind in columns.items():
                if kind not in COLUMN_TYPES:
                    raise ValueError(f"column {table}.{column} has unknown type {kind!r}")
                if column.lower() in lower:
                    raise ValueError(f"column {table}.{column} is declared twice")
                cols[column] = kind
                lower[column.lower()] = column
            frozen[table] = MappingProxyType(cols)
            lower_columns[table] = MappingProxyType(lower)
        object.__setattr__(self, "tables", MappingProxyType(frozen))
        object.__setattr__(self, "extra_functions", frozenset(f.lower() for f in extra_functions))
        unknown = [a for a in annotators if a not in frozen]
        if unknown:
            raise ValueError(f"annotator tables {unknown} are not declared as tables")
        object.__setattr__(self, "annotators", frozenset(annotators))
        scoped: dict[str, tuple[str, frozenset[int]]] = {}
        for table, (column, ids) in (scopes or {}).items():
            if column not in frozen.get(table, {}):
                raise ValueError(f"scope {table}.{column} is not a declared column")
            scoped[table] = (column, frozenset(int(i) for i in ids))
        object.__setattr__(self, "scopes", MappingProxyType(scoped))
        keys: dict[str, tuple[str, str]] = {}
        for table, (column, other) in (join_keys or {}).items():
            if table in frozen and other in frozen:
                keys[table] = (column, other)
        object.__setattr__(self, "join_keys", MappingProxyType(keys))
        object.__setattr__(self, "_lower_tables", MappingProxyType(lower_tables))
        object.__setattr__(self, "_lower_columns", MappingProxyType(lower_columns))

    def has(self, table: str, column: str) -> bool:
        """Whether ``table.column`` exists (exact spelling)."""
        return column in self.tables.get(table, {})

    def find_table(self, name: str) -> str | None:
        """The catalogue's spelling of table ``name`` (any case), or None."""
        return self._lower_tables.get(name.lower())

    def find_column(self, table: str, name: str) -> str | None:
        """The catalogue's spelling of column ``name`` (any case) in ``table``, or None."""
        return self._lower_columns.get(table, {}).get(name.lower())

    def columns(self, table: str) -> tuple[str, ...]:
        """The columns of ``table`` in declaration order."""
        return tuple(self.tables[table])

    def type_of(self, table: str, column: str) -> str:
        """The declared type of ``table.column``."""
        return self.tables[table][column]


# ---------------------------------------------------------------- the product's catalogue

ANNOTATOR_COLUMNS = {
    "diaObjectId": "int", "classification": "text", "version": "text", "explanation": "text",
    "classdict": "json", "url": "text", "timestamp": "text",
}
#: The batch engine's ``annotations`` table (the compiled filters read annotators from it).
BATCH_ANNOTATIONS_COLUMNS = {
    "diaObjectId": "int", "topic": "text", "classification": "text", "version": "text",
    "explanation": "text", "classdict": "json", "url": "text", "timestamp": "text",
}


def visible_topics(conn: sa.Connection, user_id: int | None) -> frozenset[str]:
    """Annotator topics ``user_id`` may use in filters: public ones and their own."""
    cond: sa.ColumnElement[bool] = annotators.c.public.is_(True)
    if user_id is not None:
        cond = sa.or_(cond, annotators.c.user_id == user_id)
    return frozenset(r[0] for r in conn.execute(sa.select(annotators.c.topic).where(cond)))


@functools.lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The allow-list of tables and columns a filter may use: ``objects`` and the context
    tables (skysift.context.tables). The scoped ones (watchlist and watchmap hits) read no
    rows here; a user's catalogue (:func:`user_catalogue`) opens the lists and maps that user
    may read, and adds the annotators they may read."""
    return Catalogue({**filter_catalogue(), **CONTEXT_TABLES},
                     scopes={t: (c, ()) for t, c in SCOPED.items()}, join_keys=JOIN_KEYS)


@functools.lru_cache(maxsize=256)
def catalogue_with(topics: frozenset[str], watchlists: frozenset[int] = frozenset(),
                   watchmaps: frozenset[int] = frozenset()) -> Catalogue:
    """The documented catalogue plus these annotator tables, reading the hits of these
    watchlists and watchmaps (cached per combination)."""
    base = catalogue()
    if not topics and not watchlists and not watchmaps:
        return base
    tables = dict(base.tables)
    for topic in sorted(topics):
        if base.find_table(topic) is None:
            tables[topic] = ANNOTATOR_COLUMNS
    ids = {"watchlist_hits": watchlists, "area_hits": watchmaps}
    return Catalogue(tables, extra_functions=base.extra_functions,
                     annotators=[t for t in topics if t in tables],
                     scopes={t: (c, ids.get(t, frozenset())) for t, c in SCOPED.items()},
                     join_keys=base.join_keys)


def visible_context(conn: sa.Connection, user_id: int | None) -> tuple[frozenset[int],
                                                                       frozenset[int]]:
    """Ids of the watchlists and watchmaps ``user_id``'s filters read: public ones and theirs."""
    return visible_ids(conn, watchlists, user_id), visible_ids(conn, watchmaps, user_id)


def user_catalogue(conn: sa.Connection, user_id: int | None) -> Catalogue:
    """The catalogue for validating ``user_id``'s filters and queries."""
    return catalogue_with(visible_topics(conn, user_id), *visible_context(conn, user_id))


def annotator_acl(conn: sa.Connection) -> list[tuple[str, int, bool]]:
    """(topic, owner id, public) of every annotator."""
    return [(r[0], int(r[1]), bool(r[2])) for r in conn.execute(
        sa.select(annotators.c.topic, annotators.c.user_id, annotators.c.public))]
