"""Which side a filtered feed starts from, so that its cost follows the users it finds.

The feed walks users by recent activity and probes each for the filters (feed.feed_query): cheap
when many users match (a page fills after a few probes), a walk of the whole window when few do.
So each `did_event` filter is first tried from its events: when an index finds the events it
names (an *anchor*: the event's label, a custom property, a session property) the planner reads
at most MAX_EVENTS of them. Fewer than that, and they give the complete set of users who match,
which then drives the page (the smallest set first; the other filters are probed on it only).
More, and the filter is common: walking users finds a page quickly.

Anchors (all imply the filter's own predicate, which is still checked on every event read):
- a label (`events_label`): a raw or defined event whose kind fixes the field that labels it
  (a click's text, a pageview's path, a custom or screen event's name), with an operator that
  equals or starts the value, or any other positive operator resolved through the catalog into
  the exact labels it matches (when the catalog holds all of that kind's labels);
- a custom property (`events_props`, containment): the values the condition matches, resolved
  through the catalog (all of them when it holds every value; an exact-case `equals` without it);
- a session property (`sessions_props`): the same, over sessions overlapping the window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Text,
    and_,
    bindparam,
    column,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from criteria.conditions import ORDER_OPS, compile_condition, fold_case, text_form
from criteria.model import Criteria
from services.sessions.filters import (
    LABEL_FIELD,
    LABEL_LENGTH,
    SESSION_FIELDS,
    CriteriaEvent,
    DidEvent,
    Filter,
    FilterCondition,
    RawEvent,
    event_label,
    event_path,
    event_predicate,
    session_field,
)
from services.sessions.tables import events, merges, sessions, users

MAX_EVENTS = 5_000  # events read to list a filter's users; past it, the filter counts as common
MAX_EXACT = 5_000  # the same, read from the index alone (exact_label); 50,000 made 10% pages ~700 ms
MAX_RESOLVED = 500  # catalog values a condition may resolve into (an IN list / OR of containments)
POSITIVE_OPS = {"equals", "contains", "starts_with", "ends_with", "wildcard", *ORDER_OPS}
NAMED_KINDS = ("custom", "screen", "identify")


@dataclass(frozen=True)
class Cond:
    """A text condition on a field: what an anchor is made from."""

    op: str
    value: object
    ignore_case: bool


def _catalog_labels(conn: Connection, env_id: str, kinds: list[str], cond: Cond) -> list[str] | None:
    """Every stored label of these kinds the condition matches (lowercased), or None when the
    catalog may not list them all, or they are too many for an IN list."""
    truncated = conn.execute(text(
        "select 1 from catalog_truncated where env_id = :env and property = any(cast(:keys as text[]))"),
        {"env": env_id, "keys": [f"$event:{k}" for k in kinds]}).first()
    if truncated:
        return None
    cat = table("catalog_events", column("env_id"), column("kind"), column("label"))
    query = (select(func.left(func.lower(cat.c.label), LABEL_LENGTH)).distinct()
             .where(cat.c.env_id == env_id, cat.c.kind.in_(kinds),
                    compile_condition(cond.op, cat.c.label, cond.value, cond.ignore_case))
             .limit(MAX_RESOLVED + 1))
    found = conn.scalars(query).all()
    return None if len(found) > MAX_RESOLVED else list(found)


def _catalog_values(conn: Connection, env_id: str, prop: str, cond: Cond) -> list | None:
    """Every stored value of a property the condition matches (JSON scalars), or None."""
    truncated = conn.execute(text(
        "select 1 from catalog_truncated where env_id = :env and property = :p"),
        {"env": env_id, "p": prop}).first()
    if truncated:
        if cond.op == "equals" and not cond.ignore_case:  # its JSON forms, without the catalog
            return _json_forms(text_form(cond.value))
        return None
    cat = table("catalog_values", column("env_id"), column("property"), column("value", JSONB))
    query = (select(cat.c.value).where(
        cat.c.env_id == env_id, cat.c.property == prop,
        compile_condition(cond.op, cat.c.value.op("#>>", return_type=Text)(literal_column("'{}'")), cond.value,
                          cond.ignore_case))
        .limit(MAX_RESOLVED + 1))
    found = conn.scalars(query).all()
    return None if len(found) > MAX_RESOLVED else list(found)


def _json_forms(value: str) -> list:
    """The JSON scalars whose text form (`->>`) is `value`."""
    forms: list = [value]
    if value in ("true", "false"):
        forms.append(value == "true")
    try:
        number = float(value)
        if math.isfinite(number):
            forms.append(int(value) if value.lstrip("-").isdigit() else number)
    except ValueError:
        pass
    return forms


def _direct(indexed: ColumnElement[str], cond: Cond, ranges: bool = True) -> ColumnElement[bool] | None:
    """The condition on a lowercased indexed text, when a btree range answers it (equals, starts
    with, a wildcard with a literal start; `ranges` False: equals only), else None; a superset
    when case matters."""
    value = fold_case(text_form(cond.value) or "")
    if cond.op == "wildcard" and "*" not in value:
        cond = Cond("equals", value, True)
    elif cond.op == "wildcard" and not value.startswith("*"):
        cond, value = Cond("starts_with", value.split("*")[0], True), value.split("*")[0]
    if cond.op == "equals" and len(value) < LABEL_LENGTH:
        return indexed == value
    if cond.op == "starts_with" and value and len(value) < LABEL_LENGTH and ranges:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return indexed.like(escaped + "%", escape="\\")
    return None


def _path_anchor(kinds: list[str], cond: Cond) -> ColumnElement[bool] | None:
    """Events on a page path: pageviews by label, other events by `events_path`."""
    labelled = _direct(event_label(), cond)
    other = _direct(event_path(), cond)
    if labelled is None or other is None:
        return None
    pageviews = and_(events.c.kind == "pageview", labelled)
    others = and_(events.c.kind != "pageview", events.c.page_path.is_not(None), other)
    if kinds == ["pageview"]:
        return pageviews
    if kinds:
        return and_(events.c.kind.in_(kinds), others)
    return or_(pageviews, others)


def _label_anchor(conn: Connection, env_id: str, kinds: list[str],
                  cond: Cond, ranges: bool = True) -> ColumnElement[bool] | None:
    """Events of these kinds whose label satisfies the condition, as an `events_label` scan
    (`ranges` False: only exact labels, an equality or an IN list, which a per-user probe can
    seek with the user after them)."""
    if cond.op not in POSITIVE_OPS:
        return None
    label, kind = event_label(), events.c.kind.in_(kinds)
    if (direct := _direct(label, cond, ranges)) is not None:
        return and_(kind, direct)
    labels = _catalog_labels(conn, env_id, kinds, cond)
    if labels is None:
        return None
    return and_(kind, label.in_(labels)) if labels else false()


def _values_matching(conn: Connection, env_id: str, c: FilterCondition) -> list | None:
    """The catalog's values a positive condition matches; None when the catalog cannot say."""
    if c.op not in POSITIVE_OPS:
        return None
    return _catalog_values(conn, env_id, c.property, Cond(c.op, c.value, not c.exact_case))


