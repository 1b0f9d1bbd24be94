"""``/docs``: the OpenAPI documentation (Swagger UI), served from the package, never a CDN.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, which observatory networks often cannot
reach; the app is therefore built with ``docs_url=None, redoc_url=None`` and includes this
router instead. The Swagger UI files (npm ``swagger-ui-dist``, Apache-2.0) ship in
``skysift/web/static/swagger/`` and are served by ``/docs/swagger/{name}``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from skysift.web.api.routing import ApiRoute
from skysift.web.httperrors import NotFound

__all__ = ["ASSETS", "SWAGGER_DIR", "router"]

router = APIRouter(include_in_schema=False, route_class=ApiRoute)
SWAGGER_DIR = Path(__file__).resolve().parent.parent / "static" / "swagger"
#: The files /docs/swagger/ serves, with their media types (nothing else is reachable).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain",
}


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over the app's OpenAPI schema."""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} - API documentation",
        swagger_js_url=f"{root}/docs/swagger/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/swagger/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/swagger/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


@router.get("/docs/swagger/{name}")
def swagger_asset(name: str) -> FileResponse:
    """One of the shipped Swagger UI files."""
    media = ASSETS.get(name)
    if media is None or not (SWAGGER_DIR / name).is_file():
        raise NotFound(f"no such file: {name}")
    return FileResponse(SWAGGER_DIR / name, media_type=media,
                        headers={"Cache-Control": "public, max-age=86400"})
