"""Each active filter validated and compiled once, reused while it is unchanged.

Shared by the batch pipeline and the annotation trigger. A filter is validated against the catalogue
its owner may read (the documented tables plus the annotators that are public or theirs).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from skysift.filters.manage import Filter

__all__ = ["CompiledFilters"]


class CompiledFilters:
    """Validated + compiled SQL per filter, reused while the filter is unchanged."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, Any]] = {}
        #: (topic, owner id, public) of every annotator, refreshed per batch: each filter is
        #: validated with the annotator tables its owner may read (skysift.annotations)
        self.annotators: list[tuple[str, int, bool]] = []

    def refresh(self, conn: sa.Connection) -> None:
        from skysift.annotations.catalogue import annotator_acl

        self.annotators = annotator_acl(conn)

    def get(self, flt: Filter) -> Any:
        from skysift.annotations.catalogue import catalogue_with
        from skysift.filters.validate import validate_filter

        topics = frozenset(t for t, owner, public in self.annotators
                           if public or owner == flt.user_id)
        stamp = (flt.modified, flt.sql, topics)
        hit = self._cache.get(flt.id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        vf = validate_filter(flt.sql, catalogue_with(topics), name=flt.name)
        self._cache[flt.id] = (stamp, vf)
        return vf
