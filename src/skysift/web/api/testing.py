"""A minimal app with the API alone, for tests and for embedding."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from skysift.config import Settings
from skysift.web.api import docs_router, router

__all__ = ["make_api_app"]


def make_api_app(settings: Settings, engine: sa.Engine) -> FastAPI:
    """A FastAPI app serving ``/api/...`` and ``/docs`` over ``engine`` with ``settings``."""

    app = FastAPI(title="skysift", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(router, prefix="/api")
    app.include_router(docs_router)
    return app
