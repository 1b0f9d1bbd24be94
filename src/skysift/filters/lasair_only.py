"""Lasair's tables that skysift does not have, and why: filters copied from Lasair that name one
are refused with a message that says which table is missing, why, and what to use instead.

Only names the catalogue lacks are looked up here: a catalogue that has such a table (a test's,
say) reads it as any other.
"""

from __future__ import annotations

__all__ = ["LASAIR_ONLY_TABLES", "unavailable"]

#: {table (lower case): why skysift has no such table, and what to use instead}
LASAIR_ONLY_TABLES: dict[str, str] = {
    "sherlock_classifications": (
        "Sherlock's host-galaxy and sky-context classifications need Lasair's catalogue "
        "crossmatch (Sherlock and its catalogues), which skysift does not run; join an "
        "annotator that classifies objects instead (FROM objects, <annotator topic>), or a "
        "watchlist of the catalogue you need (watchlist_hits)"),
    "objects_ext": (
        "the diaObject columns Lasair keeps in objects_ext are columns of objects here: write "
        "objects.<column>"),
    "annotations": (
        "each annotator is a table of its own, named by its topic: write FROM objects, "
        "<topic> (Lasair's picker spelling annotator:<topic> is accepted by /api/query/)"),
    "mma_area_hits": (
        "skysift's multimessenger tables are gw_hits and gw_events (see docs/filters.md)"),
    "diasources": (
        "a filter returns one row per object; the light curve is in the lite and full "
        "outputs, and its features are columns of objects"),
    "diaforcedsources": (
        "a filter returns one row per object; forced photometry is in the full output"),
}


def unavailable(table: str) -> str | None:
    """The refusal message for a table of Lasair's that skysift does not have, or None.

    >>> unavailable("Objects_Ext").startswith("table 'Objects_Ext' is not available")
    True
    >>> unavailable("users") is None
    True
    """
    reason = LASAIR_ONLY_TABLES.get(table.lower())
    if reason is None:
        return None
    return f"table '{table}' is not available in skysift: {reason}"
