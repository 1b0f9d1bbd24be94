"""Compile a validated filter to SQLite or PostgreSQL text.

The same filter must give the same rows on the batch engine (in-memory SQLite), the SQLite store
and the PostgreSQL store. The compiler works on a copy of the validated tree:

- adds ``objects.diaObjectId AS __diaObjectId`` as the last column when the filter does not
  select it (records are keyed by it), and ``objects.diaObjectId`` as the last ORDER BY term
  when there is an ORDER BY (so ties come out in the same order everywhere);
- adds ``restrict_ids`` as ``AND objects.diaObjectId IN (...)`` and ``limit`` as LIMIT;
- rewrites functions: SQLite calls the Python functions of :mod:`skysift.store.functions`;
  PostgreSQL gets native expressions guarded to return NULL where MySQL does;
- keeps MySQL's arithmetic: ``/`` always divides as real numbers and gives NULL for x/0,
  ``DIV`` truncates toward zero; LIKE is case-insensitive (ILIKE on PostgreSQL);
- quotes every identifier, so camelCase columns work on PostgreSQL.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import cache
from typing import Literal, cast

import sqlglot
from sqlglot import exp

from skysift.filters import jsonpath
from skysift.errors import FilterRejected
from skysift.filters.allowlist import bottom_up
from skysift.store.functions import POSTGRES_FUNCTIONS, POSTGRES_PREFIX
from skysift.filters.resolve import key_column
from skysift.filters.validate import HIDDEN_KEY, ValidatedFilter

__all__ = ["MAX_COMPILED_CHARS", "WRITE_DIALECTS", "Dialect", "check_compiles", "compile_filter"]

Dialect = Literal["sqlite", "postgresql"]
WRITE_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres"}

#: PostgreSQL forms of the canonical functions that name each argument once; __a and __b are
#: the arguments. The guarded ones (NULL outside their domain) are SQL functions in the store
#: (:data:`skysift.store.functions.POSTGRES_FUNCTIONS`), called with each argument written once,
#: so the compiled text grows linearly with nesting.
PG_TEMPLATES = {
    "mjdnow": "(CAST(EXTRACT(EPOCH FROM NOW()) AS DOUBLE PRECISION) / 86400.0 + 40587)",
    "round": "CAST(ROUND(CAST(__a AS NUMERIC), CAST(__b AS INTEGER)) AS DOUBLE PRECISION)",
    "floor": "FLOOR(CAST(__a AS DOUBLE PRECISION))",
    "ceil": "CEIL(CAST(__a AS DOUBLE PRECISION))",
}
#: The largest compiled text accepted (characters); a filter of MAX_SQL_CHARS compiles to a few
#: times its length.
MAX_COMPILED_CHARS = 200_000
#: Canonical names SQLite spells differently.
SQLITE_NAMES = {"greatest": "max", "least": "min"}
_SIMPLE = (exp.Column, exp.Literal, exp.Paren, exp.Func, exp.Null, exp.Boolean)


def compile_filter(
    vf: ValidatedFilter,
    dialect: Dialect,
    *,
    restrict_ids: Sequence[int] | None = None,
    limit: int | None = None,
) -> str:
    """SQL text of ``vf`` for ``dialect``.

    Parameters
    ----------
    vf
        A filter from :func:`skysift.filters.validate.validate_filter`.
    dialect
        ``"sqlite"`` or ``"postgresql"``.
    restrict_ids
        Only these diaObjectIds (``AND objects.diaObjectId IN (...)``); an empty list matches
        nothing.
    limit
        At most this many rows (LIMIT).

    Returns
    -------
    str
        The SQL. Result columns are ``vf.columns`` then, if the filter does not select
        objects.diaObjectId, ``__diaObjectId``. Compiled text without restrict_ids or limit is
        cached on ``vf``.
    """
    if dialect not in WRITE_DIALECTS:
        raise ValueError(f"dialect must be 'sqlite' or 'postgresql', not {dialect!r}")
    cacheable = restrict_ids is None and limit is None
    if cacheable and dialect in vf._compiled:
        return vf._compiled[dialect]
    tree = vf.ast.copy()
    key = key_column(vf.objects_ref)
    if vf.key_output is None:
        tree.select(exp.alias_(key.copy(), exp.Identifier(this=HIDDEN_KEY, quoted=True)),
                    append=True, copy=False)
    order = tree.args.get("order")
    if order is not None and not any(o.this == key for o in order.expressions):
        order.append("expressions", exp.Ordered(this=key.copy(), desc=False, nulls_first=True))
    if restrict_ids is not None:
        ids = _ids(restrict_ids)
        condition: exp.Expression = (
            exp.In(this=key.copy(), expressions=[exp.Literal.number(i) for i in ids])
            if ids else exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0)))
        tree.where(condition, append=True, copy=False)
    if limit is not None:
        if isinstance(limit, bool) or operator.index(limit) < 0:
            raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
        tree.limit(operator.index(limit), copy=False)
    rewrite = _rewrite_sqlite if dialect == "sqlite" else _rewrite_postgres
    # the rewrites replace function calls, never the SELECT itself
    tree = cast(exp.Select, bottom_up(tree, rewrite))
    if vf.annotators:
        _annotator_tables(tree, vf.annotators, dialect)
    if vf.scopes:
        _scoped_tables(tree, vf.scopes)
    sql = tree.sql(dialect=WRITE_DIALECTS[dialect], identify=True, comments=False)
    if cacheable:
        vf._compiled[dialect] = sql
    return sql


def check_compiles(vf: ValidatedFilter) -> None:
    """Compile ``vf`` for every engine now (a filter is saved only if it compiles everywhere).

    Raises
    ------
    FilterRejected
        An engine's compiler fails on it (whatever the error), or its text would pass
        :data:`MAX_COMPILED_CHARS`; the message says which engine.
    """
    for dialect in ("sqlite", "postgresql"):
        try:
            text = compile_filter(vf, dialect)
        except RecursionError as exc:
            raise FilterRejected(f"the filter is too deeply nested to compile for {dialect}",
                                 filter=vf.name) from exc
        except Exception as exc:  # any compiler failure refuses the filter
            raise FilterRejected(f"the filter cannot be compiled for {dialect}: "
                                 f"{type(exc).__name__}: {exc}", filter=vf.name) from exc
        if len(text) > MAX_COMPILED_CHARS:
            vf._compiled.pop(dialect, None)
            raise FilterRejected(f"the filter compiles to {len(text):,} characters for "
                                 f"{dialect}, more than {MAX_COMPILED_CHARS:,}", filter=vf.name)


def _ids(values: Sequence[int]) -> list[int]:
    out: list[int] = []
    for value in values:
        if isinstance(value, bool):
            raise TypeError(f"restrict_ids must be integers, not {value!r}")
        try:
            out.append(operator.index(value))
        except TypeError as exc:
            raise TypeError(f"restrict_ids must be integers, not {value!r}") from exc
    return sorted(set(out))


def _rewrite_sqlite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this) == jsonpath.NAME:
        return jsonpath.sqlite_expression(node, jsonpath.context_of(node))
    if isinstance(node, exp.Anonymous):
        name, args = str(node.this), list(node.expressions)
        if name == "round" and len(args) == 1:
            args.append(exp.Literal.number(0))
        return exp.Anonymous(this=SQLITE_NAMES.get(name, name), expressions=args)
    return node


def _rewrite_postgres(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this) == jsonpath.NAME:
        return jsonpath.postgres_expression(node, jsonpath.context_of(node))
    if isinstance(node, exp.Anonymous):
        name, args = str(node.this), list(node.expressions)
        if name == "round" and len(args) == 1:
            args.append(exp.Literal.number(0))
        if name in PG_TEMPLATES:
            return _fill(name, args)
        if name in ("greatest", "least"):  # NULL if any argument is NULL, as in MySQL
            return exp.Anonymous(this=POSTGRES_PREFIX + name, expressions=args)
        if name in POSTGRES_FUNCTIONS:
            return exp.Anonymous(this=POSTGRES_PREFIX + name,
                                 expressions=[exp.cast(a, "DOUBLE") for a in args])
        return node
    if isinstance(node, exp.IntDiv):
        quotient = exp.Div(
            this=exp.cast(_wrap(node.this), "DOUBLE"),
            expression=exp.Nullif(this=_wrap(node.expression), expression=exp.Literal.number(0)),
            typed=True, safe=False)
        return exp.cast(exp.Anonymous(this="TRUNC", expressions=[quotient]), "BIGINT")
    if isinstance(node, exp.Like):
        return exp.ILike(**node.args)
    return node


#: An annotator read as a table: its rows of ``annotations``, timestamp as UTC text
#: 'YYYY-MM-DD HH:MM:SS.ffffff' on both engines (SQLite keeps that text; PostgreSQL formats it).
ANNOTATOR_SELECT = {
    "sqlite": ('SELECT "diaObjectId", "classification", "version", "explanation", "classdict", '
               '"url", "timestamp" FROM "annotations" WHERE "topic" = __topic'),
    "postgresql": ('SELECT "diaObjectId", "classification", "version", "explanation", '
                   '"classdict", "url", TO_CHAR("timestamp" AT TIME ZONE \'UTC\', '
                   '\'YYYY-MM-DD HH24:MI:SS.US\') AS "timestamp" FROM "annotations" '
                   'WHERE "topic" = __topic'),
}


def _annotator_tables(tree: exp.Expression, annotators: Sequence[str], dialect: Dialect) -> None:
    """Replace each annotator table by its rows of ``annotations`` (keeping the alias)."""
    wanted = set(annotators)
    for table in list(tree.find_all(exp.Table)):
        if table.name not in wanted or table.args.get("db"):
            continue
        sub = sqlglot.parse_one(ANNOTATOR_SELECT[dialect], read=WRITE_DIALECTS[dialect])
        for col in list(sub.find_all(exp.Column)):
            if col.name == "__topic":
                col.replace(exp.Literal.string(table.name))
        alias = table.alias or table.name
        table.replace(exp.Subquery(this=sub, alias=exp.TableAlias(
            this=exp.Identifier(this=alias, quoted=True))))


def _scoped_tables(tree: exp.Expression, scopes: dict[str, tuple[str, frozenset[int]]]) -> None:
    """Replace each scoped table by its rows whose scope column is one of the allowed ids
    (``(SELECT * FROM watchlist_hits WHERE wl_id IN (...)) AS watchlist_hits``)."""
    for table in list(tree.find_all(exp.Table)):
        scope = scopes.get(table.name)
        if scope is None or table.args.get("db"):
            continue
        column, ids = scope
        key = exp.Column(this=exp.Identifier(this=column, quoted=True))
        condition: exp.Expression = (
            exp.In(this=key, expressions=[exp.Literal.number(i) for i in sorted(ids)])
            if ids else exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0)))
        sub = exp.select(exp.Star()).from_(exp.Table(this=exp.Identifier(this=table.name,
                                                                          quoted=True)))
        sub = sub.where(condition)
        alias = table.alias or table.name
        table.replace(exp.Subquery(this=sub, alias=exp.TableAlias(
            this=exp.Identifier(this=alias, quoted=True))))


@cache
def _template(name: str) -> exp.Expr:
    return sqlglot.parse_one(PG_TEMPLATES[name], read="postgres")


def _fill(name: str, args: list[exp.Expression]) -> exp.Expression:
    tree = _template(name).copy()
    values = dict(zip(("__a", "__b"), args, strict=False))
    for col in list(tree.find_all(exp.Column)):
        if col.name in values:
            col.replace(_wrap(values[col.name].copy()))
    return exp.Paren(this=tree)


def _wrap(node: exp.Expression) -> exp.Expression:
    """Parenthesise a substituted argument unless it cannot bind wrongly."""
    return node if isinstance(node, _SIMPLE) else exp.Paren(this=node)