def _property_anchor(conn: Connection, env_id: str, c: FilterCondition) -> ColumnElement[bool] | None:
    values = _values_matching(conn, env_id, c)
    if values is None:
        return None
    props = type_coerce(events.c.properties, JSONB)
    if not values:
        return false()
    return and_(props != literal({}, JSONB), or_(*[props.contains({c.property: v}) for v in values]))


def session_anchor(conn: Connection, env_id: str, c: FilterCondition) -> ColumnElement[bool] | None:
    """Sessions having a session property, as a `sessions_props` containment test."""
    values = _values_matching(conn, env_id, c)
    if values is None:
        return None
    props = type_coerce(sessions.c.props, JSONB)
    key = SESSION_FIELDS[c.property]
    return or_(*[props.contains({key: v}) for v in values]) if values else false()


def _criteria_label(conn: Connection, env_id: str, cr: Criteria, ranges: bool = True) -> ColumnElement[bool] | None:
    if cr.kind in LABEL_FIELD:
        if LABEL_FIELD[cr.kind] == "$text" and cr.text is not None:
            return _label_anchor(conn, env_id, [cr.kind], Cond(cr.text.op, cr.text.value, False), ranges)
        if LABEL_FIELD[cr.kind] == "$path" and cr.path is not None:
            return _label_anchor(conn, env_id, [cr.kind], Cond("wildcard", cr.path, True), ranges)
    elif cr.name is not None and cr.kind in NAMED_KINDS:
        return _label_anchor(conn, env_id, [cr.kind], Cond("equals", cr.name, False), ranges)
    return None


