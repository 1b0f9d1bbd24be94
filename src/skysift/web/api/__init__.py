"""The Lasair-compatible REST API, mounted at ``/api`` by the app factory.

``router`` holds every route (:mod:`~skysift.web.api.query`, :mod:`~skysift.web.api.cone`,
:mod:`~skysift.web.api.objects`, :mod:`~skysift.web.api.sherlock`, :mod:`~skysift.web.api.token`,
:mod:`~skysift.web.api.filters`, :mod:`~skysift.web.api.backtest`,
:mod:`~skysift.web.api.topics`, :mod:`~skysift.web.api.context`);
``docs_router`` (:mod:`skysift.web.api.docs`) serves ``/docs`` from the package and is included
without a prefix. The app must set ``app.state.settings`` and ``app.state.engine`` and be built with
``docs_url=None, redoc_url=None``. Importing this package installs the token mask on uvicorn's
loggers (:mod:`skysift.web.api.logmask`). docs/api.md documents every route.
"""

from __future__ import annotations

from skysift.web.api import (
    annotate,
    backtest,
    cone,
    context,
    filters,
    objects,
    query,
    sherlock,
    token,
    topics,
)
from skysift.web.api.docs import router as docs_router
from skysift.web.api.logmask import install as install_token_mask
from skysift.web.api.routing import api_router

__all__ = ["docs_router", "install_token_mask", "router"]

router = api_router()
for _module in (query, cone, objects, sherlock, token, filters, backtest, topics, annotate,
                context):
    router.include_router(_module.router)

install_token_mask()
