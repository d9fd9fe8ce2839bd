"""Ingest's HTTP routes (thin): Segment spec, Heap server API, the browser SDK bundles, CORS."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from footfall.web import ApiError, operation
from services.ingest import schemas, service

bp = Blueprint("ingest", __name__)

SDK_DIST = Path(__file__).resolve().parents[2] / "sdk" / "js" / "dist"
SDK_FILES = {"/sdk.js": "footfall.js", "/sdk-replay.js": "footfall-replay.js"}
SDK_MAX_AGE_S = 24 * 3600  # unversioned URLs: a day, then browsers revalidate with the ETag
SEGMENT_TYPES = ("track", "identify", "page", "screen", "alias", "group")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding, X-Request-Id",
    "Access-Control-Max-Age": "86400",
}


def _intake() -> service.Intake:
    return current_app.extensions["ingest"]


def _accept(dialect: service.Dialect):
    body, status = _intake().accept(dialect, request)
    return jsonify(body), status


@bp.after_request
def _cors(response: Response) -> Response:
    """Browser SDKs post from any site; no cookies are involved, so `*` is safe."""
    response.headers.update(CORS_HEADERS)
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:  # a preflight for headers beyond ours (a wrapper's own header): allow what was asked
        response.headers["Access-Control-Allow-Headers"] = asked
    return response


@bp.errorhandler(ApiError)
def _error(exc: ApiError):
    """The kernel's JSON error, plus a top-level code/message that Segment-style clients read."""
    body = {"error": {"code": exc.status, "message": exc.message, **exc.details},
            "code": str(exc.status), "message": exc.message}
    return jsonify(body), exc.status, exc.headers


SEGMENT_RESPONSES = {200: schemas.Accepted, **schemas.ERRORS}
HEAP_RESPONSES = {202: schemas.Accepted, **schemas.ERRORS}


@bp.post("/v1/batch")
@operation("Segment batch: up to 1000 messages of any type", request=schemas.SegmentBatch,
           responses=SEGMENT_RESPONSES, tags=["segment"])
def segment_batch():
    return _accept(service.SEGMENT_BATCH)


def _segment_view(message_type: str):
    dialect = service.segment_dialect(message_type)

    def view():
        return _accept(dialect)

    view.__name__ = f"segment_{message_type}"
    return operation(f"Segment {message_type}: one message", request=schemas.SegmentMessage,
                     responses=SEGMENT_RESPONSES, tags=["segment"])(view)


for _type in SEGMENT_TYPES:
    bp.add_url_rule(f"/v1/{_type}", f"segment_{_type}", _segment_view(_type), methods=["POST"])


@bp.post("/api/track")
@operation("Heap track: one event, or `events` (up to 1000)", request=schemas.HeapTrack,
           responses=HEAP_RESPONSES, tags=["heap"])
def heap_track():
    return _accept(service.HEAP_TRACK)


@bp.post("/api/add_user_properties")
@operation("Heap add_user_properties: one user, or `users` (up to 1000)", request=schemas.HeapUserProperties,
           responses=HEAP_RESPONSES, tags=["heap"])
def heap_add_user_properties():
    return _accept(service.HEAP_USER_PROPERTIES)


@bp.post("/api/v1/identify")
@operation("Heap identify: link an anonymous user_id to an identity", request=schemas.HeapIdentify,
           responses=HEAP_RESPONSES, tags=["heap"])
def heap_identify():
    return _accept(service.HEAP_IDENTIFY)


def _sdk_view(path: str, filename: str):
    def view():
        file = SDK_DIST / filename
        if not file.is_file():
            raise ApiError(404, f"{path} is not built: run `make sdk-build` to create sdk/js/dist/{filename}",
                           field="path")
        response = send_file(file, mimetype="text/javascript", max_age=SDK_MAX_AGE_S, conditional=True)
        response.cache_control.public = True
        return response

    view.__name__ = f"sdk_{filename.replace('-', '_').removesuffix('.js')}"
    return operation(f"The browser SDK bundle {filename}", responses={200: "JavaScript", 304: "Not modified",
                                                                      404: schemas.ErrorBody},
                     tags=["sdk"])(view)


for _path, _filename in SDK_FILES.items():
    _view = _sdk_view(_path, _filename)
    bp.add_url_rule(_path, _view.__name__, _view, methods=["GET"])
