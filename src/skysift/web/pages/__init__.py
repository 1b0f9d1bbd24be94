"""The server-rendered pages, one module per group; :func:`routers` lists their routers."""

from __future__ import annotations

from fastapi import APIRouter
from skysift.web.pages import accounts, admin, context, filters, home, objects, schema, search

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """The routers of every page group, in the order they are matched."""

    return [home.router, accounts.router, filters.router, objects.router, search.router,
            schema.router, context.router, admin.router]
