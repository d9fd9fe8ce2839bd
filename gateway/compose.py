"""Pure pieces of the feed composition: filter validation, raw event names, replay state. No I/O."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from criteria.conditions import OPS, ORDER_OPS, VALUELESS_OPS, Op
from footfall.web import ApiError, nul_path

# The operators are criteria's (shared with the sessions service and definitions); the UI reads
# them, with these labels, from the API (operators()).
Operator = Op
OPERATOR_LABELS = {
    "equals": "equals", "not_equals": "does not equal", "contains": "contains",
    "not_contains": "does not contain", "starts_with": "starts with", "ends_with": "ends with",
    "wildcard": "matches (*)", "is_set": "is set", "is_not_set": "is not set",
    "gt": "greater than", "lt": "less than",
}
NATIVE_MOBILE = ("ios", "android")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Condition(_Strict):
    """An event property condition (`where` of did_event): a custom property, or an autocaptured
    one named with a `$` (`$path`, `$text`, `$browser`…). Text operators ignore case unless
    `exact_case`."""

    property: str = Field(min_length=1, max_length=200)
    op: Operator
    value: Any = None
    exact_case: bool = False


class UserPropertyFilter(_Strict):
    type: Literal["user_property"]
    property: str = Field(min_length=1, max_length=200)
    op: Operator
    value: Any = None
    exact_case: bool = False


class EventPropertyFilter(Condition):
    """Any event in the window with this property."""

    type: Literal["event_property"]


class SeenFilter(_Strict):
    type: Literal["seen"]
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class TextRef(_Strict):
    op: Literal["equals", "contains", "wildcard"]
    value: str = Field(max_length=1000)


class EventRef(_Strict):
    """Which event: a definition, a raw event (kind, name, target text, path, domain, selector),
    or criteria JSON."""

    definition_id: str | None = None
    kind: str | None = None
    name: str | None = None
    text: TextRef | None = None
    path: str | None = None
    domain: str | None = None
    selector: str | None = None
    exact_case: bool = False
    criteria: Any = None

    @model_validator(mode="after")
    def _one_way(self):
        if not (self.definition_id or self.kind or self.name or self.text or self.path or self.domain
                or self.selector or self.criteria):
            raise ValueError("give definition_id, a raw event (kind, name, text, path, domain, selector) "
                             "or criteria")
        return self


class DidEventFilter(_Strict):
    type: Literal["did_event"]
    event: EventRef | None = None
    where: list[Condition] = Field(default_factory=list, max_length=20)


class DidNotEventFilter(DidEventFilter):
    type: Literal["did_not_event"]  # type: ignore[assignment]


FilterCondition = Annotated[Union[UserPropertyFilter, SeenFilter, DidEventFilter, DidNotEventFilter,
                                  EventPropertyFilter], Field(discriminator="type")]
FILTERS = TypeAdapter(list[FilterCondition])


def parse_filter(raw: str | None) -> list:
    """The `filter` query parameter (a JSON list, AND) as validated models; pydantic errors → 400."""
    if not raw:
        return []
    conditions = FILTERS.validate_json(raw)
    if "\\u0000" in raw and (where := nul_path(orjson.loads(raw))) is not None:
        raise ApiError(400, f"filter{where}: must not contain a NUL character", field="filter")
    return conditions


def filter_json(conditions: list, criteria_of) -> list[dict]:
    """The sessions-service filter: definition references replaced by their criteria JSON."""
    out = []
    for condition in conditions:
        data = condition.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
        if isinstance(condition, DidEventFilter) and condition.event and condition.event.definition_id:
            data["event"] = {"criteria": criteria_of(condition.event.definition_id)}
        elif isinstance(condition, DidEventFilter) and condition.event and condition.event.criteria:
            data["event"] = {"criteria": condition.event.criteria}
        out.append(data)
    return out


def window(from_: str | None, to: str | None, now: datetime | None = None) -> tuple[str, str]:
    """The feed's time window as ISO 8601 UTC; the default is the past 7 days."""
    now = now or datetime.now(timezone.utc)
    end = _parse_time(to, "to") if to else now
    try:
        start = _parse_time(from_, "from") if from_ else end - timedelta(days=7)
    except OverflowError:  # a `to` within 7 days of year 1
        raise ApiError(400, "'to' is too early: the window would start before year 1", field="to") from None
    if start > end:
        raise ApiError(400, "'from' is after 'to'", field="from")
    return _iso(start), _iso(end)


