"""Feed filters: their JSON shape and their SQL, built on the shared criteria library.

Conditions AND-combine:
- `user_property`: the users read model (`identity` and `user_id` are columns, anything else a key
  of the properties snapshot);
- `seen`: a session overlapping a window;
- `did_event` / `did_not_event`: an event (or none) in the feed window matching a raw event (kind,
  name, target text, path, domain, selector) or definition criteria, and every `where` condition;
- `event_property`: any event in the window with that property (did_event of any event).

Event properties are the event's custom properties, or autocaptured ones named with a `$` (any
other name, `$original_time` included, is a custom property):
`$path`, `$domain`, `$url`, `$text` (the target's text), `$name`, and the session's (taken from its
first event, sessionize.PROPERTY_PATHS): `$source`, `$referrer`, `$landing_page`, `$utm_*`,
`$browser`, `$os`, `$device_type`, `$country`; a condition on those holds for the events of a
session that has it.

Text operators ignore case unless the condition says `exact_case` (definitions' criteria keep
their own, case-sensitive rules).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from criteria.conditions import MAX_WILDCARD_PATTERN, compile_condition
from criteria.model import Condition, Criteria, TextMatch, parse_criteria
from criteria.sql import EventColumns, compile_criteria, compile_selector
from footfall.messages import Kind
from footfall.web import ApiError, nul_path
from services.sessions.tables import events, members_of, sessions, users

# Autocaptured event properties: `$name` → the events column holding it.
EVENT_FIELDS = {"$path": "page_path", "$domain": "page_domain", "$text": "target_text", "$name": "name",
                "$kind": "kind"}
# … or the session property (sessions.props key) holding it.
SESSION_FIELDS = {"$source": "source", "$referrer": "referrer", "$landing_page": "landing_page",
                  "$browser": "browser", "$os": "platform", "$device_type": "device_type",
                  "$country": "country", **{f"$utm_{k}": f"utm_{k}" for k in
                                            ("source", "medium", "campaign", "term", "content")}}
URL_FIELD = "$url"
AUTOCAPTURED = (*EVENT_FIELDS, URL_FIELD, *SESSION_FIELDS)
# Which field labels an event of each kind (migration s0300's `events_label`).
LABEL_FIELD = {"click": "$text", "change": "$text", "submit": "$text", "pageview": "$path"}
LABEL_LENGTH = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterCondition(Condition):
    """A condition of a feed filter: the shared operators, case-insensitive unless `exact_case`."""

    exact_case: bool = False


class UserProperty(Condition):
    """A condition on the user (the shared operators and their value checks)."""

    type: Literal["user_property"]
    exact_case: bool = False


class Seen(Strict):
    type: Literal["seen"]
    from_: AwareDatetime | None = Field(None, alias="from")
    to: AwareDatetime | None = None


class RawEvent(Strict):
    """A raw event: kind, name (exact unless case is ignored), target text, path/domain (`*`
    wildcards) and a CSS selector on the target or its ancestors; unset parts do not constrain."""

    kind: Kind | None = None
    name: str | None = None
    text: TextMatch | None = None
    path: str | None = Field(None, max_length=MAX_WILDCARD_PATTERN)
    domain: str | None = Field(None, max_length=MAX_WILDCARD_PATTERN)
    selector: str | None = None
    exact_case: bool = False

    @field_validator("selector")
    @classmethod
    def _selector_parses(cls, selector: str | None) -> str | None:
        if selector is not None:
            Criteria(selector=selector)  # raises naming what is wrong
        return selector

    @model_validator(mode="after")
    def _names_something(self) -> RawEvent:
        if all(v is None for v in (self.kind, self.name, self.text, self.path, self.domain, self.selector)):
            raise ValueError("event needs a kind, a name, a text, a path, a domain, a selector or criteria")
        return self


class CriteriaEvent(Strict):
    criteria: Any

    @field_validator("criteria")
    @classmethod
    def _parses(cls, value: Any) -> list[Criteria]:
        return parse_criteria(value)


class DidEvent(Strict):
    type: Literal["did_event"]
    event: CriteriaEvent | RawEvent | None = None
    where: list[FilterCondition] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _names_something(self) -> DidEvent:
        if self.event is None and not self.where:
            raise ValueError("give an event or a where condition")
        return self


class DidNotEvent(DidEvent):
    type: Literal["did_not_event"]  # type: ignore[assignment]


class EventProperty(FilterCondition):
    """Did any event in the window with this property: `did_event` without an event."""

    type: Literal["event_property"]

    def as_did_event(self) -> DidEvent:
        condition = FilterCondition(**self.model_dump(exclude={"type"}))
        return DidEvent(type="did_event", where=[condition])


Filter = Annotated[UserProperty | Seen | DidEvent | DidNotEvent | EventProperty, Field(discriminator="type")]
_FILTERS = TypeAdapter(list[Filter])
MAX_FILTERS = 20

EVENT_COLUMNS = EventColumns(
    kind=events.c.kind, name=events.c.name, page_path=events.c.page_path,
    page_domain=events.c.page_domain, target_text=events.c.target_text,
    hierarchy=events.c.hierarchy, properties=events.c.properties,
)


def parse_filters(raw: str | None) -> list[Filter]:
    """The `filter` query parameter (a JSON list) → filters; ApiError 400 naming what is wrong.

    `event_property` filters come back as the `did_event` they mean."""
    if not raw:
        return []
    try:
        parsed = orjson.loads(raw)
        if (where := nul_path(parsed)) is not None:  # PostgreSQL cannot compare with a string holding NUL
            raise ApiError(400, f"filter{where}: must not contain a NUL character", field="filter")
        if isinstance(parsed, list) and len(parsed) > MAX_FILTERS:
            raise ApiError(400, f"at most {MAX_FILTERS} filter conditions", field="filter")
        filters = _FILTERS.validate_python(parsed)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "filter is not valid JSON", field="filter", detail=str(exc)) from None
    except ValidationError as exc:
        errors = [{"field": "filter." + ".".join(map(str, e["loc"])), "message": e["msg"]}
                  for e in exc.errors()]
        raise ApiError(400, "invalid filter", field="filter", errors=errors) from None
    return [f.as_did_event() if isinstance(f, EventProperty) else f for f in filters]


def event_label() -> ColumnElement[str]:
    """The indexed label of an event (migration s0300 `events_label`: the same expression)."""
    field = case((events.c.kind.in_(["click", "change", "submit"]), events.c.target_text),
                 (events.c.kind == "pageview", events.c.page_path), else_=events.c.name)
    return func.left(func.lower(field), LABEL_LENGTH).collate("C")


def event_path() -> ColumnElement[str]:
    """The indexed path of an event that is not a pageview (migration s0300 `events_path`)."""
    return func.left(func.lower(events.c.page_path), LABEL_LENGTH).collate("C")


def event_field(name: str) -> ColumnElement[str]:
    """An event-level autocaptured property's text, or a custom property's."""
    if name in EVENT_FIELDS:
        return events.c[EVENT_FIELDS[name]]
    if name == URL_FIELD:
        return type_coerce(events.c.data, JSONB)[("page", "url")].astext
    return type_coerce(events.c.properties, JSONB)[name].astext


def session_field(name: str, table=sessions) -> ColumnElement[str]:
    return type_coerce(table.c.props, JSONB)[SESSION_FIELDS[name]].astext


def condition_sql(c: FilterCondition, text: ColumnElement[str]) -> ColumnElement[bool]:
    return compile_condition(c.op, text, c.value, ignore_case=not c.exact_case)


def where_predicate(c: FilterCondition) -> ColumnElement[bool]:
    """One `where` condition over a stored event (a session property: over the event's session)."""
    if c.property in SESSION_FIELDS:
        return exists(select(1).where(sessions.c.env_id == events.c.env_id,
                                      sessions.c.session_id == events.c.session_id,
                                      condition_sql(c, session_field(c.property))))
    return condition_sql(c, event_field(c.property))


def raw_predicate(e: RawEvent) -> ColumnElement[bool]:
    ignore = not e.exact_case
    parts = [events.c.kind == e.kind] if e.kind else []
    if e.name is not None:
        parts.append(compile_condition("equals", events.c.name, e.name, ignore_case=ignore))
    if e.text is not None:
        parts.append(compile_condition(e.text.op, events.c.target_text, e.text.value, ignore_case=ignore))
    if e.path is not None:
        parts.append(compile_condition("wildcard", events.c.page_path, e.path))
    if e.domain is not None:
        parts.append(compile_condition("wildcard", events.c.page_domain, e.domain))
    if e.selector is not None:
        parts.append(compile_selector(e.selector, events.c.hierarchy))
    return and_(true(), *parts)


def event_predicate(f: DidEvent) -> ColumnElement[bool]:
    """Which stored events a did_event filter is about (its event, and its `where`)."""
    parts = []
    if isinstance(f.event, CriteriaEvent):
        parts.append(compile_criteria(f.event.criteria, EVENT_COLUMNS))
    elif isinstance(f.event, RawEvent):
        parts.append(raw_predicate(f.event))
    parts += [where_predicate(c) for c in f.where]
    return and_(true(), *parts)


def any_event_predicate(filters: list[Filter]) -> ColumnElement[bool] | None:
    """Events matching any did_event filter (what marks sessions as matched), or None."""
    preds = [event_predicate(f) for f in filters if type(f) is DidEvent]
    return or_(false(), *preds) if preds else None


def user_condition(f: UserProperty) -> ColumnElement[bool]:
    if f.property in ("identity", "user_id"):
        value = users.c[f.property]
    else:
        value = type_coerce(users.c.properties, JSONB)[f.property].astext
    return compile_condition(f.op, value, f.value, ignore_case=not f.exact_case)


def user_predicate(f: Filter, env_id: str, start: datetime, end: datetime | None,
                   probe: bool = True, probe_with: tuple | None = None) -> ColumnElement[bool]:
    """One filter as a predicate over the users table, for the feed window [start, end].

    `probe_with` (plan.probe_with) narrows a did_event's probe to the user's events with a label:
    ("exact", test) answers the filter by that test alone (its label is all it asks), ("label",
    test) adds the test, which every event the filter matches passes, to the filter's own."""
    if isinstance(f, UserProperty):
        return user_condition(f)
    members = members_of(env_id, users.c.user_id)
    if isinstance(f, Seen):
        window = [sessions.c.env_id == env_id, sessions.c.anon_user_id.in_(members)]
        window += [sessions.c.end >= f.from_] if f.from_ else []
        window += [sessions.c.start <= f.to] if f.to else []
        return _per_user(select(1).where(*window), probe)
    window = [events.c.env_id == env_id, events.c.anon_user_id.in_(members), events.c.time >= start]
    window += [events.c.time <= end] if end else []
    how, label = probe_with or (None, None)
    matching = [label] if how == "exact" else [label, event_predicate(f)] if how == "label" else [event_predicate(f)]
    found = _per_user(select(1).where(*window, *matching), probe)
    return ~found if isinstance(f, DidNotEvent) else found


def _per_user(query, probe: bool) -> ColumnElement[bool]:
    """EXISTS, tested per user as the feed index walks them (probe) or left to the planner.

    `OFFSET 0` keeps PostgreSQL from turning it into a semi-join, which scans every matching event
    of the window before sorting (about a second at 5M events) instead of probing the
    (env, user, time) index for just enough users (milliseconds). Probing loses when almost nobody
    matches: it walks every user of the window; the planner (plan.py) then starts from the few
    matching events instead when an index finds them.
    """
    return exists(query.offset(0) if probe else query)
