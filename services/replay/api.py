"""Replay HTTP API: token-gated chunk upload for the browser SDK, and the internal playback manifest."""
from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, current_app, request
from flask_cors import cross_origin
from werkzeug.exceptions import RequestEntityTooLarge

from footfall.bus import BrokerUnavailable
from footfall.replay_token import InvalidRecordingToken, RecordingGrant, verify_recording_token
from footfall.web import ApiError, found, operation
from services.replay import chunks, deletion
from services.replay.environments import EnvironmentsUnavailable
from services.replay.service import Replays, SessionDeleted
from services.replay.storage import StorageUnavailable

bp = Blueprint("replay", __name__)

TOO_LARGE = (f"chunk is larger than {chunks.MAX_CHUNK_BYTES // 2**20} MB: "
             "send the session in smaller chunks")
CHUNK_RESPONSE = {"type": "object", "properties": {
    "session_id": {"type": "string"}, "seq": {"type": "integer"}, "duplicate": {"type": "boolean"}}}
# The gateway's tokens live 15 minutes: one that claims more was not issued by it.
MAX_TOKEN_LIFETIME = timedelta(hours=1)


def _replays() -> Replays:
    return current_app.extensions["replays"]


def _grant() -> RecordingGrant:
    """The recording grant of the request's Bearer token (401 when missing, forged or expired)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="footfall-replay"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send the recording token as 'Authorization: Bearer <token>'", headers=challenge)
    replays = _replays()
    try:
        grant = verify_recording_token(replays.settings.replay_token_secrets, token.strip(), replays.clock(),
                                       max_lifetime=MAX_TOKEN_LIFETIME)
    except InvalidRecordingToken as exc:
        raise ApiError(401, str(exc), headers=challenge) from exc
    try:
        known = replays.environments.exists(grant.env_id)
    except EnvironmentsUnavailable as exc:
        raise ApiError(503, "environments cannot be checked right now; send the chunk again shortly",
                       headers={"Retry-After": "2"}) from exc
    if not known:
        raise ApiError(401, "the recording token names an environment that does not exist", headers=challenge)
    # The SDK may name what it uploads for; a token only ever writes its own session.
    for field, granted in (("env_id", grant.env_id), ("session_id", grant.session_id)):
        claimed = request.args.get(field)
        if claimed is not None and claimed != granted:
            raise ApiError(403, f"the recording token is not valid for this {field}", field=field)
    return grant


@bp.post("/replay/v1/chunks")
@cross_origin(allow_headers=["Authorization", "Content-Type", "Content-Encoding"], max_age=3600)
@operation("Upload one chunk of a recording: a gzip JSON array of rrweb events, numbered by seq",
           query={"seq": {"type": "integer", "minimum": 0, "required": True},
                  "env_id": {"type": "string"}, "session_id": {"type": "string"}},
           responses={201: CHUNK_RESPONSE, 200: CHUNK_RESPONSE, 400: "not a gzip JSON array of rrweb events",
                      401: "missing, forged or expired token, or an environment that does not exist",
                      403: "token for another session", 410: "the session's user was deleted",
                      413: "chunk over 20 MB or 16 MB inflated, or the session's quota of chunks, "
                           "bytes or events reached (`quota` says which)",
                      503: "storage or broker unavailable; retry"},
           tags=["replay"])
def upload_chunk():
    grant = _grant()
    if (request.content_length or 0) > chunks.MAX_CHUNK_BYTES:
        raise ApiError(413, TOO_LARGE, limit_bytes=chunks.MAX_CHUNK_BYTES)
    try:
        seq = chunks.parse_seq(request.args.get("seq"))
        body = request.get_data(cache=False)
        new = _replays().store_chunk(grant, seq, body)
    except RequestEntityTooLarge as exc:  # a streamed body without Content-Length
        raise ApiError(413, TOO_LARGE, limit_bytes=chunks.MAX_CHUNK_BYTES) from exc
    except chunks.QuotaExceeded as exc:
        raise ApiError(413, str(exc), quota=exc.quota, limit=exc.limit) from exc
    except chunks.ChunkTooLarge as exc:
        raise ApiError(413, str(exc), limit_bytes=chunks.MAX_INFLATED_BYTES) from exc
    except chunks.BadChunk as exc:
        raise ApiError(400, str(exc)) from exc
    except SessionDeleted as exc:
        raise ApiError(410, str(exc), session_id=grant.session_id) from exc
    except (BotoCoreError, ClientError, StorageUnavailable, BrokerUnavailable) as exc:
        # Nothing is lost: the same (session, seq) may be sent again and counts once.
        raise ApiError(503, "storage or broker unavailable: send the chunk again shortly",
                       headers={"Retry-After": "2"}) from exc
    return {"session_id": grant.session_id, "seq": seq, "duplicate": not new}, 201 if new else 200


@bp.get("/internal/v1/envs/<env_id>/replays/<session_id>")
@operation("A session's replay: chunks in seq order with 60-second pre-signed URLs, or ?inline=1 "
           "events (streamed)",
           query={"inline": {"type": "string", "enum": ["0", "1"]}},
           responses={200: "the manifest", 404: "no replay, or past retention"}, tags=["internal"])
def manifest(env_id: str, session_id: str):
    if request.args.get("inline") == "1":
        stream = found(_replays().inline(env_id, session_id), "no replay for this session",
                       session_id=session_id)
        return current_app.response_class(stream, mimetype="application/json")
    return found(_replays().manifest(env_id, session_id), "no replay for this session",
                 session_id=session_id)


@bp.get("/internal/v1/envs/<env_id>/deletions")
@operation("Deletions done here, by id: counts and time (no personal data)",
           query={"ids": {"type": "string", "description": "comma-separated deletion ids (at most 100)",
                          "required": True}},
           responses={200: {"type": "object"}, 400: "invalid ids"}, tags=["internal"])
def deletions(env_id: str):
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        raise ApiError(400, "ids: 1 to 100 comma-separated deletion ids", field="ids")
    return {"deletions": deletion.deletion_status(_replays().index.engine, env_id, ids)}
