"""Validate a Lasair-style SQL filter: parse it, allow-list it, resolve its names.

A filter is ``SELECT <columns> FROM objects [, other tables] WHERE <conditions> [ORDER BY ...]``
written in MySQL's dialect, as Lasair users write it. :func:`validate_filter` parses it with
sqlglot, rejects anything outside the allow-list with a message that names the offending part,
qualifies every column, and returns a :class:`ValidatedFilter` that
:func:`skysift.filters.compile.compile_filter` turns into SQLite or PostgreSQL.

docs/filters.md describes the language for users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from skysift.errors import FilterRejected, FilterSyntaxError
from skysift.filters import allowlist, jsonpath, resolve
from skysift.filters.catalogue import KEY_COLUMN, OBJECTS, Catalogue

__all__ = ["HIDDEN_KEY", "MAX_DEPTH", "MAX_SQL_CHARS", "ValidatedFilter", "nesting_depth",
           "validate_filter"]

#: The result column that carries objects.diaObjectId when the filter does not select it.
HIDDEN_KEY = "__diaObjectId"
MAX_SQL_CHARS = 20_000
MAX_NODES = 5_000
#: Deepest nesting of expressions (``-(-(-x))``, ``abs(abs(x))``...); chains of one operator
#: (``a AND b AND c``, ``x + 1 + 1``) count once. Deeper trees cannot be compiled or printed
#: without exhausting Python's recursion limit.
MAX_DEPTH = 50
READ_DIALECT = "mysql"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True, eq=False)
class ValidatedFilter:
    """A filter that passed validation. Treat every field as read-only.

    Attributes
    ----------
    sql
        The SQL as the user wrote it.
    columns
        The output column names, in order: the keys of a plain Kafka record.
    tables
        The catalogue tables the filter reads, in FROM order, each once.
    ast
        The checked sqlglot tree (MySQL dialect): columns qualified and quoted, stars expanded,
        functions canonical, implicit joins added, comments removed.
    name
        The filter's name, used in errors.
    key_output
        ``"diaObjectId"`` when that output column is ``objects.diaObjectId``; otherwise None,
        and the compiled SQL adds :data:`HIDDEN_KEY` (``__diaObjectId``) as the last column.
        (``objects.diaObjectId AS id`` is an ordinary output: the key is still added.)
    objects_ref
        How the query names the objects table (``objects`` or its alias).
    annotators
        The annotator topics the filter reads as tables (see :mod:`skysift.annotations`).
    scopes
        ``{table: (column, ids)}`` for the scoped tables the filter reads (the compiler reads
        only those rows; see :class:`~skysift.filters.catalogue.Catalogue`).
    """

    sql: str
    columns: tuple[str, ...]
    tables: tuple[str, ...]
    ast: exp.Select
    name: str | None = None
    key_output: str | None = None
    objects_ref: str = OBJECTS
    annotators: tuple[str, ...] = ()
    scopes: dict[str, tuple[str, frozenset[int]]] = field(default_factory=dict)
    _compiled: dict[str, str] = field(default_factory=dict, repr=False)
    _objects_columns: list[frozenset[str]] = field(default_factory=list, repr=False)

    @property
    def selects_key(self) -> bool:
        """Whether objects.diaObjectId is one of the output columns."""
        return self.key_output is not None

    @property
    def result_key(self) -> str:
        """The result column holding the diaObjectId: ``key_output`` or ``__diaObjectId``."""
        return self.key_output or HIDDEN_KEY

    @property
    def objects_columns(self) -> frozenset[str]:
        """The ``objects`` columns the filter reads anywhere (output, WHERE, ON, ORDER BY),
        always with ``diaObjectId``: what a batch table must hold for it (computed once)."""
        if not self._objects_columns:
            used = {c.name for c in self.ast.find_all(exp.Column) if c.table == self.objects_ref}
            self._objects_columns.append(frozenset(used | {KEY_COLUMN}))
        return self._objects_columns[0]

    def canonical_sql(self) -> str:
        """The validated query as MySQL text (qualified, implicit joins shown)."""
        return self.ast.sql(dialect=READ_DIALECT, comments=False)


def validate_filter(sql: str, catalogue: Catalogue, *, name: str | None = None) -> ValidatedFilter:
    """Check a filter and resolve its names.

    Parameters
    ----------
    sql
        The filter, MySQL dialect (backticks quote names; ``"..."`` and ``'...'`` are strings).
    catalogue
        The tables and columns the filter may read.
    name
        The filter's name, carried in errors as ``filter=``.

    Raises
    ------
    FilterSyntaxError
        The SQL does not parse.
    FilterRejected
        It parses, but uses something not allowed; the message names it.
    """
    if not isinstance(sql, str):
        raise FilterSyntaxError(f"a filter is SQL text, not {type(sql).__name__}", filter=name)
    if not sql.strip():
        raise FilterSyntaxError("the filter is empty", filter=name)
    if len(sql) > MAX_SQL_CHARS:
        raise FilterRejected(f"the filter is longer than {MAX_SQL_CHARS} characters", filter=name)
    if "\x00" in sql:
        raise FilterRejected("the filter contains a NUL character", filter=name)
    _check_tokens(sql, name)
    select = _parse(sql, name)
    allowlist.check_clauses(select, name)
    jsonpath.rewrite_json_extract(select, name)
    if sum(1 for _ in select.walk()) > MAX_NODES:
        raise FilterRejected("the filter is too large", filter=name)
    depth = nesting_depth(select)
    if depth > MAX_DEPTH:
        raise FilterRejected(f"the filter nests expressions {depth} levels deep; at most "
                             f"{MAX_DEPTH} are allowed", filter=name)
    allowlist.check_nodes(select, name, catalogue.extra_functions)
    refs = resolve.read_scope(select, catalogue, name)
    names = resolve.expand_outputs(select, refs, catalogue, name)
    columns = resolve.qualify(select, refs, names, catalogue, name)
    jsonpath.check_json_arguments(select, refs, catalogue, name)
    objects_ref = next(r.ref for r in refs if r.table == OBJECTS)
    _add_implicit_joins(select, refs, catalogue, objects_ref)
    for node in select.walk():
        node.comments = None
    tables = tuple(dict.fromkeys(r.table for r in refs))
    return ValidatedFilter(
        sql=sql, columns=tuple(columns), tables=tables, ast=select, name=name,
        key_output=_key_output(select, columns, objects_ref), objects_ref=objects_ref,
        annotators=tuple(t for t in tables if t in catalogue.annotators),
        scopes={t: catalogue.scopes[t] for t in tables if t in catalogue.scopes})


def nesting_depth(root: exp.Expression) -> int:
    """The deepest nesting of ``root``'s tree, counted without recursion; a chain of one binary
    operator (``a AND b AND c``) counts as one level.

    >>> nesting_depth(sqlglot.parse_one("SELECT - - - x FROM t"))  # SELECT, 3 x -, column, name
    6
    >>> nesting_depth(sqlglot.parse_one("SELECT x FROM t WHERE a = 1 AND b = 2 AND c = 3"))
    6
    """
    best = 0
    stack: list[tuple[exp.Expression, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        for child in node.iter_expressions():
            same_chain = isinstance(child, exp.Binary) and type(child) is type(node)
            stack.append((child, depth if same_chain else depth + 1))
    return best


def _check_tokens(sql: str, name: str | None) -> None:
    """Statement-level checks on the tokens, before parsing, for clear messages."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(READ_DIALECT).tokenize(sql)
    except TokenError as exc:
        raise FilterSyntaxError(f"the filter does not parse: {exc}", filter=name) from exc
    if not tokens:
        raise FilterSyntaxError("the filter is empty (only comments)", filter=name)
    first = tokens[0]
    if first.token_type == TokenType.WITH:
        raise FilterRejected("WITH (common table expressions) is not allowed", filter=name)
    if first.token_type != TokenType.SELECT:
        raise FilterRejected(f"only SELECT statements are allowed, not '{first.text}'", filter=name)
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            rest = [t for t in tokens[i + 1:] if t.token_type != TokenType.SEMICOLON]
            if rest:
                raise FilterRejected(
                    f"only one SELECT statement is allowed: found '{rest[0].text}' after ';'",
                    filter=name)
        elif token.token_type == TokenType.DPIPE:
            raise FilterRejected(
                "'||' is not allowed: write OR (it means OR in MySQL, string joining elsewhere)",
                filter=name)


