"""The filter editor's three boxes, as in Lasair: SELECT, FROM and WHERE.

:func:`compose` joins them into one SQL text (a WHERE box that starts with ``ORDER BY`` or
``GROUP BY`` is appended as it is, as Lasair does); :func:`split` cuts a stored filter back into
the boxes, at the top-level keywords only (not inside brackets, strings or quoted names), so
the user's own text is kept. :func:`locate` tells which box an error message is about.
"""

from __future__ import annotations

import re

__all__ = ["PARTS", "compose", "locate", "split", "top_level_tail"]

#: The box names, as the Lasair API names them.
PARTS = ("selected", "tables", "conditions")
_TAIL = re.compile(r"^(order\s+by|group\s+by|having|limit)\b", re.IGNORECASE)
_KEYWORDS = ("select", "from", "where", "group", "order", "having", "limit")


def compose(selected: str, tables: str, conditions: str) -> str:
    """One SQL text from the three boxes.

    Examples
    --------
    >>> compose("objects.diaObjectId", "objects", "objects.ra > 10")
    'SELECT objects.diaObjectId\\nFROM objects\\nWHERE objects.ra > 10'
    >>> compose("objects.ra", "objects", "ORDER BY objects.ra")
    'SELECT objects.ra\\nFROM objects\\nORDER BY objects.ra'
    """
    sql = f"SELECT {selected.strip()}\nFROM {tables.strip() or 'objects'}"
    cond = conditions.strip()
    if cond:
        sql += f"\n{cond}" if _TAIL.match(cond) else f"\nWHERE {cond}"
    return sql


def _top_level_keywords(sql: str) -> list[tuple[str, int, int]]:
    """(keyword, start, end) of each top-level clause keyword, in order."""
    found: list[tuple[str, int, int]] = []
    depth, i, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            end = sql.find(ch, i + 1)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (ch.isalpha()) and (i == 0 or not (sql[i - 1].isalnum()
                                                              or sql[i - 1] in "_.")):
            m = re.match(r"[A-Za-z_]+", sql[i:])
            word = m.group(0) if m else ""
            if word.lower() in _KEYWORDS:
                found.append((word.lower(), i, i + len(word)))
            i += max(len(word), 1)
            continue
        i += 1
    return found


def top_level_tail(conditions: str) -> tuple[str, str]:
    """``conditions`` cut before a top-level ORDER BY (not one inside brackets or strings):
    (the conditions, ``"\\nORDER BY ..."`` or "").

    >>> top_level_tail("objects.ra > 1 ORDER BY objects.ra")
    ('objects.ra > 1', '\\nORDER BY objects.ra')
    >>> top_level_tail("objects.name = 'order by'")
    ("objects.name = 'order by'", '')
    """
    for word, start, _end in _top_level_keywords(conditions):
        if word == "order":
            return conditions[:start].rstrip(), "\n" + conditions[start:].strip()
    return conditions, ""


def split(sql: str) -> tuple[str, str, str] | None:
    """The (SELECT, FROM, WHERE) boxes of ``sql``; None when it has not that simple shape.

    Examples
    --------
    >>> split("SELECT objects.ra, (SELECT 1) FROM objects WHERE objects.ra > 1 ORDER BY objects.ra")
    ('objects.ra, (SELECT 1)', 'objects', 'objects.ra > 1 ORDER BY objects.ra')
    >>> split("SELECT objects.ra FROM objects ORDER BY objects.ra")
    ('objects.ra', 'objects', 'ORDER BY objects.ra')
    >>> split("DELETE FROM objects") is None
    True
    """
    kws = _top_level_keywords(sql)
    if len(kws) < 2 or kws[0][0] != "select" or sql[: kws[0][1]].strip() or kws[1][0] != "from":
        return None
    if sum(1 for k in kws if k[0] in ("select", "from", "where")) != len(
            {k[0] for k in kws if k[0] in ("select", "from", "where")}):
        return None  # a keyword twice at top level (e.g. a UNION): not three boxes
    selected = sql[kws[0][2]: kws[1][1]].strip()
    rest_at = kws[2][1] if len(kws) > 2 else len(sql)
    tables = sql[kws[1][2]: rest_at].strip()
    conditions = ""
    if len(kws) > 2:
        kw, start, end = kws[2]
        conditions = sql[end:].strip() if kw == "where" else sql[start:].strip()
    return selected, tables, conditions


def locate(message: str, parts: dict[str, str]) -> str | None:
    """Which box (a key of ``parts``) the quoted text of an error ``message`` is in."""
    for quoted in re.findall(r"'([^']{1,200})'", message):
        needle = quoted.lower()
        for name, text in parts.items():
            if needle in text.lower():
                return name
    return None
