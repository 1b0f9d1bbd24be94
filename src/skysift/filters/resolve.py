"""Name resolution for a filter: which tables it reads, what each column is, what it outputs.

Works in place on a SELECT that already passed :mod:`skysift.filters.allowlist`:

- :func:`read_scope` checks FROM and the joins against the catalogue and returns the table
  references (``objects``, or an alias such as ``fruitbat`` for ``annotations AS fruitbat``);
- :func:`expand_outputs` expands ``*`` and ``t.*`` and names every output column;
- :func:`qualify` resolves each column to ``<reference>.<column>`` with the catalogue's spelling,
  and replaces output aliases (and positions) used in ORDER BY by the expression they name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from skysift.errors import FilterRejected
from skysift.filters.allowlist import snippet
from skysift.filters.catalogue import KEY_COLUMN, OBJECTS, Catalogue
from skysift.filters.lasair_only import unavailable

__all__ = ["HIDDEN_PREFIX", "TableRef", "expand_outputs", "key_column", "qualify", "read_scope"]

HIDDEN_PREFIX = "__"
MAX_NAME = 63  # PostgreSQL truncates longer identifiers
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TableRef:
    """A table in FROM: ``ref`` is how columns name it (the alias or the table name)."""

    ref: str
    table: str
    implicit: bool  # listed after a comma (joined by WHERE), not by JOIN ... ON


def key_column(ref: str) -> exp.Column:
    """The qualified, quoted column ``<ref>.diaObjectId``."""
    return exp.Column(this=exp.Identifier(this=KEY_COLUMN, quoted=True),
                      table=exp.Identifier(this=ref, quoted=True))


def read_scope(select: exp.Select, catalogue: Catalogue, name: str | None) -> list[TableRef]:
    """The tables of FROM and the joins, checked against the catalogue."""
    refs = [_table_ref(select.args["from_"].this, catalogue, name, implicit=False)]
    for join in select.args.get("joins") or []:
        side, kind = (join.args.get("side") or "").upper(), (join.args.get("kind") or "").upper()
        method = (join.args.get("method") or "").upper()
        if join.args.get("using"):
            raise FilterRejected(f"JOIN ... USING is not allowed, use ON: '{snippet(join)}'",
                                 filter=name)
        comma = not (join.args.get("on") or side or kind or method)
        if not comma:
            if method or side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
                words = " ".join(w for w in (method, side, kind) if w)
                raise FilterRejected(f"{words} JOIN is not allowed: '{snippet(join)}'", filter=name)
            if not join.args.get("on"):
                raise FilterRejected(f"JOIN needs an ON condition: '{snippet(join)}'", filter=name)
        refs.append(_table_ref(join.this, catalogue, name, implicit=comma))
    seen: set[str] = set()
    for ref in refs:
        if ref.ref.lower() in seen:
            raise FilterRejected(f"table '{ref.ref}' appears twice: give each an alias",
                                 filter=name)
        seen.add(ref.ref.lower())
    objects = [r for r in refs if r.table == OBJECTS]
    if not objects:
        raise FilterRejected("a filter must read FROM objects", filter=name)
    if len(objects) > 1:
        raise FilterRejected("table 'objects' may appear only once", filter=name)
    return refs


def _table_ref(
    node: exp.Expression, catalogue: Catalogue, name: str | None, *, implicit: bool
) -> TableRef:
    if not isinstance(node, exp.Table):
        raise FilterRejected(f"only tables may follow FROM/JOIN, not '{snippet(node)}'",
                             filter=name)
    full = ".".join(p.name for p in node.parts)
    if node.args.get("db") or node.args.get("catalog"):
        raise FilterRejected(f"table '{full}' is not allowed", filter=name)
    table = catalogue.find_table(node.name)
    if table is None or not isinstance(node.this, exp.Identifier):
        raise FilterRejected(unavailable(full) or f"table '{full}' is not allowed", filter=name)
    alias = node.alias
    if alias:
        _check_name(alias, "table alias", name)
    node.set("this", exp.Identifier(this=table, quoted=True))
    if alias:
        node.set("alias", exp.TableAlias(this=exp.Identifier(this=alias, quoted=True)))
    return TableRef(ref=alias or table, table=table, implicit=implicit)


def _check_name(text: str, what: str, name: str | None) -> None:
    if not NAME_RE.match(text) or len(text) > MAX_NAME:
        raise FilterRejected(
            f"{what} '{text}' must be letters, digits and _ (at most {MAX_NAME})", filter=name)
    if text.startswith(HIDDEN_PREFIX):
        raise FilterRejected(f"{what} '{text}' may not start with '{HIDDEN_PREFIX}'", filter=name)


def expand_outputs(
    select: exp.Select, refs: list[TableRef], catalogue: Catalogue, name: str | None
) -> list[str]:
    """Expand stars, check every output has a name, and return the names in order."""
    by_ref = {r.ref.lower(): r for r in refs}
    expressions: list[exp.Expression] = []
    for node in select.expressions:
        if isinstance(node, exp.Star):
            if len(refs) > 1:
                raise FilterRejected(
                    "SELECT * is not allowed with several tables: list the columns or use "
                    "objects.*",
                    filter=name,
                )
            expressions.extend(_star(refs[0], catalogue))
        elif isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            ref = by_ref.get(node.table.lower())
            if ref is None:
                raise FilterRejected(f"table '{node.table}' is not in FROM: '{snippet(node)}'",
                                     filter=name)
            expressions.extend(_star(ref, catalogue))
        else:
            expressions.append(node)
    select.set("expressions", expressions)
    names: list[str] = []
    for node in expressions:
        if isinstance(node, exp.Alias):
            out = node.alias
            _check_name(out, "column name", name)
            node.set("alias", exp.Identifier(this=out, quoted=True))
        elif isinstance(node, exp.Column):
            out = None  # filled in by qualify() with the catalogue's spelling
        else:
            raise FilterRejected(f"expression '{snippet(node)}' needs a name: add AS <name>",
                                 filter=name)
        names.append(out or "")
    return names


def _star(ref: TableRef, catalogue: Catalogue) -> list[exp.Expression]:
    return [exp.Column(this=exp.Identifier(this=c, quoted=True),
                       table=exp.Identifier(this=ref.ref, quoted=True))
            for c in catalogue.columns(ref.table)]


def qualify(
    select: exp.Select, refs: list[TableRef], names: list[str], catalogue: Catalogue,
    name: str | None
) -> list[str]:
    """Resolve every column; return the output names with bare columns' names filled in."""
    by_ref = {r.ref.lower(): r for r in refs}
    tables_in_from = {r.table for r in refs}

    def resolve(col: exp.Column) -> None:
        if col.args.get("db") or col.args.get("catalog"):
            raise FilterRejected(f"column '{snippet(col)}' is not allowed", filter=name)
        cname = col.name
        if col.table:
            ref = by_ref.get(col.table.lower())
            if ref is None:
                table = catalogue.find_table(col.table)
                if table is not None and table not in tables_in_from:
                    raise FilterRejected(
                        f"table '{table}' is not in FROM: add it to use '{snippet(col)}'",
                        filter=name)
                if table is None and (message := unavailable(col.table)):
                    raise FilterRejected(message, filter=name)
                raise FilterRejected(f"table '{col.table}' is not in FROM: '{snippet(col)}'",
                                     filter=name)
            found = catalogue.find_column(ref.table, cname)
            if found is None:
                raise FilterRejected(f"column '{col.table}.{cname}' does not exist", filter=name)
        else:
            hits = [
                (r, c) for r in refs if (c := catalogue.find_column(r.table, cname)) is not None
            ]
            if not hits:
                raise FilterRejected(f"column '{cname}' does not exist", filter=name)
            if len(hits) > 1:
                options = " or ".join(f"{r.ref}.{c}" for r, c in hits)
                raise FilterRejected(f"column '{cname}' is ambiguous: write {options}", filter=name)
            ref, found = hits[0]
        col.set("this", exp.Identifier(this=found, quoted=True))
        col.set("table", exp.Identifier(this=ref.ref, quoted=True))

    def resolve_all(node: exp.Expression | None) -> None:
        if node is None:
            return
        for col in list(node.find_all(exp.Column)):
            resolve(col)

    out = list(names)
    for i, node in enumerate(select.expressions):
        resolve_all(node)
        if not out[i]:
            out[i] = node.name
    for join in select.args.get("joins") or []:
        resolve_all(join.args.get("on"))
    resolve_all(select.args.get("where"))
    seen: set[str] = set()
    for n in out:
        if n in seen:
            raise FilterRejected(f"output column '{n}' appears twice: rename one with AS",
                                 filter=name)
        seen.add(n)
    _qualify_order(select, out, resolve_all, name)
    return out


def _qualify_order(select: exp.Select, names: list[str], resolve_all, name: str | None) -> None:
    order = select.args.get("order")
    if order is None:
        return
    lowered = {n.lower(): i for i, n in enumerate(names)}
    for ordered in order.expressions:
        term = ordered.this
        index: int | None = None
        if isinstance(term, exp.Column) and not term.table and term.name.lower() in lowered:
            index = lowered[term.name.lower()]
        elif isinstance(term, exp.Literal) and term.is_int:
            index = int(term.this) - 1
            if not 0 <= index < len(names):
                raise FilterRejected(
                    f"ORDER BY {term.this}: there are {len(names)} output columns", filter=name)
        if index is not None:
            target = select.expressions[index]
            target = target.this if isinstance(target, exp.Alias) else target
            term.replace(target.copy())
        else:
            resolve_all(term)
