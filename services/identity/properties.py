"""Pure rules for identities and user properties (docs/semantics.md R13, R16, R18, R21, R23). No I/O."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from footfall.messages import Event, Scalar

MAX_IDENTITY_LENGTH = 255  # identities are "under 255 characters" (R16)
MAX_KEY_LENGTH = 512
MAX_VALUE_LENGTH = 1024
MAX_KEYS = 1000
MAX_BYTES = 64 * 1024
EMAIL = "email"  # lowercase `email` is Heap's built-in Email; other casings are custom properties

# Values clients send when they have no real identity. Merging on one of them would fold every
# visitor into one user, irreversibly (Heap's own warning), so they are refused.
GENERIC_IDENTITIES = frozenset({
    "", "null", "undefined", "none", "nil", "nan", "0", "-1", "false", "true",
    "anonymous", "anon", "guest", "user", "unknown", "n/a", "na", "[object object]", "{}", "[]",
    "not set", "not_set", "(not set)", "empty", "id", "user_id", "userid",
})
_QUOTES = re.compile(r"""^(["'`])(.*)\1$""", re.DOTALL)


def _unquote(value: str) -> str:
    """Strip whitespace and any number of matching quote pairs: `'"null"'` → `null`."""
    value = value.strip()
    while (match := _QUOTES.match(value)) is not None:
        value = match.group(2).strip()
    return value


def is_generic_identity(value: object) -> bool:
    """True for placeholders that must never become an identity (`""`, `null`, `"undefined"`, …)."""
    if value is None:
        return True
    return _unquote(str(value)).lower() in GENERIC_IDENTITIES


def identity_problem(value: str | None) -> str | None:
    """Why an identity is refused, or None when it may be used."""
    if is_generic_identity(value):
        return "generic identity"
    if "\x00" in value:
        return "identity with a NUL character"
    if len(value) >= MAX_IDENTITY_LENGTH:
        return f"identity of {len(value)} characters (must be under {MAX_IDENTITY_LENGTH})"
    return None


def clip(value: Scalar) -> Scalar:
    """Strings are truncated to 1024 characters (NUL, which PostgreSQL cannot store, replaced)."""
    return value[:MAX_VALUE_LENGTH].replace("\x00", "\ufffd") if isinstance(value, str) else value


def clean_properties(properties: Mapping[str, Scalar]) -> tuple[dict[str, Scalar], list[str]]:
    """The storable properties of one write and, for the warning, what was refused and why."""
    cleaned: dict[str, Scalar] = {}
    refused: list[str] = []
    for key in sorted(properties):
        value = properties[key]
        if not key.strip():
            refused.append("empty key")
        elif "\x00" in key:
            refused.append(f"key {key!r} contains a NUL character")
        elif len(key) > MAX_KEY_LENGTH:
            refused.append(f"key {key[:40]!r}… longer than {MAX_KEY_LENGTH}")
        elif key.lower() == "id" or key.lower() == "user_id":
            refused.append(f"key {key!r} is reserved")
        elif value is None or (isinstance(value, str) and not value.strip()):
            continue  # an empty value is not a write (R21); clients send them routinely
        elif len(cleaned) >= MAX_KEYS:
            refused.append(f"key {key!r} beyond {MAX_KEYS} keys in one write")
        else:
            cleaned[key] = clip(value)
    return cleaned, refused


@dataclass(frozen=True)
class PropertyWrite:
    """The current value of one key: last write by event time wins, `first_set` is the earliest write."""

    value: Scalar
    set_at: datetime
    set_by: str  # the command id: a deterministic tie-break between writes at the same instant
    first_set: datetime

    def join(self, other: PropertyWrite) -> PropertyWrite:
        winner = self if (self.set_at, self.set_by) >= (other.set_at, other.set_by) else other
        return PropertyWrite(winner.value, winner.set_at, winner.set_by,
                             min(self.first_set, other.first_set))


def _size(key: str, value: Scalar) -> int:
    return len(key.encode()) + len(orjson.dumps(value))


def bound_properties(writes: Mapping[str, PropertyWrite]) -> tuple[dict[str, Scalar], list[str]]:
    """At most 1000 keys and 64 KB: Email first, then keys by when they were first set (then name).

    The ranking depends only on the set of writes, so every arrival order keeps the same keys,
    and established keys are never pushed out by later ones.
    """
    ranked = sorted(writes.items(), key=lambda kv: (kv[0] != EMAIL, kv[1].first_set, kv[0]))
    kept: dict[str, Scalar] = {}
    dropped: list[str] = []
    size = 0
    for key, write in ranked:
        cost = _size(key, write.value)
        if len(kept) < MAX_KEYS and size + cost <= MAX_BYTES:
            kept[key] = write.value
            size += cost
        else:
            dropped.append(key)
    return kept, dropped


# --- Autocaptured initial properties (R23) --------------------------------------------------------


def _landing_page(event: Event) -> str | None:
    page = event.page
    if page is None:
        return None
    if page.url:
        return page.url
    if page.domain or page.path:
        return f"{page.domain or ''}{page.path or ''}"
    return None


def initial_properties(event: Event) -> dict[str, Scalar]:
    """The `Initial …` user properties an event would give if it were the user's earliest."""
    page, device, geo, campaign = event.page, event.device, event.geo, event.campaign
    candidates: Iterable[tuple[str, Scalar]] = (
        ("Initial Referrer", page.referrer if page else None),
        ("Initial Landing Page", _landing_page(event)),
        ("Initial Browser", device.browser if device else None),
        ("Initial Platform", device.os if device else None),
        ("Initial Device Type", device.device_type if device else None),
        ("Initial Country", geo.country if geo else None),
        ("Initial Region", geo.region if geo else None),
        ("Initial City", geo.city if geo else None),
        ("Initial UTM Source", campaign.utm_source if campaign else None),
        ("Initial UTM Medium", campaign.utm_medium if campaign else None),
        ("Initial UTM Campaign", campaign.utm_campaign if campaign else None),
        ("Initial UTM Term", campaign.utm_term if campaign else None),
        ("Initial UTM Content", campaign.utm_content if campaign else None),
    )
    return {key: clip(value) for key, value in candidates if value not in (None, "")}
