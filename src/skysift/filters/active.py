"""Each active filter validated and compiled once, reused while it is unchanged.

Shared by the batch pipeline and the annotation trigger. A filter is validated against the catalogue
its owner may read (the documented tables plus the annotators that are public or theirs).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from skysift.errors import FilterError, SkysiftError
from skysift.filters.repository import Filter
from skysift.filters.catalogue import annotator_acl
from skysift.store.schema import watchlists, watchmaps
from skysift.filters.catalogue import catalogue_with
from skysift.filters.validate import validate_filter

__all__ = ["CompiledFilters", "filter_failure"]

log = logging.getLogger(__name__)


def filter_failure(exc: BaseException, name: str) -> FilterError:
    """Any error met while one filter was validated, compiled or run, as that filter's
    :class:`~skysift.errors.FilterError` (recorded on the filter; the others go on).

    Transient errors (the store away) are not the filter's: they are raised again, so the batch
    is tried again later instead of losing the filter's records.

    >>> str(filter_failure(RecursionError("maximum recursion depth exceeded"), "deep"))
    'the filter failed: it is nested too deeply to compile or run (filter=deep)'
    """
    if isinstance(exc, FilterError):
        return exc
    if getattr(exc, "transient", False):
        raise exc
    if isinstance(exc, SkysiftError):
        text = exc.message
    elif isinstance(exc, RecursionError):
        text = "it is nested too deeply to compile or run"
    else:
        lines = str(exc).strip().splitlines()
        text = f"internal error ({type(exc).__name__}: {lines[0] if lines else ''})"
        log.warning("filter %s failed with %s", name, type(exc).__name__, exc_info=exc)
    return FilterError(f"the filter failed: {text}", filter=name)


class CompiledFilters:
    """Validated + compiled SQL per filter, reused while the filter is unchanged."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, Any]] = {}
        #: (topic, owner id, public) of every annotator, refreshed per batch: each filter is
        #: validated with the annotator tables its owner may read (skysift.annotations)
        self.annotators: list[tuple[str, int, bool]] = []
        #: (id, owner id, public) of every watchlist and watchmap, refreshed per batch
        self.watchlists: list[tuple[int, int, bool]] = []
        self.watchmaps: list[tuple[int, int, bool]] = []

    def refresh(self, conn: sa.Connection) -> None:
        self.annotators = annotator_acl(conn)
        self.watchlists, self.watchmaps = (
            [(int(i), int(u), bool(p)) for i, u, p in conn.execute(
                sa.select(t.c.id, t.c.user_id, t.c.public))]
            for t in (watchlists, watchmaps))

    def get(self, flt: Filter) -> Any:
        topics = frozenset(t for t, owner, public in self.annotators
                           if public or owner == flt.user_id)
        lists = frozenset(i for i, owner, public in self.watchlists
                          if public or owner == flt.user_id)
        maps = frozenset(i for i, owner, public in self.watchmaps
                         if public or owner == flt.user_id)
        stamp = (flt.modified, flt.sql, topics, lists, maps)
        hit = self._cache.get(flt.id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        vf = validate_filter(flt.sql, catalogue_with(topics, lists, maps), name=flt.name)
        self._cache[flt.id] = (stamp, vf)
        return vf
