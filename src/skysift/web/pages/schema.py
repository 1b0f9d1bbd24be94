"""The schema page: the columns a filter may use (name, type, unit, meaning), and the other
tables the store keeps (read by object pages and the API, not by filters)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from skysift.web.templating import render
from skysift.store.columns import COLUMNS
from skysift.store.schema import forced_sources, sources

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _table_columns(table) -> list[dict[str, str]]:
    return [{"name": c.name, "type": str(c.type).lower(), "meaning": c.comment or ""}
            for c in table.columns]


@router.get("/schema")
def schema_page(request: Request) -> Response:
    computed = [c for c in COLUMNS if c.origin == "computed"]
    dia = [c for c in COLUMNS if c.origin == "diaObject"]
    return render(request, "schema.html", computed=computed, dia=dia,
                  others={"sources": _table_columns(sources),
                          "forced_sources": _table_columns(forced_sources)})
