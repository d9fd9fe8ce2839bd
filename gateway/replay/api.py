"""Session replay at the gateway: recording admission for the SDK, and plan, status and playback for the UI.

The gateway registers `bp`. Playback asks the replay service's internal API over HTTP (the gateway
never imports a service); recording tokens are verified by the replay service with no call back.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import redis
from flask import Blueprint, current_app, request
from flask_cors import cross_origin
from pydantic import BaseModel, ConfigDict, StringConstraints

from footfall.config import Settings
from footfall.ratelimit import FixedWindow
from footfall.replay_token import (
    MAX_DEVICE_ID,
    SESSION_ID,
    RecordingGrant,
    sign_recording_token,
    valid_session_id,
)
from footfall.web import ApiError, operation
from gateway import environments
from gateway.api import internal, seg, services
from gateway.auth import require_account, require_env_access
from gateway.replay import trial
from gateway.replay.store import TrialStore

bp = Blueprint("replay", __name__)

# Short, so a trial that ends or a plan switched off stops recording soon; the SDK asks again.
RECORDING_TOKEN_TTL = timedelta(minutes=15)
PLAYBACK_TIMEOUT_S = 5
PLAYBACK_PIECE = 64 * 1024
# Session ids end up in S3 keys: keep them to characters every S3 implementation takes as is,
# never `.` or `..` (footfall.replay_token.SESSION_ID).
SessionId = Annotated[str, StringConstraints(pattern=f"^{SESSION_ID.pattern}$")]
# Printable text only: PostgreSQL refuses NUL in text (it was a 500).
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_DEVICE_ID, pattern=r"^[^\x00-\x1f\x7f]+$")]


class StartRecording(BaseModel):
    model_config = ConfigDict(extra="ignore")
    write_key: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
    session_id: SessionId
    device_id: DeviceId


class RecordingStarted(BaseModel):
    token: str
    upload_url: str
    expires_at: datetime


class PlanChange(BaseModel):
    plan: trial.Plan


class ReplayStatus(BaseModel):
    env_id: str
    plan: trial.Plan
    trial_started_at: datetime | None
    trial_ends_at: datetime | None
    trial_days: int
    trial_session_limit: int
    sessions_used: int
    sessions_left: int
    recording_allowed: bool
    state: str  # recording | contact_sales | off
    reason: str
    message: str


def admission_limits(client: redis.Redis, settings: Settings) -> dict[str, FixedWindow]:
    """The admission limits in Redis, per device, client address and environment (create_app)."""
    return {
        "device": FixedWindow(client, "replay-start-device", settings.replay_starts_per_device),
        "ip": FixedWindow(client, "replay-new-ip", settings.replay_new_sessions_per_ip),
        "env": FixedWindow(client, "replay-new-env", settings.replay_new_sessions_per_env),
    }


def _store() -> TrialStore:
    return current_app.extensions["replay_trial"]


def _settings():
    return current_app.config["SETTINGS"]


@bp.post("/replay/v1/start")
@cross_origin(allow_headers=["Content-Type"], max_age=3600)
@operation("Admit a session to recording and get a short-lived upload token", request=StartRecording,
           responses={200: RecordingStarted, 400: "invalid body", 401: "unknown write key",
                      402: "trial ended — contact sales",
                      403: "replay is off, or the session was started by another device",
                      429: "too many sessions started by this device, address or environment; "
                           "Retry-After says when to ask again"}, tags=["replay"])
def start_recording():
    body = StartRecording.model_validate(request.get_json(force=True, silent=True) or {})
    settings = _settings()
    env_id = environments.env_for_write_key(body.write_key, settings)
    if env_id is None:
        raise ApiError(401, "unknown write key", field="write_key")
    _take_admission_limits(env_id, body.session_id, body.device_id)
    admission = _store().admit(env_id, body.session_id, body.device_id)
    if not admission.allowed:
        status = 403 if admission.reason in ("off", "other_device") else 402
        raise ApiError(status, admission.message, reason=admission.reason)
    expires_at = _store().clock() + RECORDING_TOKEN_TTL
    token = sign_recording_token(settings.replay_token_secrets, RecordingGrant(
        env_id=env_id, session_id=body.session_id, device_id=body.device_id, expires_at=expires_at))
    return RecordingStarted(token=token, upload_url=settings.replay_url.rstrip("/") + "/replay/v1/chunks",
                            expires_at=expires_at).model_dump(mode="json")


def _take_admission_limits(env_id: str, session_id: str, device_id: str) -> None:
    """429 past a limit: every start of one device counts; a new session also counts for the
    client's address and the environment (a session asking again for a token does not)."""
    limits = current_app.extensions["replay_limits"]
    checks = [("device", f"{env_id}\n{device_id}")]
    if _store().admitted_device(env_id, session_id) is None:
        checks += [("ip", f"{env_id}\n{request.remote_addr}"), ("env", env_id)]
    for name, subject in checks:
        retry_after = limits[name].take(subject)
        if retry_after:
            raise ApiError(429, f"too many recordings started from this {name}; try again later",
                           headers={"Retry-After": str(retry_after)}, limit=name)


