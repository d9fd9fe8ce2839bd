"""Replay recording tokens: the gateway signs one per admitted session, the replay service verifies
it with no call back (both hold `Settings.replay_token_secrets`). No business rule lives here: who
may record, and for how long a token lives, is the gateway's decision.

A token is `<key id>.<signed payload>`. The key id names which secret signed it, so secrets rotate
without downtime: verifiers accept every listed secret, signers use the first. Ids that end up in
S3 keys (environment, session) are checked here, on both sides, against one safe alphabet.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from itsdangerous import BadSignature, URLSafeTimedSerializer

# The salt keeps these tokens from being valid anywhere else the same secret might sign.
_SALT = "footfall.replay.recording"
# Letters and digits first (never `.` or `..`, which S3 clients normalise out of a key), then
# what SDK ids use. 128 characters at most: the index columns' width.
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
ENV_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_DEVICE_ID = 256


@dataclass(frozen=True)
class RecordingGrant:
    """What a token allows: recording one session of one device into one environment until expiry."""

    env_id: str
    session_id: str
    device_id: str
    expires_at: datetime


class InvalidRecordingToken(ValueError):
    """The token is forged, malformed or expired (the message says which, for the 401 body)."""


def valid_session_id(session_id: str) -> bool:
    return SESSION_ID.fullmatch(session_id) is not None


def key_id(secret: str) -> str:
    """A short public name of a secret (8 hex digits of a hash: says nothing of the secret)."""
    return hashlib.sha256(b"footfall.replay.kid:" + secret.encode()).hexdigest()[:8]


def _keys(secrets: str | Sequence[str]) -> list[str]:
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys or not all(keys):
        raise ValueError("replay tokens need at least one non-empty secret")
    return keys


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def sign_recording_token(secrets: str | Sequence[str], grant: RecordingGrant) -> str:
    """A URL-safe token carrying the grant, expiry included, signed with the first secret."""
    if not (ENV_ID.fullmatch(grant.env_id) and valid_session_id(grant.session_id)):
        raise ValueError("environment or session id outside the safe alphabet")
    secret = _keys(secrets)[0]
    return key_id(secret) + "." + _serializer(secret).dumps({
        "env": grant.env_id, "sid": grant.session_id, "did": grant.device_id,
        "exp": int(grant.expires_at.timestamp()),
    })


def verify_recording_token(secrets: str | Sequence[str], token: str, now: datetime | None = None,
                           max_lifetime: timedelta | None = None) -> RecordingGrant:
    """The grant a genuine, unexpired token carries; raises InvalidRecordingToken otherwise.

    `max_lifetime` refuses a token whose expiry lies further ahead than any the signer issues.
    """
    kid, _, signed = token.partition(".")
    by_id = {key_id(secret): secret for secret in _keys(secrets)}
    if kid not in by_id:
        raise InvalidRecordingToken("recording token signature is invalid (unknown key id); "
                                    "ask /replay/v1/start for a new one")
    try:
        payload = _serializer(by_id[kid]).loads(signed)
        grant = RecordingGrant(
            env_id=str(payload["env"]), session_id=str(payload["sid"]), device_id=str(payload["did"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), timezone.utc),
        )
    except BadSignature as exc:
        raise InvalidRecordingToken("recording token signature is invalid") from exc
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise InvalidRecordingToken("recording token is malformed") from exc
    if not (ENV_ID.fullmatch(grant.env_id) and valid_session_id(grant.session_id)
            and 0 < len(grant.device_id) <= MAX_DEVICE_ID):
        raise InvalidRecordingToken("recording token names an invalid environment, session or device")
    now = now or datetime.now(timezone.utc)
    if grant.expires_at <= now:
        raise InvalidRecordingToken("recording token has expired; ask /replay/v1/start for a new one")
    if max_lifetime is not None and grant.expires_at > now + max_lifetime:
        raise InvalidRecordingToken("recording token expires further ahead than any token issued")
    return grant
