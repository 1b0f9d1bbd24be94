"""``JSON_EXTRACT(<json column>, '<path>')`` in filters, as Lasair users write it (MySQL).

The validator turns every ``JSON_EXTRACT`` call into ``json_extract(column, '<canonical path>')``
(:func:`rewrite_json_extract`), and checks that the first argument is a column the catalogue
declares ``json`` (an annotator's ``classdict``; :func:`check_json_arguments`). The compiler then
writes it for each engine with :func:`sqlite_expression` or :func:`postgres_expression`.

Paths: ``$`` followed by ``.key``, ``."quoted key"`` or ``[n]`` steps (``$.lsst-r.peak_mag``,
``$."a b"[0]``); wildcards are refused. The result's type follows its use, the same on both
engines: compared with (or combined with) a number, a JSON number gives that number and any other
JSON value NULL; compared with a string, a JSON string gives its text and anything else NULL;
elsewhere (a selected column) the JSON value itself: a number, a string, true/false as 1/0.
"""

from __future__ import annotations

import re
from typing import Literal

from sqlglot import exp

from skysift.errors import FilterRejected

__all__ = ["check_json_arguments", "parse_path", "postgres_expression", "rewrite_json_extract",
           "sqlite_expression"]

NAME = "json_extract"
_STEP = re.compile(r'\.(?:"([^"\\]*)"|([^.\["\s*]+))|\[(\d{1,9})\]')
Step = str | int
Context = Literal["number", "text", "json"]


def parse_path(path: str) -> list[Step]:
    """The steps of a MySQL JSON path: keys (str) and array indexes (int).

    >>> parse_path('$.lsst-r.x[2]')
    ['lsst-r', 'x', 2]
    """
    if not path.startswith("$"):
        raise ValueError("a JSON path starts with $")
    steps: list[Step] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"cannot read the JSON path at '{path[pos:]}'")
        if m.group(3) is not None:
            steps.append(int(m.group(3)))
        else:
            key = m.group(1) if m.group(1) is not None else m.group(2)
            if not key:
                raise ValueError("a JSON path key may not be empty")
            steps.append(key)
        pos = m.end()
    if not steps:
        raise ValueError("the JSON path names nothing inside the document ('$' alone)")
    return steps