def _criteria_anchor(conn: Connection, env_id: str, cr: Criteria) -> ColumnElement[bool] | None:
    if (label := _criteria_label(conn, env_id, cr)) is not None:
        return label
    for c in cr.properties:
        anchor = _property_anchor(conn, env_id, FilterCondition(property=c.property, op=c.op,
                                                                value=c.value, exact_case=True))
        if anchor is not None:
            return anchor
    return None


def _raw_conditions(e: RawEvent | None, where: list[FilterCondition]) -> tuple[list[str], list[Cond]]:
    """The kinds the event may have, and the conditions on the field labelling them."""
    kinds = [e.kind] if e is not None and e.kind else []
    if not kinds:  # a where on the label field of known kinds fixes them
        return [], []
    field = LABEL_FIELD.get(kinds[0], "$name")
    conds = [Cond(c.op, c.value, not c.exact_case) for c in where if c.property == field]
    if e is not None:
        ignore = not e.exact_case
        if field == "$text" and e.text is not None:
            conds.append(Cond(e.text.op, e.text.value, ignore))
        elif field == "$path" and e.path is not None:
            conds.append(Cond("wildcard", e.path, True))
        elif field == "$name" and e.name is not None and kinds[0] in NAMED_KINDS:
            conds.append(Cond("equals", e.name, ignore))
    return kinds, conds


def event_anchors(conn: Connection, env_id: str, f: DidEvent) -> list[tuple[str, ColumnElement[bool]]]:
    """Every anchor of a filter: ("events" or "sessions", an indexable predicate that every
    matching event's row, or its session's, satisfies)."""
    found: list[tuple[str, ColumnElement[bool] | None]] = []
    if isinstance(f.event, CriteriaEvent):
        anchors = [_criteria_anchor(conn, env_id, cr) for cr in f.event.criteria]
        if all(a is not None for a in anchors):
            found.append(("events", or_(*anchors)))
    else:
        kinds, conds = _raw_conditions(f.event, f.where)
        found += [("events", _label_anchor(conn, env_id, kinds, cond)) for cond in conds]
        paths = [Cond(c.op, c.value, not c.exact_case) for c in f.where if c.property == "$path"]
        if isinstance(f.event, RawEvent) and f.event.path is not None:
            paths.append(Cond("wildcard", f.event.path, True))
        found += [("events", _path_anchor(kinds, cond)) for cond in paths]
    found += [("events", _property_anchor(conn, env_id, c)) for c in f.where if not c.property.startswith("$")]
    found += [("sessions", session_anchor(conn, env_id, c)) for c in f.where if c.property in SESSION_FIELDS]
    return [(side, anchor) for side, anchor in found if anchor is not None]


