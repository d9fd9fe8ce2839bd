"""Replay recording tokens: the gateway signs one per admitted session, the replay service verifies
it with no call back (both hold `Settings.replay_token_secret`). No business rule lives here: who
may record, and for how long a token lives, is the gateway's decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from itsdangerous import BadSignature, URLSafeTimedSerializer

# The salt keeps these tokens from being valid anywhere else the same secret might sign.
_SALT = "footfall.replay.recording"


@dataclass(frozen=True)
class RecordingGrant:
    """What a token allows: recording one session of one device into one environment until expiry."""

    env_id: str
    session_id: str
    device_id: str
    expires_at: datetime


class InvalidRecordingToken(ValueError):
    """The token is forged, malformed or expired (the message says which, for the 401 body)."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def sign_recording_token(secret: str, grant: RecordingGrant) -> str:
    """A URL-safe signed token carrying the grant, expiry included."""
    return _serializer(secret).dumps({
        "env": grant.env_id, "sid": grant.session_id, "did": grant.device_id,
        "exp": int(grant.expires_at.timestamp()),
    })


def verify_recording_token(secret: str, token: str, now: datetime | None = None) -> RecordingGrant:
    """The grant a genuine, unexpired token carries; raises InvalidRecordingToken otherwise."""
    try:
        payload = _serializer(secret).loads(token)
        grant = RecordingGrant(
            env_id=str(payload["env"]), session_id=str(payload["sid"]), device_id=str(payload["did"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), timezone.utc),
        )
    except BadSignature as exc:
        raise InvalidRecordingToken("recording token signature is invalid") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecordingToken("recording token is malformed") from exc
    if grant.expires_at <= (now or datetime.now(timezone.utc)):
        raise InvalidRecordingToken("recording token has expired; ask /replay/v1/start for a new one")
    return grant
