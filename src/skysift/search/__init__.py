"""skysift.search: positional searches over the store (cone search)."""

from skysift.search.cone import ConeMatch, cone_ranges, cone_search, separation_arcsec

__all__ = ["ConeMatch", "cone_ranges", "cone_search", "separation_arcsec"]