def exact_label(f: DidEvent) -> ColumnElement[bool] | None:
    """For a raw event named by its label alone, case ignored (a kind, and the equality or start
    of its text, path or name): that test on `events_label`, which then answers the filter from
    the index alone (it carries kind, user and time). Else None."""
    e = f.event
    if not isinstance(e, RawEvent) or e.exact_case or not e.kind or e.domain or e.selector:
        return None
    kinds, conds = _raw_conditions(e, f.where)
    field = LABEL_FIELD.get(e.kind, "$name")
    named = [x for x in (e.text, e.path, e.name) if x is not None]
    if len(conds) != 1 or len(named) + len(f.where) != 1 or any(c.property != field for c in f.where):
        return None
    if not conds[0].ignore_case or (e.name is not None and field != "$name"):
        return None
    if e.text is not None and field != "$text" or e.path is not None and field != "$path":
        return None
    cond = conds[0]
    if cond.op == "wildcard" and "*" in str(cond.value):
        return None
    direct = _direct(event_label(), cond)
    return None if direct is None else and_(events.c.kind.in_(kinds), direct)


def probe_with(conn: Connection, env_id: str, f: Filter) -> tuple[str, ColumnElement[bool] | None] | None:
    """How a per-user probe of a did_event (or did_not_event) filter reads the user's events
    (filters.user_predicate), when something narrower than all of the user's events in the
    window answers it:

    - ("exact", label test): the filter is its label alone (exact_label): the probe is one seek
      of `events_label` (label, kind, user, time), from the index alone;
    - ("label", label test): an exact label (an equality, or the catalog's labels as an IN list)
      every matching event has: only the user's events with it are read and checked;
    - ("sessions", None): a condition on session properties alone: the user's sessions are read
      (one row each) rather than every event and its session.
    None: the probe reads the user's events in the window (events_anon_time)."""
    if not isinstance(f, DidEvent):
        return None
    positive = DidEvent(type="did_event", event=f.event, where=f.where)
    if (exact := exact_label(positive)) is not None:
        return "exact", exact
    if isinstance(f.event, CriteriaEvent):
        labels = [_criteria_label(conn, env_id, cr, ranges=False) for cr in f.event.criteria]
        if labels and all(a is not None for a in labels):
            return "label", or_(*labels)
    else:
        kinds, conds = _raw_conditions(f.event, f.where)
        for cond in conds:
            if (anchor := _label_anchor(conn, env_id, kinds, cond, ranges=False)) is not None:
                return "label", anchor
    if f.event is None and f.where and all(c.property in SESSION_FIELDS for c in f.where):
        return "sessions", None
    return None


def _window(start: datetime, end: datetime | None) -> list[ColumnElement[bool]]:
    return [events.c.time >= start, *([events.c.time <= end] if end else [])]


COMMON = "common"


def driver_users(conn: Connection, env_id: str, f: DidEvent, start: datetime,
                 end: datetime | None) -> list[str] | None:
    """Every user (merge survivor) with an event matching `f` in the window, when an anchor finds
    them in at most MAX_EVENTS events; None when there is no anchor or the filter is common."""
    found = find_users(conn, env_id, f, start, end)
    return None if found in (None, COMMON) else found


def find_users(conn: Connection, env_id: str, f: DidEvent, start: datetime,
               end: datetime | None) -> list[str] | str | None:
    """driver_users, telling a common filter (COMMON: an anchor found more than MAX_EVENTS
    events) from one without an anchor (None)."""
    if type(f) is not DidEvent:
        return None
    if (exact := exact_label(f)) is not None:
        return _owners(conn, env_id, select(events.c.anon_user_id).where(
            events.c.env_id == env_id, exact, *_window(start, end)), MAX_EXACT)
    anchors = event_anchors(conn, env_id, f)
    if not anchors:
        return None
    # The first anchor that is not common (each checked from its index first) drives.
    found = next(((side, anchor) for side, anchor in anchors
                  if not _common(conn, side, env_id, anchor, start, end)), None)
    if found is None:
        return COMMON
    side, anchor = found
    if side == "events":
        rows = (select(events.c.anon_user_id)
                .where(events.c.env_id == env_id, anchor, *_window(start, end), event_predicate(f)))
    else:
        overlap = [sessions.c.end >= start, *([sessions.c.start <= end] if end else [])]
        has_event = exists(select(1).where(events.c.env_id == env_id,
                                           events.c.session_id == sessions.c.session_id,
                                           *_window(start, end), event_predicate(f)))
        only_session = f.event is None and all(c.property in SESSION_FIELDS for c in f.where)
        rows = (select(sessions.c.anon_user_id.label("anon_user_id"))
                .where(sessions.c.env_id == env_id, anchor, *overlap,
                       *[_session_cond(c) for c in f.where if c.property in SESSION_FIELDS],
                       true() if only_session else has_event))
    return _owners(conn, env_id, rows, MAX_EVENTS)


