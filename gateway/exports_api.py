"""Public API of feed exports: start a CSV export of a feed view or a segment, follow it, download it."""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from footfall.web import ApiError, operation
from gateway import feed_export, feed_view, segments_store
from gateway.api import GUARDED, services
from gateway.auth import require_env_access
from gateway.segments import VIEW_PROPERTIES, _body, _who, feed_params

bp = Blueprint("exports", __name__, url_prefix="/api/v1/environments/<env_id>/exports")
TAGS = ["exports"]

EXPORT_BODY = {"type": "object", "properties": {
    **VIEW_PROPERTIES,
    "segment_id": {"type": "string", "description": "export this segment's view (instead of timeline, filters, q)"},
    "columns": {"type": "array", "items": {"enum": list(feed_export.COLUMNS)},
                "description": "default: all of them"},
    "properties": {"type": "array", "maxItems": 50, "items": {"type": "string"},
                   "description": "user properties, one column each"}}}
EXPORT = {"type": "object", "required": ["id", "status", "rows_total", "rows_done"], "properties": {
    "id": {"type": "string"}, "status": {"enum": ["running", "done", "failed"]},
    "rows_total": {"type": "integer"}, "rows_done": {"type": "integer"}, "bytes": {"type": "integer"},
    "error": {"type": ["string", "null"]}, "created_by": {"type": "string"}, "created_at": {"type": "string"},
    "finished_at": {"type": ["string", "null"]}, "columns": {"type": "array", "items": {"type": "string"}},
    "properties": {"type": "array", "items": {"type": "string"}}, "view": {"type": "object"},
    "from": {"type": "string"}, "to": {"type": "string"}, "download_url": {"type": ["string", "null"]}}}


def _settings():
    return current_app.config["SETTINGS"]


@bp.post("")
@require_env_access
@operation(f"Export the users of a feed view (or a segment) as CSV, one line per user, up to "
           f"{feed_export.MAX_ROWS:,}: a background job; follow it with GET …/exports/{{id}}",
           request=EXPORT_BODY, tags=TAGS,
           responses={202: EXPORT, 400: "invalid field (names it)", 404: "no such segment",
                      413: f"more than {feed_export.MAX_ROWS:,} users match", **GUARDED})
def start_export(env_id: str):
    body = _body()
    columns, properties = feed_export.parse_columns(body)
    view_fields = {k: v for k, v in body.items() if k in VIEW_PROPERTIES}
    unknown = sorted(set(body) - {*VIEW_PROPERTIES, "segment_id", "columns", "properties"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: not a field of an export", field=unknown[0])
    if body.get("segment_id") is not None:
        if view_fields:
            raise ApiError(400, "segment_id: give a segment or a view, not both", field="segment_id")
        if not isinstance(body["segment_id"], str):
            raise ApiError(400, "segment_id: a string", field="segment_id")
        view = feed_view.View.model_validate(segments_store.get(env_id, body["segment_id"]).view)
    else:
        view = feed_view.parse_view(view_fields)
    params = feed_params(env_id, view)
    job = feed_export.start(env_id, params, feed_view.as_json(view), columns, properties, _who(), _settings(),
                            services())
    return job, 202


@bp.get("")
@require_env_access
@operation("The environment's 20 latest exports, newest first", tags=TAGS,
           responses={200: {"type": "object", "properties": {"exports": {"type": "array", "items": EXPORT}}},
                      **GUARDED})
def list_exports(env_id: str):
    return {"exports": feed_export.recent(env_id, _settings())}


@bp.get("/<export_id>")
@require_env_access
@operation("An export's status and progress (rows_done of rows_total), and its download link once done",
           tags=TAGS, responses={200: EXPORT, 404: "no such export", **GUARDED})
def get_export(env_id: str, export_id: str):
    return feed_export.get(env_id, export_id, _settings())


@bp.get("/<export_id>/download")
@require_env_access
@operation("The export's CSV file", tags=TAGS,
           responses={200: "text/csv", 404: "no such export", 409: "the export is not done",
                      410: "the file expired", **GUARDED})
def download_export(env_id: str, export_id: str):
    job, pieces = feed_export.download(env_id, export_id, _settings())
    name = f"footfall-users-{job['created_at']:%Y%m%d-%H%M%S}.csv"
    return Response(pieces, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