def _parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)  # overflows for an offset that crosses year 1 or 9999
    except (ValueError, OverflowError):
        raise ApiError(400, f"'{name}' is not an ISO 8601 time between years 1 and 9999", field=name) from None


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def replay_state(session: dict, now: datetime | None = None, trial: dict | None = None,
                 retention_days: int = 30) -> dict:
    """{available, playable, reason} of a session's replay (web only).

    The replay service keeps a replay `retention_days` (the shared REPLAY_RETENTION_DAYS setting)
    after its last chunk; the session's last event stands for that chunk here, so the feed never
    offers a replay the service has already deleted (docs/semantics.md, replay).
    """
    now = now or datetime.now(timezone.utc)
    source = (session.get("source") or "").lower()
    if source in NATIVE_MOBILE:
        return {"available": False, "playable": False, "reason": "native_mobile_not_supported"}
    if not session.get("has_replay"):
        reason = "not_recorded"
        if trial and trial.get("reason") in ("trial_expired", "trial_exhausted"):
            reason = "trial_ended"
        elif trial and trial.get("reason") == "off":
            reason = "replay_off"
        return {"available": False, "playable": False, "reason": reason}
    last = session.get("end") or session.get("start")
    if last and now - _parse_time(last, "end") > timedelta(days=retention_days):
        return {"available": True, "playable": False, "reason": "expired"}
    return {"available": True, "playable": True, "reason": None}


def with_replay(sessions: list[dict], now: datetime, trial: dict | None = None,
                retention_days: int = 30) -> list[dict]:
    for session in sessions:
        session["replay"] = replay_state(session, now, trial, retention_days)
    return sessions


ELEMENT_VERBS = {"click": "Click on", "change": "Change on", "submit": "Submit on",
                 "rage_click": "Rage click on", "dead_click": "Dead click on"}
# Frustration signals (the SDK's rage and dead clicks): the UI shows them in red.
FRUSTRATION_KINDS = ("rage_click", "dead_click")


def _selector(node: dict) -> str:
    text = node.get("tag") or "element"
    if node.get("id"):
        text += "#" + node["id"]
    for cls in (node.get("classes") or [])[:2]:
        text += "." + cls
    return text


def raw_event_name(event: dict) -> str:
    """Heap-style name of an undefined event: 'View page /pricing', "Click on 'Buy'", custom names."""
    kind = event.get("kind")
    page = event.get("page") or {}
    target = event.get("target") or {}
    if kind == "pageview":
        return f"View page {page.get('path') or page.get('url') or ''}".strip()
    if kind == "screen":
        return f"View screen {event.get('name') or ''}".strip()
    if kind in ELEMENT_VERBS:
        verb = ELEMENT_VERBS[kind]
        text = (target.get("text") or "").strip()
        if text:
            return f"{verb} '{text[:60]}'"
        hierarchy = target.get("hierarchy") or []
        return f"{verb} {_selector(hierarchy[0]) if hierarchy else 'element'}"
    return event.get("name") or kind or "event"


def shape_event(event: dict, label: dict | None) -> dict:
    """A session event for the UI: raw name, definition label (or None), display name."""
    event["raw_name"] = raw_event_name(event)
    event["definition"] = label
    event["display_name"] = label["name"] if label else event["raw_name"]
    event["frustration"] = event.get("kind") in FRUSTRATION_KINDS
    event.setdefault("properties", {})
    return event


def operators() -> list[dict]:
    """The filter operators, in criteria's order: name, label, whether they take a value and whether
    they order (numbers and dates)."""
    return [{"op": op, "label": OPERATOR_LABELS[op], "takes_value": op not in VALUELESS_OPS,
             "ordered": op in ORDER_OPS} for op in OPS]
