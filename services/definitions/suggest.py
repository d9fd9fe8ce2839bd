""""Define from this event": propose criteria and a name for a raw event (pure).

The selector is built from the target's most stable attributes: its id, else a data-* attribute
(test and tracking hooks first), else up to two classes — skipping anything that looks generated
(CSS-in-JS hashes, framework counters, React ids) because those change on the next deploy. When
the target itself has nothing stable, the nearest ancestor with a stable id scopes it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import soupsieve

from criteria.match import view
from criteria.model import Criteria

PREFERRED_DATA = ("data-testid", "data-test", "data-test-id", "data-cy", "data-qa", "data-track",
                  "data-action", "data-analytics", "data-event")
GENERATED_PREFIXES = ("css-", "sc-", "jsx-", "emotion-", "ember", "svelte-", "ng-", "tw-", "_")
VERBS = {"click": "Click", "change": "Change", "submit": "Submit", "rage_click": "Rage click",
         "dead_click": "Dead click"}
MAX_TEXT = 60


def looks_generated(token: str) -> bool:
    """Heuristic: would this id/class likely change between builds or page loads?"""
    if not token or len(token) > 40 or token.startswith(":") or token[0].isdigit():
        return True
    lower = token.lower()
    if lower.startswith(GENERATED_PREFIXES) and any(c.isdigit() for c in token):
        return True
    if re.search(r"[0-9]{3,}", token) or re.fullmatch(r"[0-9a-f-]{16,}", lower):
        return True
    # A short piece mixing letters and digits, or upper case in the middle of lower case: a hash.
    for piece in re.split(r"[-_]+", token):
        if len(piece) >= 5 and re.search(r"[0-9]", piece) and re.search(r"[a-zA-Z]", piece):
            return True
        if len(piece) >= 5 and re.search(r"[a-z][A-Z]", piece) and re.search(r"[0-9]", token):
            return True
    return False


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def _stable_part(node: Mapping[str, Any]) -> tuple[str, bool]:
    """The node's selector and whether it identifies the node on its own (id or data attribute)."""
    tag = soupsieve.escape(str(node.get("tag") or "*").lower())
    node_id = node.get("id")
    if isinstance(node_id, str) and not looks_generated(node_id):
        return f"{tag}#{soupsieve.escape(node_id)}", True
    attributes = node.get("attributes") or {}
    data = sorted((k for k in attributes if k.startswith("data-") and isinstance(attributes[k], str)),
                  key=lambda k: (PREFERRED_DATA.index(k) if k in PREFERRED_DATA else len(PREFERRED_DATA), k))
    for name in data:
        value = attributes[name]
        if value and not looks_generated(value.replace(" ", "-")):
            return f"{tag}[{soupsieve.escape(name)}={_quote(value)}]", True
    classes = [c for c in node.get("classes") or () if isinstance(c, str) and not looks_generated(c)]
    return tag + "".join("." + soupsieve.escape(c) for c in classes[:2]), False


def suggest_selector(hierarchy: list[Mapping[str, Any]]) -> str | None:
    if not hierarchy:
        return None
    target, identified = _stable_part(hierarchy[0])
    if identified:
        return target
    for ancestor in hierarchy[1:]:
        node_id = ancestor.get("id")
        if isinstance(node_id, str) and not looks_generated(node_id):
            return f"#{soupsieve.escape(node_id)} {target}"
    return target


def suggest(event: Mapping[str, Any]) -> dict[str, Any]:
    """`{"name", "criteria"}` for an event; the criteria always match the event they came from."""
    v = view(event)
    kind = v.kind or "custom"
    criteria: dict[str, Any] = {"kind": kind}
    if kind in ("custom", "screen", "identify"):
        if v.name:
            criteria["name"] = v.name
        name = v.name or kind.capitalize()
    elif kind == "pageview":
        if v.path:
            criteria["path"] = v.path
        title = (event.get("page") or {}).get("title")
        name = f"View {title or v.path or 'page'}"
    else:
        selector = suggest_selector([n for n in v.hierarchy if isinstance(n, Mapping)])
        if selector:
            criteria["selector"] = selector
        text = (v.text or "").strip()
        if text and len(text) <= MAX_TEXT and text == v.text:
            criteria["text"] = {"op": "equals", "value": text}
        if v.path:
            criteria["path"] = v.path  # a `*` in it is a wildcard, which still matches this path
        name = f"{VERBS.get(kind, kind.capitalize())} \u201c{text}\u201d" if text else \
            f"{VERBS.get(kind, kind.capitalize())} {selector or 'element'}"
    checked = Criteria.model_validate(criteria)
    return {"name": name[:255], "criteria": checked.model_dump(exclude_none=True, exclude_defaults=True)}