@bp.get("/api/v1/environments/<env_id>/replay/status")
@require_env_access
@operation("Replay plan and trial: start, end, sessions used and left, whether recording is allowed",
           responses={200: ReplayStatus}, tags=["replay"])
def replay_status(env_id: str):
    return _status(env_id, _store().state(env_id))


@bp.put("/api/v1/environments/<env_id>/replay/plan")
@require_env_access
@require_account(admin=True)
@operation("Set the replay plan (trial, paid or off); admins only", request=PlanChange,
           responses={200: ReplayStatus, 400: "unknown plan", 403: "not an admin"}, tags=["replay"])
def set_plan(env_id: str):
    change = PlanChange.model_validate(request.get_json(force=True, silent=True) or {})
    return _status(env_id, _store().set_plan(env_id, change.plan))


@bp.get("/api/v1/environments/<env_id>/replays/<session_id>")
@require_env_access
@operation("A session's replay: ordered chunks with 60-second URLs, or inline events with ?inline=1 "
           "(streamed)", query={"inline": {"type": "string", "enum": ["0", "1"]}},
           responses={200: "the replay manifest", 404: "no replay (or past retention)",
                      502: "the replay service failed", 503: "the replay service is unavailable"},
           tags=["replay"])
def playback(env_id: str, session_id: str):
    # Recordings stay playable whatever the plan now is, until retention.
    if not valid_session_id(session_id):
        raise ApiError(404, "no replay for this session", session_id=session_id)
    params = {"inline": "1"} if request.args.get("inline") == "1" else None
    pieces = services().replay.stream(internal(env_id, f"/replays/{seg(session_id)}"), params,
                                      PLAYBACK_PIECE, read_s=PLAYBACK_TIMEOUT_S)
    if pieces is None:
        raise ApiError(404, "no replay for this session", session_id=session_id)
    # Passed on piece by piece: a long recording never sits whole in the gateway's memory.
    return current_app.response_class(pieces, mimetype="application/json")


def _status(env_id: str, state: trial.TrialState) -> dict:
    now = _store().clock()
    recording = trial.recording_status(state, now)
    return ReplayStatus(
        env_id=env_id, plan=state.plan, trial_started_at=state.trial_started_at,
        trial_ends_at=state.trial_ends_at, trial_days=state.trial_days,
        trial_session_limit=state.trial_limit, sessions_used=state.trial_used,
        sessions_left=trial.sessions_left(state, now),
        recording_allowed=recording.allowed, state=_coarse_state(recording),
        reason=recording.reason, message=recording.message,
    ).model_dump(mode="json")


def _coarse_state(recording: trial.Admission) -> str:
    if recording.allowed:
        return "recording"
    return "off" if recording.reason == "off" else "contact_sales"
