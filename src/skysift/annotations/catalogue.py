"""The catalogues filters are validated against: the documented tables (:func:`catalogue`), and
a user's (:func:`user_catalogue`): those plus the annotators, watchlists and watchmaps they may use.

An annotator is a table of the filter language named by its topic, with the columns of
:data:`ANNOTATOR_COLUMNS`; ``FROM objects, fruitbat`` joins it on diaObjectId (an implicit join,
as for any table with that column). Public annotators are usable by everyone; a private one only
by its owner. The compiler reads the table from ``annotations`` restricted to the topic.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from skysift.filters.catalogue import Catalogue

__all__ = ["ANNOTATOR_COLUMNS", "BATCH_ANNOTATIONS_COLUMNS", "catalogue", "catalogue_with",
           "user_catalogue", "visible_context", "visible_topics"]

ANNOTATOR_COLUMNS = {
    "diaObjectId": "int", "classification": "text", "version": "text", "explanation": "text",
    "classdict": "json", "url": "text", "timestamp": "text",
}
#: The batch engine's ``annotations`` table (the compiled filters read annotators from it).
BATCH_ANNOTATIONS_COLUMNS = {
    "diaObjectId": "int", "topic": "text", "classification": "text", "version": "text",
    "explanation": "text", "classdict": "json", "url": "text", "timestamp": "text",
}


def visible_topics(conn: sa.Connection, user_id: int | None) -> frozenset[str]:
    """Annotator topics ``user_id`` may use in filters: public ones and their own."""
    from skysift.store.schema import annotators

    cond: sa.ColumnElement[bool] = annotators.c.public.is_(True)
    if user_id is not None:
        cond = sa.or_(cond, annotators.c.user_id == user_id)
    return frozenset(r[0] for r in conn.execute(sa.select(annotators.c.topic).where(cond)))


@functools.lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The allow-list of tables and columns a filter may use: ``objects`` and the context
    tables (skysift.context.tables). The scoped ones (watchlist and watchmap hits) read no
    rows here; a user's catalogue (:func:`user_catalogue`) opens the lists and maps that user
    may read, and adds the annotators they may read."""
    from skysift.context.tables import CONTEXT_TABLES, JOIN_KEYS, SCOPED
    from skysift.store.columns import filter_catalogue

    return Catalogue({**filter_catalogue(), **CONTEXT_TABLES},
                     scopes={t: (c, ()) for t, c in SCOPED.items()}, join_keys=JOIN_KEYS)


@functools.lru_cache(maxsize=256)
def catalogue_with(topics: frozenset[str], watchlists: frozenset[int] = frozenset(),
                   watchmaps: frozenset[int] = frozenset()) -> Catalogue:
    """The documented catalogue plus these annotator tables, reading the hits of these
    watchlists and watchmaps (cached per combination)."""
    from skysift.context.tables import SCOPED

    base = catalogue()
    if not topics and not watchlists and not watchmaps:
        return base
    tables = dict(base.tables)
    for topic in sorted(topics):
        if base.find_table(topic) is None:
            tables[topic] = ANNOTATOR_COLUMNS
    ids = {"watchlist_hits": watchlists, "area_hits": watchmaps}
    return Catalogue(tables, extra_functions=base.extra_functions,
                     annotators=[t for t in topics if t in tables],
                     scopes={t: (c, ids.get(t, frozenset())) for t, c in SCOPED.items()},
                     join_keys=base.join_keys)


def visible_context(conn: sa.Connection, user_id: int | None) -> tuple[frozenset[int],
                                                                       frozenset[int]]:
    """Ids of the watchlists and watchmaps ``user_id``'s filters read: public ones and theirs."""
    from skysift.context.owned import visible_ids
    from skysift.store.schema import watchlists, watchmaps

    return visible_ids(conn, watchlists, user_id), visible_ids(conn, watchmaps, user_id)


def user_catalogue(conn: sa.Connection, user_id: int | None) -> Catalogue:
    """The catalogue for validating ``user_id``'s filters and queries."""
    return catalogue_with(visible_topics(conn, user_id), *visible_context(conn, user_id))


def annotator_acl(conn: sa.Connection) -> list[tuple[str, int, bool]]:
    """(topic, owner id, public) of every annotator."""
    from skysift.store.schema import annotators

    return [(r[0], int(r[1]), bool(r[2])) for r in conn.execute(
        sa.select(annotators.c.topic, annotators.c.user_id, annotators.c.public))]
