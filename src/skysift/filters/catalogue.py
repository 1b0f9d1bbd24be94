"""The catalogue of tables and columns a filter may use.

A :class:`Catalogue` is the allow-list the validator checks every table and column against. The
store builds the real one from its models; tests build their own. Names are kept exactly as the
database spells them (``diaObjectId``, ``g_psfFlux``); lookups from user SQL are case-insensitive,
as they are in Lasair's MySQL, and return the catalogue's spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["COLUMN_TYPES", "KEY_COLUMN", "OBJECTS", "Catalogue"]

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
