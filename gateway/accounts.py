"""UI accounts (argon2 hashes), their browser sessions and API tokens; secrets are stored hashed."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from footfall.config import Settings
from footfall.ttlcache import MISSING, TTLCache
from footfall.web import ApiError
from gateway.store import account_environments, accounts, api_tokens, get_engine, ui_sessions

SESSION_LIFETIME = timedelta(days=14)
_hasher = PasswordHasher()
# Verifying against a dummy hash when the email is unknown keeps login time the same either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_account(email: str, password: str, *, is_admin: bool = False, env_ids: list[str] = (),
                   settings: Settings | None = None) -> int:
    """Create an account, or reset the password of an existing one (bootstrap is re-runnable)."""
    if len(password) < 8:
        raise ApiError(400, "password must have at least 8 characters", field="password")
    email = email.strip().lower()
    password_hash = _hasher.hash(password)
    with get_engine(settings).begin() as conn:
        account_id = conn.scalar(select(accounts.c.id).where(accounts.c.email == email))
        if account_id is None:
            account_id = conn.scalar(insert(accounts).values(
                email=email, password_hash=password_hash, is_admin=is_admin).returning(accounts.c.id))
        else:
            conn.execute(update(accounts).where(accounts.c.id == account_id)
                         .values(password_hash=password_hash, is_admin=is_admin))
        for env_id in env_ids:
            conn.execute(pg_insert(account_environments).values(account_id=account_id, env_id=env_id)
                         .on_conflict_do_nothing())
    return account_id


def authenticate(email: str, password: str, settings: Settings | None = None,
                 checks: Callable[[Callable[[], bool]], bool] | None = None) -> int | None:
    """The account id when the password is right, else None. `checks` runs the argon2 check
    (login_throttle.PasswordChecks.run bounds how many run at once)."""
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(accounts.c.id, accounts.c.password_hash)
                           .where(accounts.c.email == email.strip().lower())).first()

    def check() -> bool:
        try:
            return _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False

    right = checks(check) if checks is not None else check()
    return row.id if right and row else None


def open_session(account_id: int, settings: Settings | None = None) -> tuple[str, str]:
    """A new browser session: (cookie value, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = datetime.now(timezone.utc) + SESSION_LIFETIME
    with get_engine(settings).begin() as conn:
        conn.execute(ui_sessions.insert().values(token_hash=_digest(token), account_id=account_id,
                                                 csrf_token=csrf, expires_at=expires))
    return token, csrf


def close_session(token: str, settings: Settings | None = None) -> None:
    with get_engine(settings).begin() as conn:
        conn.execute(delete(ui_sessions).where(ui_sessions.c.token_hash == _digest(token)))


def session_account(token: str, settings: Settings | None = None) -> dict | None:
    """The account behind a live session cookie, with its CSRF token and readable environments."""
    with get_engine(settings).connect() as conn:
        row = conn.execute(
            select(accounts.c.id, accounts.c.email, accounts.c.is_admin, ui_sessions.c.csrf_token)
            .join(ui_sessions, ui_sessions.c.account_id == accounts.c.id)
            .where(ui_sessions.c.token_hash == _digest(token),
                   ui_sessions.c.expires_at > datetime.now(timezone.utc))).mappings().first()
        if row is None:
            return None
        env_ids = None if row["is_admin"] else conn.scalars(
            select(account_environments.c.env_id)
            .where(account_environments.c.account_id == row["id"])).all()
    return {**row, "env_ids": env_ids}


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given)


def create_api_token(env_id: str, name: str, token: str | None = None, settings: Settings | None = None,
                     *, expires_at: datetime | None = None, created_by: str | None = None) -> str:
    """Create (or, with a given token, idempotently keep) an API token for one environment."""
    token = token or "ff_" + secrets.token_urlsafe(32)
    values = {"env_id": env_id, "name": name, "expires_at": expires_at, "created_by": created_by}
    with get_engine(settings).begin() as conn:
        conn.execute(pg_insert(api_tokens).values(token_hash=_digest(token), **values)
                     .on_conflict_do_update(index_elements=["token_hash"],
                                            set_={**values, "revoked_at": None}))
    _token_cache.pop(_digest(token))
    return token


TOKEN_FIELDS = ("id", "name", "created_by", "created_at", "expires_at", "last_used_at", "revoked_at")


def token_by_secret(token: str, settings: Settings | None = None) -> dict | None:
    """The listed form of a token, found by its secret (for the answer that shows it once)."""
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(*(api_tokens.c[f] for f in TOKEN_FIELDS))
                           .where(api_tokens.c.token_hash == _digest(token))).mappings().first()
    return dict(row) if row else None


def list_api_tokens(env_id: str, settings: Settings | None = None) -> list[dict]:
    """An environment's tokens, newest first, without their secrets (revoked ones included)."""
    with get_engine(settings).connect() as conn:
        return [dict(row) for row in conn.execute(
            select(*(api_tokens.c[f] for f in TOKEN_FIELDS)).where(api_tokens.c.env_id == env_id)
            .order_by(api_tokens.c.id.desc())).mappings()]


def revoke_api_token(env_id: str, token_id: int, settings: Settings | None = None) -> dict | None:
    """Revoke one of an environment's tokens (idempotent); None when it has no such token.
    Processes that used it in the last TOKEN_CACHE_S seconds may accept it that long."""
    with get_engine(settings).begin() as conn:
        row = conn.execute(
            update(api_tokens).where(api_tokens.c.env_id == env_id, api_tokens.c.id == token_id)
            .values(revoked_at=func.coalesce(api_tokens.c.revoked_at, func.now()))
            .returning(api_tokens.c.token_hash, *(api_tokens.c[f] for f in TOKEN_FIELDS))).mappings().first()
    if row is None:
        return None
    _token_cache.pop(row["token_hash"])
    return {f: row[f] for f in TOKEN_FIELDS}


# Scripts poll the API: remembering a token's environment briefly saves a query per request.
# A revoked token keeps working for at most TOKEN_CACHE_S in a process that saw it recently.
TOKEN_CACHE_S = 5.0
# Last use is written at most this often per token: reads stay reads.
LAST_USED_EVERY = timedelta(minutes=1)
_token_cache = TTLCache(10_000)


def token_env(token: str, settings: Settings | None = None) -> str | None:
    """The environment a live (unrevoked, unexpired) API token may read, or None."""
    digest = _digest(token)
    cached = _token_cache.fresh(digest)
    if cached is not MISSING:
        return cached
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(api_tokens.c.env_id, api_tokens.c.last_used_at, func.now().label("now")).where(
            api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > func.now()))).first()
        if row is not None and (row.last_used_at is None or row.last_used_at < row.now - LAST_USED_EVERY):
            conn.execute(update(api_tokens).where(api_tokens.c.token_hash == digest).values(last_used_at=row.now))
            conn.commit()
    env_id = row.env_id if row is not None else None
    _token_cache.put(digest, env_id, TOKEN_CACHE_S)  # bounded: many distinct tokens may be bogus
    return env_id
