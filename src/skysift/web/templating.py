"""Rendering pages: one Jinja2 environment (autoescaped), and :func:`render`.

Every page gets ``user`` (or None), ``csrf`` (the session's token, for forms) and ``flashes``
(one-off messages set by :func:`flash` before a redirect).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from skysift import __version__
from skysift.web.sessions import csrf_token, current_user

__all__ = ["flash", "fmt", "render", "templates"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def fmt(value: Any) -> str:
    """A cell value for a table: floats to 6 significant digits, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def cell(value: Any, column: str = "") -> str:
    """Like :func:`fmt`, but times (columns named ``...Mjd...``) keep 5 decimals (~1 s) and
    coordinates (``ra``, ``dec``, ``decl``) 6 (~0.004 arcsec).

    Examples
    --------
    >>> cell(60924.354112, "midpointMjdTai"), cell(60924.354112, "psfFlux")
    ('60924.35411', '60924.4')
    """
    if isinstance(value, float) and math.isfinite(value):
        if "mjd" in column.lower():
            return f"{value:.5f}"
        if column in ("ra", "dec", "decl"):
            return f"{value:.6f}"  # 0.0036 arcsec
    return fmt(value)


def _thousands(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


templates.env.filters["fmt"] = fmt
templates.env.filters["cell"] = cell
templates.env.filters["thousands"] = _thousands
templates.env.globals["version"] = __version__


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once, on the next page rendered for this session."""
    request.session.setdefault("flash", []).append([kind, message])
    request.session["flash"] = request.session["flash"][-5:]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the page context."""
    flashes = request.session.pop("flash", []) if "session" in request.scope else []
    base = {
        "request": request,
        "user": current_user(request) if "session" in request.scope else None,
        "csrf": csrf_token(request) if "session" in request.scope else "",
        "flashes": flashes,
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status)
