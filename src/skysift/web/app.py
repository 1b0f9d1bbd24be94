"""The ASGI app: :func:`create_app` builds the web site and the REST API for one Settings.

``uvicorn --factory skysift.web.app:app_from_env`` also works (settings from the environment and
the config file), but ``skysift serve`` / ``skysift web`` is the usual way.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skysift import __version__
from skysift.config import Settings
from skysift.errors import SkysiftError
from skysift.web.httperrors import NotLoggedIn, status_of
from skysift.web.templating import render
from skysift.web.pages import routers
from skysift.web.sessions import install_sessions
from skysift.store.database import open_store
from skysift.config import load_settings

__all__ = ["CSP", "MAX_BODY_BYTES", "RedactQueryFilter", "SecurityHeaders", "app_from_env",
           "create_app"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Largest request body accepted (forms, JSON): bigger ones get 413 before being read.
MAX_BODY_BYTES = 2 * 1024 * 1024
_SECRET_QUERY = re.compile(r"((?:token|password|key|secret)=)[^&\s\"]*", re.IGNORECASE)


class RedactQueryFilter(logging.Filter):
    """Masks ``token=``, ``password=``... in logged URLs (uvicorn's access log).

    The REST API accepts ``?token=<key>`` as Lasair does, so access logs would otherwise keep
    API keys.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_QUERY.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _SECRET_QUERY.sub(r"\1***", record.msg)
        return True


class BodyLimit:
    """Refuses requests whose declared body is larger than :data:`MAX_BODY_BYTES` (413)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope.get("headers", []):
                if key == b"content-length" and (
                    not value.isdigit() or int(value) > MAX_BODY_BYTES
                ):
                    resp = JSONResponse(
                        {"error": f"request body larger than {MAX_BODY_BYTES} bytes"},
                        status_code=413,
                    )
                    await resp(scope, receive, send)
                    return
        await self.app(scope, receive, send)


#: Content-Security-Policy of every page: scripts and everything else from this site only (the
#: light-curve data is a JSON block, not a script); inline styles allowed (Plotly sets them).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
#: /docs (Swagger UI) starts itself with an inline script: allowed there, and only there.
CSP_DOCS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Adds Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy and
    Cross-Origin-Opener-Policy to every response, and Strict-Transport-Security when the request
    came over HTTPS (directly, or from a proxy trusted with ``forwarded_allow_ips``) or the
    session cookie is set to be Secure."""

    def __init__(self, app: ASGIApp, always_hsts: bool = False) -> None:
        self.app = app
        self.always_hsts = always_hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = CSP_DOCS if path == "/docs" or path.startswith("/docs/") else CSP
        hsts = self.always_hsts or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in ((b"content-security-policy", csp),
                                    (b"x-frame-options", "DENY"),
                                    (b"x-content-type-options", "nosniff"),
                                    (b"referrer-policy", "same-origin"),
                                    (b"cross-origin-opener-policy", "same-origin"),
                                    *(((b"strict-transport-security", HSTS),) if hsts else ())):
                    if name not in present:
                        headers.append((name, value.encode("latin-1")))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status=status, status_code=status, message=message)


async def _skysift_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SkysiftError)
    status = status_of(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    if _wants_json(request):
        response: Response = JSONResponse({"error": exc.message}, status_code=status)
    elif isinstance(exc, NotLoggedIn) and request.method == "GET":
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    else:
        response = _error_page(request, status, exc.message)
    retry = getattr(exc, "retry_after", None)
    if isinstance(retry, (int, float)):
        response.headers["Retry-After"] = str(math.ceil(retry))
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "form"))
        parts.append(
            f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid")
        )
    message = "bad input: " + "; ".join(parts)
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=400)
    return _error_page(request, 400, message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _wants_json(request):
        return await http_exception_handler(request, exc)
    text = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and text == "Not Found":
        text = "There is no page here."
    return _error_page(request, exc.status_code, text)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    if _wants_json(request):
        return JSONResponse({"error": "internal error"}, status_code=500)
    return _error_page(request, 500, "Something went wrong on our side; it has been logged.")


def _include_api(app: FastAPI) -> None:
    """The REST API and its docs, when their modules are there."""
    import importlib

    for module, prefix in (("skysift.web.api", "/api"), ("skysift.web.api.docs", "")):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name not in (module, "skysift.web.api"):
                raise
            log.warning("%s is not there: the site runs without it", module)
            continue
        router = getattr(mod, "router", None)
        if router is not None:
            app.include_router(router, prefix=prefix)


def create_app(settings: Settings, engine: sa.Engine | None = None) -> FastAPI:
    """The web site and REST API for ``settings`` (store ``engine`` opened when not given)."""

    if engine is None:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        engine = open_store(settings.database_url)
    app = FastAPI(title="skysift", version=__version__, docs_url=None, redoc_url=None,
                  description="A self-hostable alert broker with a Lasair-compatible REST API.")
    app.state.settings = settings
    app.state.engine = engine
    install_sessions(app, settings)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, always_hsts=settings.session_cookie_secure)
    app.add_exception_handler(SkysiftError, _skysift_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _include_api(app)
    for router in routers():
        app.include_router(router)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryFilter) for f in access.filters):
        access.addFilter(RedactQueryFilter())
    return app


def app_from_env() -> FastAPI:
    """An app with settings from the environment and config file (for ``uvicorn --factory``)."""

    return create_app(load_settings())