def canonical_path(steps: list[Step]) -> str:
    """The path written back with every key quoted (SQLite and MySQL both read it)."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f'."{s}"' for s in steps)


def _path_text(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    if isinstance(node, exp.JSONPath):
        text = node.sql(dialect="mysql")
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1].replace("''", "'")
    return None


def rewrite_json_extract(select: exp.Select, name: str | None) -> None:
    """Replace each ``JSON_EXTRACT(doc, path)`` by ``json_extract(doc, '<canonical path>')``."""
    for node in list(select.find_all(exp.JSONExtract)):
        path = _path_text(node.expression) if node.expression is not None else None
        extra = node.args.get("expressions")
        if path is None or extra:
            raise FilterRejected(
                "JSON_EXTRACT takes a column and one path in quotes, e.g. "
                "JSON_EXTRACT(fruitbat.classdict, '$.x')", filter=name)
        try:
            steps = parse_path(path)
        except ValueError as exc:
            raise FilterRejected(f"JSON_EXTRACT path '{path}': {exc}", filter=name) from None
        node.replace(exp.Anonymous(this=NAME, expressions=[
            node.this, exp.Literal.string(canonical_path(steps))]))


def check_json_arguments(select: exp.Select, refs, catalogue, name: str | None) -> None:
    """The first argument of json_extract must be a JSON column (after qualification)."""
    by_ref = {r.ref: r.table for r in refs}
    for node in select.find_all(exp.Anonymous):
        if str(node.this).lower() != NAME:
            continue
        args = list(node.expressions)
        doc = args[0] if args else None
        ok = (isinstance(doc, exp.Column) and doc.table in by_ref
              and catalogue.find_column(by_ref[doc.table], doc.name) is not None
              and catalogue.type_of(by_ref[doc.table], doc.name) == "json")
        if not ok:
            raise FilterRejected(
                "JSON_EXTRACT reads a JSON column only (an annotator's classdict), not "
                f"'{doc.sql(dialect='mysql') if doc is not None else ''}'", filter=name)
        if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
            raise FilterRejected("JSON_EXTRACT takes a column and one path", filter=name)
        for other in _compared_with(node):  # their catalogue type decides the call's (_kind)
            if isinstance(other, exp.Column) and other.table in by_ref:
                kind = (catalogue.type_of(by_ref[other.table], other.name)
                        if catalogue.find_column(by_ref[other.table], other.name) else None)
                if kind in _SQL_TYPES:
                    other.type = exp.DataType.build(_SQL_TYPES[kind])


_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "text": "TEXT"}


def _outer(node: exp.Expr) -> tuple[exp.Expr, exp.Expr | None]:
    """``node`` with its parentheses, and the expression around them."""
    child: exp.Expr = node
    parent = node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    return child, parent


def _compared_with(node: exp.Expression) -> list[exp.Expression]:
    """The expressions a json_extract call is compared with (=, <..., the other two of a
    BETWEEN, the list of an IN), parentheses unwrapped; [] when it is not compared."""
    child, parent = _outer(node)
    if isinstance(parent, _COMPARISONS):
        out = [parent.expression if parent.this is child else parent.this]
    elif isinstance(parent, exp.Between):
        out = [e for e in (parent.this, parent.args["low"], parent.args["high"]) if e is not child]
    elif isinstance(parent, exp.In) and parent.this is child:
        out = list(parent.expressions)
    else:
        return []
    unwrapped = []
    for e in out:
        while isinstance(e, exp.Paren):
            e = e.this
        unwrapped.append(e)
    return unwrapped


_NUMERIC_PARENTS = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Neg)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ)


def _kind(node: exp.Expression) -> Context | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return "text" if node.is_string else "number"
    if isinstance(node, (exp.Neg, _NUMERIC_PARENTS)):
        return "number"
    if isinstance(node, exp.Column) and node.type is not None:  # typed at validation
        if node.is_type(*exp.DataType.NUMERIC_TYPES, exp.DataType.Type.BOOLEAN):
            return "number"
        if node.is_type(*exp.DataType.TEXT_TYPES):
            return "text"
    return None


def context_of(node: exp.Expression) -> Context:
    """How a json_extract call is used: as a number, as text, or as JSON (anything else)."""
    _, parent = _outer(node)
    if isinstance(parent, _NUMERIC_PARENTS):
        return "number"
    others = _compared_with(node)
    if others:
        kinds = [_kind(e) for e in others]
        if isinstance(parent, exp.In):  # every item of the list must agree
            return kinds[0] if kinds[0] and len(set(kinds)) == 1 else "json"
        return next((k for k in kinds if k), "json")  # the other side, or BETWEEN's first
    if isinstance(parent, exp.Anonymous) and str(parent.this) in (
            "abs", "sqrt", "log10", "ln", "log", "exp", "power", "round", "floor", "ceil",
            "flux2mag", "greatest", "least"):
        return "number"
    return "json"


def _path_of(node: exp.Anonymous) -> tuple[exp.Expression, str, list[Step]]:
    doc, path = node.expressions
    return doc, path.this, parse_path(path.this)


def sqlite_expression(node: exp.Anonymous, context: Context) -> exp.Expression:
    """SQLite: json_extract, guarded by json_type for a number or a text context."""
    doc, path, _ = _path_of(node)
    call = exp.Anonymous(this="json_extract", expressions=[doc.copy(), exp.Literal.string(path)])
    if context == "json":
        return call
    jtype = exp.Anonymous(this="json_type", expressions=[doc.copy(), exp.Literal.string(path)])
    cond: exp.Expression = (
        exp.In(this=jtype, expressions=[exp.Literal.string("integer"), exp.Literal.string("real")])
        if context == "number" else exp.EQ(this=jtype, expression=exp.Literal.string("text")))
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=cond, true=call)]))


def postgres_expression(node: exp.Anonymous, context: Context) -> exp.Expression:
    """PostgreSQL: jsonb_extract_path(...), typed by jsonb_typeof for a number or text."""
    doc, _, steps = _path_of(node)

    def call(fn: str) -> exp.Expression:
        return exp.Anonymous(this=fn, expressions=[
            exp.cast(doc.copy(), "JSONB"), *(exp.Literal.string(str(s)) for s in steps)])

    if context == "json":
        return call("JSONB_EXTRACT_PATH")
    jtype = exp.Anonymous(this="JSONB_TYPEOF", expressions=[call("JSONB_EXTRACT_PATH")])
    value: exp.Expression
    if context == "number":
        value = exp.cast(call("JSONB_EXTRACT_PATH_TEXT"), "DOUBLE")
        cond = exp.EQ(this=jtype, expression=exp.Literal.string("number"))
    else:
        value = call("JSONB_EXTRACT_PATH_TEXT")
        cond = exp.EQ(this=jtype, expression=exp.Literal.string("string"))
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=cond, true=value)]))
