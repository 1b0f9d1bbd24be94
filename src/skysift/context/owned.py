"""What watchlists and watchmaps share: an owner, public or private, active or not.

A user sees their own lists and maps and the public ones; an admin sees all. Asking for one the
caller may not see answers exactly as for one that does not exist (:class:`ContextNotFound`),
so private lists do not reveal that they exist. Only the owner (or an admin) changes or deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from skysift.errors import ContextError, ContextNotFound
from skysift.store.schema import users

__all__ = ["Viewer", "check_name", "fetch_owned", "owned_rows", "visible_condition",
           "visible_ids"]

MAX_NAME = 100
MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user id (None: nobody logged in) and whether they are an admin."""

    user_id: int | None
    is_admin: bool = False

    @classmethod
    def of(cls, user: Any) -> Viewer:
        """The viewer for an :class:`skysift.accounts.User` (or None)."""
        if user is None:
            return cls(None)
        return cls(int(user.id), bool(getattr(user, "is_admin", False)))


def visible_condition(table: sa.Table, viewer: Viewer) -> Any:
    """SQL condition: rows of ``table`` (watchlists or watchmaps) that ``viewer`` may see."""
    if viewer.is_admin:
        return sa.true()
    cond: sa.ColumnElement[bool] = table.c.public.is_(True)
    if viewer.user_id is not None:
        cond = sa.or_(cond, table.c.user_id == viewer.user_id)
    return cond


def visible_ids(conn: sa.Connection, table: sa.Table, user_id: int | None) -> frozenset[int]:
    """Ids of the rows of ``table`` that a filter of ``user_id`` may read: public or theirs
    (an admin's filters read the same as anyone's: their own and the public ones)."""
    cond = visible_condition(table, Viewer(user_id))
    return frozenset(int(r[0]) for r in conn.execute(sa.select(table.c.id).where(cond)))


def check_name(name: str, description: str, what: str) -> tuple[str, str]:
    """A name of 1-100 printable characters and a description of at most 4,000."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ContextError(f"a {what} name is 1-{MAX_NAME} printable characters", name=name[:40])
    description = description or ""
    if len(description) > MAX_DESCRIPTION:
        raise ContextError(f"a {what} description is at most {MAX_DESCRIPTION} characters",
                           name=name)
    return name, description


def owned_rows(conn: sa.Connection, table: sa.Table, viewer: Viewer,
               columns: list[Any]) -> list[Any]:
    """The visible rows of ``table`` with the owner's name (``user_name``), by id."""

    query = (sa.select(*columns, users.c.name.label("user_name"))
             .join(users, users.c.id == table.c.user_id)
             .where(visible_condition(table, viewer)).order_by(table.c.id))
    return list(conn.execute(query))


def fetch_owned(conn: sa.Connection, table: sa.Table, item_id: int, viewer: Viewer,
                columns: list[Any], what: str, *, write: bool = False) -> Any:
    """One visible row (with ``user_name``); for ``write``, only the owner's or an admin's.

    Raises
    ------
    ContextNotFound
        No such row, or not visible to ``viewer``.
    ContextError
        ``write`` and the viewer is not the owner (status 403).
    """

    row = conn.execute(
        sa.select(*columns, users.c.name.label("user_name"))
        .join(users, users.c.id == table.c.user_id)
        .where(table.c.id == item_id, visible_condition(table, viewer))).first()
    if row is None:
        raise ContextNotFound(f"no {what} {item_id}", **{what.replace(" ", "_"): item_id})
    if write and not viewer.is_admin and row._mapping["user_id"] != viewer.user_id:
        err = ContextError(f"{what} {item_id} is not yours to change",
                           **{what.replace(" ", "_"): item_id})
        err.status = 403
        raise err
    return row
