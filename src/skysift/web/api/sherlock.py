"""``/api/sherlock/object/`` and ``/api/sherlock/position/``: no Sherlock service here.

Both check their arguments as Lasair does, then answer 400 ``{"error": ...}`` saying Sherlock is
not configured: the answer Lasair gives when its cluster has no Sherlock service, which the
``lasair`` client raises as ``LasairError``.
"""

from __future__ import annotations

from fastapi import Response

from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.routing import api_router
from skysift.errors import NotConfigured

__all__ = ["NOT_CONFIGURED", "router"]

router = api_router()
NOT_CONFIGURED = ("This skysift server does not have a Sherlock service "
                  "(Sherlock is not configured)")
OBJECT_SPECS = (("objectId", "integer", "the diaObjectId", True),
                ("lite", "boolean", "less output", False))
POSITION_SPECS = (("ra", "number", "degrees, 0 to 360", True),
                  ("dec", "number", "degrees, -90 to 90", True),
                  ("lite", "boolean", "less output", False))


def _object(p: Params) -> Response:
    p.integer("objectId", lo=0, hi=2**63 - 1)
    p.boolean("lite", default=False)
    raise NotConfigured(NOT_CONFIGURED)


def _position(p: Params) -> Response:
    p.number("ra", lo=0.0, hi=360.0)
    p.number("dec", lo=-90.0, hi=90.0)
    p.boolean("lite", default=False)
    raise NotConfigured(NOT_CONFIGURED)


@router.get("/sherlock/object/", summary="Sherlock by object: not configured (400)",
            openapi_extra=openapi_params(*OBJECT_SPECS))
def sherlock_object_get(user: ApiUser, p: ApiParams) -> Response:
    """Always 400: this deployment has no Sherlock service."""
    return _object(p)


@router.post("/sherlock/object/", summary="Sherlock by object: not configured (400)",
             openapi_extra=openapi_params(*OBJECT_SPECS, body=True))
def sherlock_object_post(user: ApiUser, p: ApiParams) -> Response:
    """Always 400: this deployment has no Sherlock service."""
    return _object(p)


@router.get("/sherlock/position/", summary="Sherlock by position: not configured (400)",
            openapi_extra=openapi_params(*POSITION_SPECS))
def sherlock_position_get(user: ApiUser, p: ApiParams) -> Response:
    """Always 400: this deployment has no Sherlock service."""
    return _position(p)


@router.post("/sherlock/position/", summary="Sherlock by position: not configured (400)",
             openapi_extra=openapi_params(*POSITION_SPECS, body=True))
def sherlock_position_post(user: ApiUser, p: ApiParams) -> Response:
    """Always 400: this deployment has no Sherlock service."""
    return _position(p)
