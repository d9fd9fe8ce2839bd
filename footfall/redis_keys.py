"""Every Redis key Footfall uses, in one place: what it holds, who writes it and who reads it.

Redis holds no source of truth: the gateway mirrors what ingest and replay must read without a
call to it, and the rest are counters that may be lost.
"""
from __future__ import annotations

# --- Mirrors the gateway writes (from its database) ----------------------------------------------

# Hash: field = write key, value = env id. The gateway HSETs on create, HDELs on rotation; ingest reads.
WRITE_KEYS_HASH = "footfall:write_keys"
# A field the gateway keeps in WRITE_KEYS_HASH beside the keys (no write key is empty): while it is
# there, Redis holds every key, so a key not in the hash is unknown (401), not lost with a
# restarted Redis (503 until the gateway puts the keys back).
WRITE_KEYS_LOADED_FIELD = ""
# Set of every environment's id. The gateway writes; the replay service checks recording tokens' envs.
ENVIRONMENTS_SET = "footfall:environments"
# Hash: field = env id, value = footfall.messages.EnvironmentSettings as JSON. The gateway writes;
# ingest (bot traffic) and the sessions retention job read.
ENV_SETTINGS_HASH = "footfall:env_settings"

# --- Counters -----------------------------------------------------------------------------------


def bot_traffic_hash(env_id: str) -> str:
    """Hash of an environment's bot traffic: field `<day>:<reason>`, value a count. Ingest
    increments; the gateway's settings view reads."""
    return f"footfall:bot_traffic:{env_id}"


def bot_dropped_hash(env_id: str) -> str:
    """The dropped part of bot_traffic_hash, same fields. Ingest increments; the gateway's
    ingestion page reads."""
    return f"footfall:bot_dropped:{env_id}"


def rate_limited_hash(env_id: str) -> str:
    """Hash of an environment's events refused by ingest's rate limit: field `<day>`, value a
    count. Ingest increments; the gateway's ingestion page reads."""
    return f"footfall:ingest:rate_limited:{env_id}"


def ingest_rate(env_id: str, window: int) -> str:
    """Ingest's count of an environment's events in one rate-limit window (expires with it)."""
    return f"footfall:ingest:rate:{env_id}:{window}"


def rate(limit: str, subject_digest: str, window: int) -> str:
    """footfall.ratelimit's count of one subject (hashed) under a named limit, in one window."""
    return f"footfall:rate:{limit}:{subject_digest}:{window}"


def login(kind: str, digest: str) -> str:
    """The gateway's login throttle: failures by `account`, `address` or `device`, or the account a
    device last signed in to (`known`), each by its hashed subject."""
    return f"footfall:login:{kind}:{digest}"