def _parse(sql: str, name: str | None) -> exp.Select:
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    except ParseError as exc:
        raise FilterSyntaxError(_parse_message(exc), filter=name) from exc
    except TokenError as exc:
        raise FilterSyntaxError(f"the filter does not parse: {exc}", filter=name) from exc
    except RecursionError as exc:
        raise FilterRejected("the filter is too deeply nested", filter=name) from exc
    if len(statements) != 1:
        raise FilterRejected("only one SELECT statement is allowed", filter=name)
    root = statements[0]
    if isinstance(root, allowlist.SET_OPERATIONS):
        raise FilterRejected(f"{root.key.upper()} is not allowed", filter=name)
    if not isinstance(root, exp.Select):
        raise FilterRejected("only SELECT statements are allowed, not "
                             f"'{allowlist.snippet(root, 40)}'",
                             filter=name)
    return root


def _parse_message(exc: ParseError) -> str:
    if not exc.errors:
        return f"the filter does not parse: {_ANSI.sub('', str(exc))}"
    err: dict[str, Any] = exc.errors[0]
    near = (err.get("highlight") or "").strip()
    where = f" near '{near}'" if near else ""
    return (f"the filter does not parse{where} (line {err.get('line')}, column {err.get('col')}): "
            f"{err.get('description')}")


def _add_implicit_joins(select: exp.Select, refs: list[resolve.TableRef], catalogue: Catalogue,
                        objects_ref: str) -> None:
    """``FROM objects, t`` joins t on diaObjectId (as Lasair's query builder does); a table
    without diaObjectId joins the table its catalogue ``join_keys`` names, when that is in FROM
    (``FROM objects, gw_hits, gw_events``: gw_events on superevent_id)."""
    conditions: list[exp.Expression] = []
    for ref in refs:
        if ref.implicit and ref.table != OBJECTS:
            column = catalogue.find_column(ref.table, KEY_COLUMN)
            if column is not None:
                other = resolve.key_column(ref.ref)
                other.set("this", exp.Identifier(this=column, quoted=True))
                conditions.append(exp.EQ(this=resolve.key_column(objects_ref), expression=other))
            elif ref.table in catalogue.join_keys:
                key, target = catalogue.join_keys[ref.table]
                for partner in (r for r in refs if r.table == target):
                    conditions.append(exp.EQ(this=_qualified(ref.ref, key),
                                             expression=_qualified(partner.ref, key)))
    if conditions:
        select.where(*conditions, append=True, copy=False)


def _qualified(ref: str, column: str) -> exp.Column:
    return exp.Column(this=exp.Identifier(this=column, quoted=True),
                      table=exp.Identifier(this=ref, quoted=True))


def _key_output(select: exp.Select, columns: list[str], objects_ref: str) -> str | None:
    for node, out in zip(select.expressions, columns, strict=False):
        target = node.this if isinstance(node, exp.Alias) else node
        if (out == KEY_COLUMN and isinstance(target, exp.Column) and target.name == KEY_COLUMN
                and target.table == objects_ref):
            return out
    return None
