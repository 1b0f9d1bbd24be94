"""The API's dependencies on its app: settings, the store's engine, the call's arguments.

The app factory (:mod:`skysift.web.app`, or :func:`skysift.web.api.testing.make_api_app`) sets
``app.state.settings`` (a :class:`~skysift.config.Settings`) and ``app.state.engine`` (the store,
from :func:`skysift.store.database.open_store`); routes read them from ``request.app.state``.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from skysift.config import Settings
from skysift.errors import ConfigError
from skysift.web.api.params import Params, read_params

__all__ = ["ApiParams", "Engine", "SettingsDep", "get_engine", "get_settings"]


def get_settings(request: Request) -> Settings:
    """The app's settings (``app.state.settings``)."""
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        raise ConfigError("the web app has no settings (app.state.settings)")
    return settings


def get_engine(request: Request) -> sa.Engine:
    """The store's engine (``app.state.engine``)."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise ConfigError("the web app has no store (app.state.engine)")
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
Engine = Annotated[sa.Engine, Depends(get_engine)]
ApiParams = Annotated[Params, Depends(read_params)]
