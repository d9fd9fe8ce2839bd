"""Our browser SDK's extensions inside the Segment shape: `context.footfall`.

The SDK sends ordinary Segment messages (`POST /v1/batch` or `/v1/track`, `/v1/page`, write key
as the Basic user or `writeKey`, `Content-Type: text/plain` to skip the CORS preflight) where
`anonymousId` is the SDK's 53-bit anonymous user id (a decimal string), and adds one object:

    "context": {
      "library": {"name": "footfall.js", "version": "1.0.0"},
      "userAgent": "Mozilla/5.0 …",
      "page": {"url": "https://shop.example/cart?utm_source=ads#top", "title": "Cart",
               "referrer": "https://google.com/"},
      "screen": {"width": 1440, "height": 900},
      "footfall": {
        "device_id": "a1b2c3d4",             # device cookie; optional, defaults to anonymousId
        "session_id": "1714550400000-k3x9",  # client session id; optional (replays key on it)
        "kind": "click",                     # pageview | click | change | submit | rage_click | dead_click
        "source": "web",                     # web | ios | android | server; optional
        "target": {                          # optional; for click / change / submit
          "text": "Add to cart",             # visible text, truncated to 1024 characters
          "href": "/checkout",               # the link's href, when the target is (inside) a link
          "hierarchy": [                     # the target first, then its ancestors up to <body>
            {"tag": "button", "id": "add", "classes": ["btn", "primary"],
             "attributes": {"data-sku": "42", "type": "submit"}, "nth": 2}
          ]
        }
      }
    }

Kinds: without `kind`, a `page` message is a pageview, `screen` a screen and `track` a custom
event named by `event`; with `kind` click/change/submit, `event` may be omitted. `rage_click` (several
clicks on one element in a short time) and `dead_click` (a click nothing answered) are frustration
signals the SDK detects (docs/frustration-and-pipeline.md); they carry the clicked element as `target`. Node fields:
`tag` (required, lower case), `id`, `classes` (list of strings), `attributes` (string values),
`nth` (1-based position among element siblings). At most 64 nodes are kept.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from services.ingest.normalize import MAX_VALUE_CHARS, FieldError, identifier, json_text, obj, text

KINDS = ("pageview", "click", "change", "submit", "rage_click", "dead_click")
MAX_NODES = 64
_PREFIX = "context.footfall"


class Extension(NamedTuple):  # a NamedTuple: built once per event, cheaper than a frozen dataclass
    device_id: str | None = None
    session_id: str | None = None
    kind: str | None = None
    source: str | None = None
    target: dict | None = None


NONE = Extension()


def extension(context: dict) -> Extension:
    """Read and check `context.footfall`; absent means a plain Segment client."""
    raw = context.get("footfall")
    if raw is None:
        return NONE
    raw = obj(raw, _PREFIX)
    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise FieldError(f"{_PREFIX}.kind", f"must be one of {', '.join(KINDS)}")
    source = raw.get("source")
    if source is not None and source not in ("web", "ios", "android", "server"):
        raise FieldError(f"{_PREFIX}.source", "must be web, ios, android or server")
    return Extension(
        device_id=identifier(raw.get("device_id"), f"{_PREFIX}.device_id"),
        session_id=identifier(raw.get("session_id"), f"{_PREFIX}.session_id"),
        kind=kind,
        source=source,
        target=_target(raw.get("target")),
    )


def _target(raw: Any) -> dict | None:
    if raw is None:
        return None
    return _target_of(json_text(obj(raw, f"{_PREFIX}.target"), f"{_PREFIX}.target"))


@lru_cache(maxsize=8192)
def _target_of(raw_json: str) -> dict:
    """Cached by the target's JSON: the same elements are clicked again and again (shared, never mutated)."""
    raw = orjson.loads(raw_json)
    hierarchy = raw.get("hierarchy") or []
    if not isinstance(hierarchy, list):
        raise FieldError(f"{_PREFIX}.target.hierarchy", "must be a list of nodes")
    return {
        "hierarchy": [_node(node, i) for i, node in enumerate(hierarchy[:MAX_NODES])],
        "text": text(raw.get("text"), f"{_PREFIX}.target.text"),
        "href": text(raw.get("href"), f"{_PREFIX}.target.href"),
    }


def _node(raw: Any, index: int) -> dict:
    # The hot path of click events: plain type checks, field names built only for errors.
    if type(raw) is not dict:
        raise FieldError(_node_field(index), "must be an object")
    tag = raw.get("tag")
    if type(tag) is not str or not tag:
        raise FieldError(_node_field(index, "tag"), "is required (the element's tag name)")
    classes = raw.get("classes") or []
    if type(classes) is not list or not all(type(c) is str for c in classes):
        raise FieldError(_node_field(index, "classes"), "must be a list of strings")
    attributes = raw.get("attributes") or {}
    if type(attributes) is not dict:
        raise FieldError(_node_field(index, "attributes"), "must be an object")
    nth = raw.get("nth")
    if nth is not None and (type(nth) is not int or nth < 1):
        raise FieldError(_node_field(index, "nth"), "must be a positive integer")
    node_id = raw.get("id")
    return {
        "tag": tag[:MAX_VALUE_CHARS].lower(),
        "id": node_id if node_id is None or type(node_id) is str else text(node_id, _node_field(index, "id")),
        "classes": [c[:MAX_VALUE_CHARS] for c in classes],
        "attributes": {k[:MAX_VALUE_CHARS]: v[:MAX_VALUE_CHARS] if type(v) is str else _attribute(v, index, k)
                       for k, v in attributes.items()},
        "nth": nth,
    }


def _node_field(index: int, field: str | None = None) -> str:
    name = f"{_PREFIX}.target.hierarchy[{index}]"
    return f"{name}.{field}" if field else name


def _attribute(value: Any, index: int, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value, _node_field(index, f"attributes.{key}")) or ""
