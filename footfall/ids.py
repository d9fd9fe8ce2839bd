"""Heap-style user ids: decimal strings of integers in [0, 2^53), derivable by every service."""
from __future__ import annotations

import hashlib
import uuid

MAX_ID = 2**53 - 1


def hash53(*parts: str) -> str:
    """A stable 53-bit id for the given parts, as a decimal string (JS numbers hold it exactly)."""
    # A unit separator keeps ("a", "bc") and ("ab", "c") apart.
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return str(int.from_bytes(digest, "big") & MAX_ID)


def is_user_id(value: str) -> bool:
    """True when value is a decimal string of an integer in [0, 2^53)."""
    # isascii: str.isdigit() is also true for digits like '²' that int() refuses.
    return value.isascii() and value.isdigit() and len(value) <= 16 and int(value) <= MAX_ID


def anonymous_user_id(anonymous_id: str) -> str:
    """A device's user id: the SDK's own 53-bit id kept as is, anything else (Segment) hashed."""
    return anonymous_id if is_user_id(anonymous_id) else hash53(anonymous_id)


def identified_user_id(env_id: str, identity: str) -> str:
    """The user id of an identity in an environment, the same in every service."""
    return hash53(env_id, identity)


def identity_key(env_id: str, identity: str) -> str:
    """A one-way key of an identity (tombstones keep it instead of the identity itself).

    SHA-256 hex of `env \\x1f identity`, which PostgreSQL computes too:
    encode(sha256(convert_to(env || chr(31) || identity, 'UTF8')), 'hex').
    """
    return hashlib.sha256(f"{env_id}\x1f{identity}".encode()).hexdigest()


def new_message_id() -> str:
    """A fresh, time-ordered-enough unique id for a message or event."""
    return str(uuid.uuid4())
