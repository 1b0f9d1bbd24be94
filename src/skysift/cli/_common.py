"""Small helpers shared by the command modules: the store for the settings, table printing."""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterable, Sequence

import click

from skysift.config import Settings

__all__ = ["print_json_lines", "print_table", "store"]


def store(settings: Settings):
    """The store engine for these settings (migrated to the newest schema)."""
    from skysift.store.database import open_store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_store(settings.database_url)


def _cell(value: Any) -> str:
    """A table cell: floats to 10 significant digits, enough for an MJD to the second and a
    position to 0.4 milliarcsecond (6 had cut an MJD to 2.4 hours).

    >>> _cell(60924.30312), _cell(10.37151234), _cell(22.7123456789012), _cell(None)
    ('60924.30312', '10.37151234', '22.71234568', '')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def print_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    """Rows as an aligned text table."""
    if not rows:
        click.echo("(no rows)")
        return
    columns = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def print_json_lines(rows: Iterable[dict]) -> None:
    for r in rows:
        click.echo(json.dumps(r, default=str))
