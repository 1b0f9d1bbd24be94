"""The batch engine: every active filter over one batch, in an in-memory SQLite database.

As in Lasair, each batch of objects is loaded into a small local database and every active
filter runs against it, so a filter only ever sees the objects of this batch. The engine is
built for ~1,000 filters per batch of ~1,000 objects:

- compiled SQL is cached per filter (on the :class:`ValidatedFilter`), and sqlite3 keeps a
  prepared statement per filter (``cached_statements``);
- the read-only guards are set once: an authorizer that allows only reads and the allowed
  functions (except while :meth:`BatchEngine.load` writes) and ``PRAGMA query_only``;
- one progress handler reads the current deadline from the engine.

One engine per thread: it is not safe to share between threads.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Self

from skysift.errors import BatchSchemaError, FilterError, StoreError
from skysift.filters.catalogue import KEY_COLUMN, OBJECTS, Catalogue
from skysift.filters.compile import compile_filter
from skysift.filters.engine import PROGRESS_STEPS, QueryResult, execute_sqlite
from skysift.store.functions import SQLITE_IMPLEMENTATIONS, register_sqlite_functions
from skysift.filters.validate import ValidatedFilter, validate_filter

__all__ = ["SQLITE_TYPES", "BatchEngine"]

SQLITE_TYPES = {"int": "INTEGER", "float": "REAL", "text": "TEXT", "bool": "INTEGER",
                "json": "TEXT"}
#: SQLite functions compiled filters may call, besides skysift's own.
SQLITE_BUILTINS = frozenset({"abs", "coalesce", "lower", "upper", "max", "min", "like", "iif",
                             "nullif", "round", "json_extract", "json_type"})
_READS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ})
_TEXT_CACHE = 4096


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class BatchEngine:
    """An in-memory SQLite database holding one batch, with the catalogue's tables.

    Parameters
    ----------
    catalogue
        The tables to create. ``objects.diaObjectId`` is the primary key; other tables with a
        ``diaObjectId`` column get an index on it. No other constraints.
    progress_steps
        SQLite virtual-machine steps between deadline checks (smaller: a more exact deadline
        when a slow function is called per row, at some cost).

    Examples
    --------
    >>> from skysift.filters.catalogue import Catalogue
    >>> engine = BatchEngine(Catalogue({"objects": {"diaObjectId": "int", "ra": "float"}}))
    >>> engine.load("objects", [{"diaObjectId": 1, "ra": 10.0}, {"diaObjectId": 2, "ra": 20.0}])
    >>> engine.run("SELECT diaObjectId FROM objects WHERE ra > 15", timeout_s=1, row_cap=10).rows
    [{'diaObjectId': 2}]
    """

    def __init__(self, catalogue: Catalogue, *, progress_steps: int = PROGRESS_STEPS) -> None:
        self.catalogue = catalogue
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False,
                                     cached_statements=_TEXT_CACHE)
        register_sqlite_functions(self._conn)
        self._columns: dict[str, tuple[str, ...]] = {}
        self._known: dict[str, frozenset[str]] = {}
        self._held: dict[str, frozenset[str]] = {}
        self._inserts: dict[str, str] = {}
        self._json: dict[str, list[int]] = {}
        for table in catalogue.tables:
            self._create(table)
        self._functions = (frozenset(SQLITE_IMPLEMENTATIONS) | SQLITE_BUILTINS
                           | catalogue.extra_functions)
        self._writing = False
        self._deadline = math.inf
        self._validated: OrderedDict[tuple[str, str | None], ValidatedFilter] = OrderedDict()
        self._conn.execute("PRAGMA query_only = 1")
        self._conn.set_authorizer(self._authorize)
        self._conn.set_progress_handler(self._past_deadline, progress_steps)

    # ------------------------------------------------------------------ setup and guards
    def add_table(self, table: str, columns: dict[str, str]) -> None:
        """Create a table that filters do not name but compiled SQL reads (``annotations``,
        read through annotator tables). Load it with :meth:`load`."""
        if table in self._columns:
            raise BatchSchemaError(f"table '{table}' is already in the batch database",
                                   table=table)
        self._writing = True
        try:
            self._conn.execute("PRAGMA query_only = 0")
            self._create(table, columns)
        finally:
            self._conn.execute("PRAGMA query_only = 1")
            self._writing = False

    def keep_columns(self, table: str, columns: Iterable[str] | None) -> None:
        """Hold only ``columns`` of a catalogue table (and its ``diaObjectId``) from now on;
        ``None`` holds every column again. The table is emptied when its columns change.

        The pipeline keeps only the ``objects`` columns that the active filters read
        (:attr:`ValidatedFilter.objects_columns`): SQLite reads a row's columns by walking its
        record header, so a filter over a 120-column row costs several times one over a narrow
        row (benchmarks/bench_filters.py). A filter that reads a column not held is refused
        by :meth:`run`.
        """
        if table not in self._columns or table not in self.catalogue.tables:
            raise BatchSchemaError(f"table '{table}' is not in the batch catalogue", table=table)
        every = self.catalogue.columns(table)
        if columns is None:
            wanted = every
        else:
            keep = set(columns) | {KEY_COLUMN}
            self.check_columns(table, keep)
            wanted = tuple(c for c in every if c in keep)
        if wanted == self._columns[table]:
            return
        self._writing = True
        try:
            self._conn.execute("PRAGMA query_only = 0")
            self._conn.execute(f"DROP TABLE {_quote(table)}")
            self._create(table, only=wanted)
        finally:
            self._conn.execute("PRAGMA query_only = 1")
            self._writing = False

    def check_columns(self, table: str, columns: Iterable[str],
                      filter_name: str | None = None) -> None:
        """Raise :class:`~skysift.errors.BatchSchemaError` (naming ``filter_name``) unless every
        one of ``columns`` is a column of the catalogue table ``table``.

        The pipeline asks this of each active filter before :meth:`keep_columns`, so that a
        filter reading a column the batch cannot hold fails alone."""
        if table not in self.catalogue.tables:
            raise BatchSchemaError(f"table '{table}' is not in the batch catalogue", table=table,
                                   filter=filter_name)
        unknown = set(columns) - set(self.catalogue.columns(table))
        if unknown:
            raise BatchSchemaError(f"unknown column(s) {sorted(unknown)} for batch table "
                                   f"'{table}'", table=table, filter=filter_name)

    def held_columns(self, table: str) -> tuple[str, ...]:
        """The columns ``table`` holds now."""
        return self._columns[table]

    def _create(self, table: str, types: dict[str, str] | None = None,
                only: tuple[str, ...] | None = None) -> None:
        columns = (tuple(types) if types is not None
                   else only if only is not None else self.catalogue.columns(table))
        defs = []
        for column in columns:
            kind = SQLITE_TYPES[types[column] if types is not None
                                else self.catalogue.type_of(table, column)]
            pk = (
                " PRIMARY KEY"
                if (table == OBJECTS and column == KEY_COLUMN and kind == "INTEGER")
                else ""
            )
            defs.append(f"{_quote(column)} {kind}{pk}")
        self._conn.execute(f"CREATE TABLE {_quote(table)} ({', '.join(defs)})")
        if table != OBJECTS and KEY_COLUMN in columns:
            self._conn.execute(
                f"CREATE INDEX {_quote('ix_' + table + '_' + KEY_COLUMN)} ON {_quote(table)} "
                f"({_quote(KEY_COLUMN)})")
        verb = "INSERT OR REPLACE" if table == OBJECTS else "INSERT"
        marks = ", ".join("?" for _ in columns)
        self._inserts[table] = (f"{verb} INTO {_quote(table)} ({', '.join(map(_quote, columns))}) "
                                f"VALUES ({marks})")
        self._columns[table] = columns
        self._held[table] = frozenset(columns)
        # what load() accepts: every catalogue column (those not held are ignored)
        self._known[table] = frozenset(
            self.catalogue.columns(table) if table in self.catalogue.tables else columns)
        self._json[table] = [i for i, c in enumerate(columns)
                             if (types[c] if types is not None
                                 else self.catalogue.type_of(table, c)) == "json"]

    def _authorize(self, action: int, arg1: Any, arg2: Any, _db: Any, _source: Any) -> int:
        if self._writing or action in _READS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in self._functions:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    def _past_deadline(self) -> bool:
        return time.monotonic() > self._deadline

    # ------------------------------------------------------------------ data
    def load(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Replace the contents of ``table`` with ``rows`` (missing keys are NULL).

        ``objects`` rows with the same diaObjectId replace each other (the last wins), as
        Lasair's ``REPLACE INTO objects`` does. Keys that are not columns of the table are an
        error, except catalogue columns left out by :meth:`keep_columns` (ignored).
        """
        if table not in self._columns:
            raise BatchSchemaError(f"table '{table}' is not in the batch catalogue", table=table)
        columns = self._columns[table]
        known = self._known[table]
        json_at = self._json[table]
        values = []
        for row in rows:
            if not known.issuperset(row):
                unknown = sorted(set(row) - known)
                raise BatchSchemaError(f"unknown column(s) {unknown} for batch table '{table}'",
                                       table=table)
            value = [row.get(c) for c in columns]
            for i in json_at:
                if value[i] is not None and not isinstance(value[i], str):
                    value[i] = json.dumps(value[i])
            values.append(value)
        self._write([f"DELETE FROM {_quote(table)}"], self._inserts[table], values)

    def clear(self) -> None:
        """Empty every table."""
        self._write([f"DELETE FROM {_quote(t)}" for t in self._columns], None, [])

    def _write(self, statements: list[str], insert: str | None, values: list[list[Any]]) -> None:
        self._writing = True
        conn = self._conn
        try:
            conn.execute("PRAGMA query_only = 0")
            conn.execute("BEGIN")
            try:
                for statement in statements:
                    conn.execute(statement)
                if insert is not None and values:
                    conn.executemany(insert, values)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(f"could not load the batch: {exc}") from exc
            conn.execute("COMMIT")
        finally:
            conn.execute("PRAGMA query_only = 1")
            self._writing = False

    # ------------------------------------------------------------------ filters
    def prepare(self, vf: ValidatedFilter) -> str:
        """The SQLite text of ``vf`` (compiled once, then cached on ``vf``)."""
        return compile_filter(vf, "sqlite")

    def run(
        self,
        vf_or_sql: ValidatedFilter | str,
        *,
        timeout_s: float,
        row_cap: int,
        filter_name: str | None = None,
        restrict_ids: Sequence[int] | None = None,
    ) -> QueryResult:
        """Run one filter over the batch.

        Parameters
        ----------
        vf_or_sql
            A :class:`ValidatedFilter`, or filter SQL (validated against this engine's
            catalogue, and the result cached by text).
        timeout_s, row_cap
            Deadline and the most rows to return (see :func:`skysift.filters.engine.run_query`).
        filter_name
            Carried in errors; defaults to the filter's own name.
        restrict_ids
            Only these diaObjectIds (annotation-triggered runs).

        Raises
        ------
        FilterSyntaxError, FilterRejected
            ``vf_or_sql`` was text that does not validate.
        FilterTimeout, FilterError
            As :func:`skysift.filters.engine.run_query`.
        """
        if row_cap < 0 or timeout_s <= 0:
            raise ValueError("row_cap must be >= 0 and timeout_s > 0")
        vf = self._validate(vf_or_sql, filter_name) if isinstance(vf_or_sql, str) else vf_or_sql
        name = filter_name if filter_name is not None else vf.name
        held = self._held.get(OBJECTS)
        if held is not None and OBJECTS in vf.tables and not held.issuperset(vf.objects_columns):
            missing = sorted(vf.objects_columns - held)
            raise FilterError(f"the batch holds no column(s) {missing} for this filter "
                              "(BatchEngine.keep_columns left them out)", filter=name)
        sql = (self.prepare(vf) if restrict_ids is None
               else compile_filter(vf, "sqlite", restrict_ids=restrict_ids))
        started = time.perf_counter()
        self._deadline = time.monotonic() + timeout_s
        try:
            return execute_sqlite(self._conn, sql, row_cap=row_cap, filter_name=name,
                                  started=started)
        finally:
            self._deadline = math.inf

    def _validate(self, sql: str, name: str | None) -> ValidatedFilter:
        key = (sql, name)
        vf = self._validated.get(key)
        if vf is None:
            vf = validate_filter(sql, self.catalogue, name=name)
            self._validated[key] = vf
            if len(self._validated) > _TEXT_CACHE:
                self._validated.popitem(last=False)
        return vf

    def register_function(self, name: str, nargs: int, func: Any) -> None:
        """Add an SQL function to the batch database (for tests: ``sleep``). A filter can call
        it only if the catalogue lists it in ``extra_functions``."""
        self._conn.create_function(name, nargs, func)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
