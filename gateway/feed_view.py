"""A saved view of the feed: timeline, filters and search, as segments store it and exports take it.

Pure (no I/O): validation with errors naming the field, and the time window a timeline means now.
The filters are the UI's list as it is (`seen` conditions hold days of the view's zone); whatever
else they hold is validated by the feed's own parser (compose.parse_filter), so a segment follows
the feed's filter language as it grows instead of keeping a copy of it.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from footfall.web import ApiError, nul_path
from gateway import compose

RANGES = ("today", "yesterday", "7d", "30d", "90d", "custom")
MAX_FILTERS = 50
SEARCH_CHARS = (2, 200)


class Timeline(BaseModel):
    """A preset range (relative to now, read when used) or two days of the view's zone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    range: Literal[RANGES] = "7d"  # type: ignore[valid-type]
    from_: date | None = Field(None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _days_for_custom(self) -> Timeline:
        if self.range == "custom":
            if self.from_ is None or self.to is None:
                raise ValueError("a custom range needs from and to (days, YYYY-MM-DD)")
            if self.from_ > self.to:
                raise ValueError("from is after to")
        elif self.from_ is not None or self.to is not None:
            raise ValueError("from and to go with range 'custom' only")
        return self


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeline: Timeline = Field(default_factory=Timeline)
    zone: str = "UTC"
    filters: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_FILTERS)
    q: str | None = Field(None, max_length=SEARCH_CHARS[1])

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator("q")
    @classmethod
    def _search(cls, value: str | None) -> str | None:
        value = " ".join(value.split()) if value else None
        if value is not None and len(value) < SEARCH_CHARS[0]:
            raise ValueError(f"at least {SEARCH_CHARS[0]} characters")
        return value


def _errors(exc: ValidationError, prefix: str = "") -> ApiError:
    first = exc.errors()[0]
    field = prefix + ".".join(str(p) for p in first["loc"])
    return ApiError(400, f"{field or 'body'}: {first['msg']}", field=field or "body",
                    errors=[{"field": prefix + ".".join(map(str, e["loc"])), "message": e["msg"]}
                            for e in exc.errors()])


def parse_view(data: dict) -> View:
    """A view from a request body's fields; 400 naming the field that is wrong."""
    if (where := nul_path(data)) is not None:
        raise ApiError(400, f"{where}: must not contain a NUL character", field=where)
    try:
        view = View.model_validate(data)
    except ValidationError as exc:
        raise _errors(exc) from None
    for index, condition in enumerate(view.filters):
        if condition.get("type") == "seen":
            _seen_days(condition, index)
    rest = conditions(view)
    if rest:
        try:
            compose.parse_filter(orjson.dumps(rest).decode())
        except ValidationError as exc:
            raise _errors(exc, "filters.") from None
    return view


def _seen_days(condition: dict, index: int) -> tuple[date, date]:
    try:
        start, end = date.fromisoformat(condition["from"]), date.fromisoformat(condition["to"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, f"filters.{index}: a time filter needs from and to (days, YYYY-MM-DD)",
                       field=f"filters.{index}") from None
    if start > end or set(condition) - {"type", "from", "to"}:
        raise ApiError(400, f"filters.{index}: from after to, or unknown keys", field=f"filters.{index}")
    return start, end


def conditions(view: View) -> list[dict]:
    """The filters the feed ANDs (a time filter is not one of them: it is the window)."""
    return [c for c in view.filters if c.get("type") != "seen"]


def window(view: View, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The time window the view means at `now`, as the UI computes it (web/src/time.js windowOf):
    a time filter's days, else the timeline; days begin at midnight in the view's zone."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(view.zone)
    seen = next((c for c in view.filters if c.get("type") == "seen"), None)
    if seen is not None:
        return _days(*_seen_days(seen, view.filters.index(seen)), zone)
    timeline, today = view.timeline, now.astimezone(zone).date()
    if timeline.range == "today":
        return _midnight(today, zone), now
    if timeline.range == "yesterday":
        return _days(today - timedelta(days=1), today - timedelta(days=1), zone)
    if timeline.range == "custom":
        return _days(timeline.from_, timeline.to, zone)
    return now - timedelta(days=int(timeline.range[:-1])), now


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _days(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the first day's midnight to the midnight after the last one."""
    return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)


def as_json(view: View) -> dict:
    return {"timeline": view.timeline.model_dump(mode="json", by_alias=True, exclude_none=True),
            "zone": view.zone, "filters": view.filters, "q": view.q}
