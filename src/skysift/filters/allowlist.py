"""The allow-list of SQL a filter may contain, checked node by node on the parsed tree.

:func:`check_clauses` looks at the clauses of the one SELECT (no WITH, GROUP BY, LIMIT...);
:func:`check_nodes` walks every expression and rejects any node type not listed, naming it, and
rewrites each allowed function call to ``Anonymous(<canonical name>, args)`` (see
:data:`skysift.store.functions.FUNCTIONS`) so that the compiler sees one spelling per function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

from sqlglot import exp

from skysift.errors import FilterRejected
from skysift.store.functions import FUNCTIONS

__all__ = ["bottom_up", "check_clauses", "check_nodes", "snippet"]

#: Clauses of the SELECT a filter may use.
ALLOWED_CLAUSES = frozenset({"expressions", "from_", "joins", "where", "order", "distinct"})
CLAUSE_MESSAGES = {
    "with_": "WITH (common table expressions) is not allowed",
    "group": "GROUP BY is not allowed in a filter (a filter returns one row per object)",
    "having": "HAVING is not allowed in a filter (a filter returns one row per object)",
    "limit": "LIMIT/OFFSET: use the limit parameter instead",
    "offset": "LIMIT/OFFSET: use the limit parameter instead",
    "into": "SELECT ... INTO is not allowed",
    "locks": "FOR UPDATE / LOCK IN SHARE MODE is not allowed",
    "windows": "WINDOW is not allowed",
    "hint": "optimizer hints are not allowed",
}

#: Expression nodes allowed anywhere below the SELECT (their children are checked too).
ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Identifier, exp.Alias, exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.Neg, exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.NullSafeEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.Add, exp.Sub, exp.Mul, exp.Div,
    exp.IntDiv, exp.Case, exp.If, exp.Ordered, exp.Order, exp.Where, exp.Distinct, exp.From,
    exp.Join, exp.Table, exp.TableAlias, exp.Star,
)
#: For these nodes, only the listed arguments may hold a sub-expression.
ALLOWED_ARGS: dict[type[exp.Expression], frozenset[str]] = {
    exp.Column: frozenset({"this", "table"}),
    exp.Table: frozenset({"this", "alias"}),
    exp.TableAlias: frozenset({"this"}),
    exp.Join: frozenset({"this", "on"}),
    exp.In: frozenset({"this", "expressions"}),
    exp.Distinct: frozenset(),
    exp.Star: frozenset(),
}

#: sqlglot function classes that are allowed, and their canonical names.
FUNCTION_CLASSES: dict[type[exp.Func], str] = {
    exp.Abs: "abs", exp.Sqrt: "sqrt", exp.Ln: "ln", exp.Exp: "exp", exp.Pow: "power",
    exp.Round: "round", exp.Floor: "floor", exp.Ceil: "ceil", exp.Greatest: "greatest",
    exp.Least: "least", exp.Coalesce: "coalesce", exp.Lower: "lower", exp.Upper: "upper",
    exp.Log: "log",
}
SUBQUERY_NODES = (exp.Select, exp.Subquery, exp.Exists)
SET_OPERATIONS = (exp.Union, exp.Intersect, exp.Except)


def snippet(node: exp.Expr, width: int = 80) -> str:
    """The node as (MySQL) SQL text, shortened to ``width`` characters, for messages."""
    text = node.sql(dialect="mysql", comments=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_clauses(select: exp.Select, name: str | None) -> None:
    """Reject clauses of the SELECT that filters may not use."""
    for key, value in select.args.items():
        if not value or key in ALLOWED_CLAUSES:
            continue
        message = CLAUSE_MESSAGES.get(key, f"the {key.rstrip('_').upper()} clause is not allowed")
        raise FilterRejected(message, filter=name)
    if not select.args.get("from_"):
        raise FilterRejected("a filter needs FROM objects", filter=name)
    distinct = select.args.get("distinct")
    if distinct is not None and (distinct.args.get("on") or distinct.expressions):
        raise FilterRejected("DISTINCT ON is not allowed", filter=name)


def bottom_up(
    node: exp.Expression, fn: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """Apply ``fn`` to every node, children first, replacing each by what ``fn`` returns."""
    for child in list(node.iter_expressions()):
        new = bottom_up(child, fn)
        if new is not child:
            child.replace(new)
    return fn(node)


def check_nodes(
    select: exp.Select, name: str | None, extra_functions: frozenset[str]
) -> None:
    """Reject any node outside the allow-list (outermost first), then canonicalise function
    calls in place."""
    try:
        for node in select.walk():
            if node is not select:
                _check_node(node, select, name, extra_functions)
        bottom_up(select, lambda node: _canonical_function(node, name, extra_functions)
                  if _is_function(node) else node)
    except RecursionError as exc:
        raise FilterRejected("the filter is too deeply nested", filter=name) from exc


def _is_function(node: exp.Expr) -> TypeGuard[exp.Func]:
    return isinstance(node, exp.Func) and not isinstance(node, ALLOWED_NODES)


def _check_node(node: exp.Expr, select: exp.Select, name: str | None,
                extra_functions: frozenset[str]) -> None:
    _reject_forbidden(node, name)
    if _is_function(node):
        _function_name(node, name, extra_functions)
        return
    if not isinstance(node, ALLOWED_NODES):
        raise FilterRejected(f"{type(node).__name__} is not allowed: '{snippet(node)}'",
                             filter=name)
    if isinstance(node, exp.Table) and (node.args.get("db") or node.args.get("catalog")):
        full = ".".join(p.name for p in node.parts)
        raise FilterRejected(f"table '{full}' is not allowed", filter=name)
    if isinstance(node, exp.In) and node.args.get("query"):
        raise FilterRejected(f"subqueries are not allowed: '{snippet(node)}'", filter=name)
    allowed = ALLOWED_ARGS.get(type(node))
    if allowed is not None:
        for key, value in node.args.items():
            if key not in allowed and _holds_expression(value):
                raise FilterRejected(
                    f"'{snippet(node)}': {key.rstrip('_').upper()} is not allowed", filter=name)
    if isinstance(node, exp.Star):
        parent = node.parent
        top = parent is select or (isinstance(parent, exp.Column) and parent.parent is select)
        if not top:
            raise FilterRejected(
                f"'*' is only allowed as a select column: '{snippet(parent or node)}'", filter=name)


def _function_name(node: exp.Func, name: str | None, extra: frozenset[str]) -> str:
    """The canonical name of an allowed function call; FilterRejected for any other."""
    if isinstance(node, exp.Anonymous):
        fname = str(node.this).lower()
        if fname in extra or fname in FUNCTIONS:
            return fname
    elif type(node) in FUNCTION_CLASSES:
        return FUNCTION_CLASSES[type(node)]
    else:
        fname = node.sql_name().lower()
    raise FilterRejected(f"function '{fname}' is not allowed", filter=name)


def _holds_expression(value: object) -> bool:
    if isinstance(value, exp.Expression):
        return True
    return isinstance(value, list) and any(isinstance(v, exp.Expression) for v in value)


def _reject_forbidden(node: exp.Expr, name: str | None) -> None:
    """Specific messages for the things people (and attackers) try most."""
    if isinstance(node, SET_OPERATIONS):
        raise FilterRejected(f"{node.key.upper()} is not allowed", filter=name)
    if isinstance(node, SUBQUERY_NODES):
        raise FilterRejected(f"subqueries are not allowed: '{snippet(node)}'", filter=name)
    if isinstance(node, (exp.Parameter, exp.SessionParameter, exp.Placeholder, exp.RawString)):
        raise FilterRejected(f"variables and parameters are not allowed: '{snippet(node)}'",
                             filter=name)
    if isinstance(node, (exp.HexString, exp.BitString, exp.ByteString)):
        raise FilterRejected(f"hex and bit literals are not allowed: '{snippet(node)}'",
                             filter=name)
    if isinstance(node, exp.Window):
        raise FilterRejected(f"window functions are not allowed: '{snippet(node)}'", filter=name)
    if isinstance(node, exp.AggFunc):
        raise FilterRejected(
            f"aggregate function '{node.sql_name().lower()}' is not allowed "
            "(a filter returns one row per object)", filter=name)
    if isinstance(node, exp.DPipe):
        raise FilterRejected("'||' is not allowed: write OR", filter=name)


def _canonical_function(node: exp.Func, name: str | None, extra: frozenset[str]) -> exp.Expression:
    fname = _function_name(node, name, extra)
    if isinstance(node, exp.Anonymous):
        args = list(node.expressions)
        if fname in extra:
            return exp.Anonymous(this=fname, expressions=args)
    else:
        args = _function_args(node, name)
        if fname == "log" and len(args) == 2 and args[0].is_number and args[0].to_py() == 10:
            fname, args = "log10", args[1:]
        elif fname == "log" and len(args) == 1:
            fname = "ln"  # MySQL: LOG(x) is the natural logarithm
    spec = FUNCTIONS[fname]
    if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
        want = (str(spec.min_args) if spec.min_args == spec.max_args
                else f"{spec.min_args} or more" if spec.max_args is None
                else f"{spec.min_args} to {spec.max_args}")
        raise FilterRejected(
            f"function '{fname}' takes {want} argument(s), not {len(args)}: '{snippet(node)}'",
            filter=name)
    return exp.Anonymous(this=fname, expressions=args)


def _function_args(node: exp.Func, name: str | None) -> list[exp.Expression]:
    args: list[exp.Expression] = []
    for key in ("this", "expression", "decimals", "expressions"):
        value = node.args.get(key)
        if isinstance(value, list):
            args.extend(value)
        elif isinstance(value, exp.Expression):
            args.append(value)
    for key, value in node.args.items():
        if key not in ("this", "expression", "decimals", "expressions") and _holds_expression(
            value
        ):
            raise FilterRejected(f"this form of '{snippet(node)}' is not allowed", filter=name)
    return args