def _owners(conn: Connection, env_id: str, rows, cap: int) -> list[str] | str:
    """The distinct survivors of the anonymous user ids `rows` selects, or COMMON past `cap` rows."""
    x = rows.limit(cap + 1).subquery()
    owner = func.coalesce(merges.c.into_user_id, x.c.anon_user_id)
    query = (select(func.count(), func.array_agg(owner.distinct()))
             .select_from(x.outerjoin(merges, and_(merges.c.env_id == env_id,
                                                   merges.c.from_user_id == x.c.anon_user_id))))
    n, owners = conn.execute(query).one()
    return COMMON if n > cap else list(owners or [])


def _common(conn: Connection, side: str, env_id: str, anchor: ColumnElement[bool], start: datetime,
            end: datetime | None) -> bool:
    """Whether the anchor alone finds more than MAX_EVENTS rows in the window: read from the
    index alone when it can (`events_label` carries kind, user and time), before any event row is
    fetched to check the filter's own predicate (what a common filter would otherwise pay)."""
    if side == "events":
        rows = select(literal(1)).where(events.c.env_id == env_id, anchor, *_window(start, end))
    else:
        rows = select(literal(1)).where(sessions.c.env_id == env_id, anchor, sessions.c.end >= start,
                                        *([sessions.c.start <= end] if end else []))
    found = conn.execute(select(func.count()).select_from(rows.limit(MAX_EVENTS + 1).subquery())).scalar()
    return found > MAX_EVENTS


def _session_cond(c: FilterCondition) -> ColumnElement[bool]:
    return compile_condition(c.op, session_field(c.property), c.value, ignore_case=not c.exact_case)


@dataclass(frozen=True)
class Plan:
    """Where a filtered feed starts: `among` the users a selective filter names (None: walk the
    window), never one of `excluded` (the users a selective `did_not_event` names), and the
    filters left to probe per user (`rest`)."""

    among: list[str] | None
    excluded: list[str]
    rest: list[Filter]
    # Per filter of `rest`, how its per-user probe reads (probe_with), or None.
    probes: tuple = ()


def make_plan(conn: Connection, env_id: str, filters: list[Filter], start: datetime,
              end: datetime | None) -> Plan:
    candidates: set[str] | None = None
    excluded: set[str] = set()
    rest: list[Filter] = []
    for f in filters:
        if isinstance(f, DidEvent):
            positive = f if type(f) is DidEvent else DidEvent(type="did_event", event=f.event, where=f.where)
            found = find_users(conn, env_id, positive, start, end)
        else:
            found = None
        if found is None or found == COMMON:
            rest.append(f)
        elif type(f) is DidEvent:
            candidates = set(found) if candidates is None else candidates & set(found)
        else:
            excluded |= set(found)
    if candidates is not None:
        candidates -= excluded
    probes = tuple(probe_with(conn, env_id, f) for f in rest)
    return Plan(None if candidates is None else sorted(candidates), sorted(excluded), rest, probes)


def among(ids: list[str]):
    """`user_id = any(:ids)`: one array parameter, however many ids."""
    return users.c.user_id == func.any(bindparam("driver_ids", ids, type_=ARRAY(Text)))


def not_among(ids: list[str]):
    return users.c.user_id != func.all(bindparam("excluded_ids", ids, type_=ARRAY(Text)))

