"""``/api/annotate/`` and ``/api/annotatelist/``: annotations, as Lasair's API takes them.

- ``POST /api/annotate/``: ``topic``, ``objectId``, ``classification`` (<= 80 characters),
  ``version`` (<= 80), ``explanation`` (<= 1024), ``classdict`` (JSON object, <= 4096 as text),
  ``url`` (<= 1024), as a form or JSON. Only the annotator's owner may write (403 otherwise);
  the annotator must be active. Answers ``{"status": "success", "annotation_topic": ...,
  "message": ...}``, as Lasair does.
- ``POST /api/annotatelist/``: JSON ``{"annotations": [...]}``. Unlike Lasair, which stops at
  the first bad entry, the good entries are stored and each bad one is reported:
  ``{"status": "success" | "partial", "stored": n, "errors": [{"index": i, "error": why}]}``
  (400 when none could be stored).

After the response, the filters triggered by these annotations run (see
:mod:`skysift.annotations.trigger`); their records reach Kafka with header ``reason=annotation``.
"""

from __future__ import annotations

from fastapi import BackgroundTasks, Response

from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput
from skysift.annotations.service import submit, trigger_logged
from skysift.annotations.store import AnnotationRejected

__all__ = ["router"]

router = api_router()
MAX_LIST = 10_000
SPECS = (
    ("topic", "string", "the annotator's topic (yours)", True),
    ("objectId", "integer", "the diaObjectId annotated", True),
    ("classification", "string", "a short classification (at most 80 characters)", True),
    ("version", "string", "the annotator's version (at most 80)", False),
    ("explanation", "string", "free text (at most 1024)", False),
    ("classdict", "string", "a JSON object (at most 4096 characters)", False),
    ("url", "string", "a link about this annotation (at most 1024)", False),
)


@router.post("/annotate/", summary="Annotate an object (annotator owner only)",
             openapi_extra=openapi_params(*SPECS, body=True))
def annotate(user: ApiUser, p: ApiParams, settings: SettingsDep, engine: Engine,
             background: BackgroundTasks) -> Response:
    """Store one annotation (replacing this annotator's previous one for the object)."""

    result = submit(engine, [p.values], user_id=user.id)
    if result.rejected:
        _, reason, status = result.rejected[0]
        err = AnnotationRejected(reason)
        err.status = status
        raise err
    a = result.stored[0]
    background.add_task(trigger_logged, engine, settings, result.touched())
    return ApiJSONResponse({"status": "success", "annotation_topic": a.topic,
                            "message": f"annotation of {a.diaObjectId} by {a.topic} stored"})


@router.post("/annotatelist/", summary="Annotate many objects (annotator owner only)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "properties": {"annotations": {
                     "type": "array", "items": {"type": "object"}}}}}}}})
def annotate_list(user: ApiUser, p: ApiParams, settings: SettingsDep, engine: Engine,
                  background: BackgroundTasks) -> Response:
    """Store the good annotations of a list; report the bad ones by index."""

    items = p.values.get("annotations")
    if isinstance(items, str):  # a form field holding JSON
        import json

        try:
            items = json.loads(items)
        except ValueError:
            raise BadInput("annotations must be a JSON list", field="annotations") from None
    if not isinstance(items, list):
        raise BadInput("annotations must be a list", field="annotations")
    if len(items) > MAX_LIST:
        raise BadInput(f"at most {MAX_LIST} annotations per call", field="annotations")
    result = submit(engine, items, user_id=user.id)
    errors = [{"index": i, "error": why} for i, why, _ in result.rejected]
    body = {"status": "partial" if errors else "success", "stored": len(result.stored),
            "errors": errors}
    if not result.stored and items:
        body["status"] = "error"
        body["error"] = "; ".join(f"#{e['index']}: {e['error']}" for e in errors[:5])
        status = 403 if all(s == 403 for _, _, s in result.rejected) else 400
        return ApiJSONResponse(body, status_code=status)
    background.add_task(trigger_logged, engine, settings, result.touched())
    return ApiJSONResponse(body)
