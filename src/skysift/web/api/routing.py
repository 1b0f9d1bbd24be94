"""How every API route answers: JSON rendering, and errors turned into Lasair's shapes.

Every route of :mod:`skysift.web.api` uses :class:`ApiRoute`, so errors raised anywhere in a
route (its dependencies included) become JSON here, whatever app the router is mounted in:

- a :class:`~skysift.errors.SkysiftError` gets the status of
  :func:`skysift.web.httperrors.status_of` (the one place statuses are chosen) and the body
  ``{"error": message}``, the shape the ``lasair`` client reports;
- 401 and 429 also carry ``"detail"`` (Django REST framework's key, which Lasair sends);
- FastAPI's own validation errors (JSON bodies of ``/api/filters/``) become 400 as well;
- a database failure becomes 503 with a generic message (its detail goes to the log only).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from skysift.errors import SkysiftError
from skysift.web.httperrors import status_of

__all__ = ["ApiJSONResponse", "ApiRoute", "api_router", "error_response"]

log = logging.getLogger("skysift.web.api")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _clean(value: Any) -> Any:
    """The slow path: NaN and infinities to null, anything odd to text (json module)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


class ApiJSONResponse(JSONResponse):
    """JSON with exact 64-bit integers, NaN and infinities as ``null``, datetimes as ISO text."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            return json.dumps(_clean(content), allow_nan=False).encode()


def error_response(exc: SkysiftError) -> ApiJSONResponse:
    """The JSON answer for an error skysift raised on purpose."""
    status = status_of(exc)
    body: dict[str, Any] = {"error": exc.message}
    headers: dict[str, str] = {}
    if status in (401, 429):
        body["detail"] = exc.message
    if status == 401:
        headers["WWW-Authenticate"] = "Token"
    retry = getattr(exc, "retry_after", None)
    if status == 429 and retry is not None:
        headers["Retry-After"] = str(math.ceil(retry))
    return ApiJSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


class ApiRoute(APIRoute):
    """An APIRoute whose errors are answered as JSON in Lasair's shapes (see module doc)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SkysiftError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                return ApiJSONResponse({"error": _validation_message(exc)}, status_code=400)
            except sa.exc.SQLAlchemyError:
                log.exception("database error in %s %s", request.method, request.url.path)
                return ApiJSONResponse({"error": "the store is unavailable; try again later"},
                                       status_code=503)

        return route_handler


def api_router() -> APIRouter:
    """A router whose routes answer as :class:`ApiRoute` with :class:`ApiJSONResponse`."""
    return APIRouter(route_class=ApiRoute, default_response_class=ApiJSONResponse)
