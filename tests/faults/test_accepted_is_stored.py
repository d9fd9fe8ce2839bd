"""Accepted means stored, through the real stack (the fault tests' one): whatever JSON ingest answers
200 for, each event it accepted is in the feed exactly once, and can be fetched by its id (hostile
ones included); the fault suite then also finds nothing of it dead-lettered.

Hypothesis writes the hostile part: strings of any character JSON can carry (NUL, RTL marks, emoji,
'/', '%', control characters), keys with dots and NULs, integers past 64 bits, floats at their
limits, nesting, times from year 1 to 9999 with any offset, Unix times, nonsense times.
"""
from __future__ import annotations

import uuid
from urllib.parse import quote

import orjson
import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from footfall import db
from tests.faults import harness
from tests.support import wait_until

pytestmark = pytest.mark.slow

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # JSON cannot carry lone surrogates
HOSTILE = st.one_of(TEXT, st.sampled_from(["\x00", "a\x00b", "\u202eevil", "🙂‍↔️", "a/b", "../..", "%2F", "\ufffd",
                                           "null", "", " ", "a.b", "$original_time", "x" * 2000]))


def _integer(n: int):
    """An integer as JSON, also past 64 bits (which orjson would not write)."""
    return n if -(2**63) <= n < 2**63 else orjson.Fragment(str(n).encode())


NUMBERS = st.one_of(st.integers(-(2**70), 2**70).map(_integer), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63 - 1, _integer(-(2**63) - 1)]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(HOSTILE, inner, max_size=4)), max_leaves=12)
TIMES = st.one_of(
    st.none(),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.datetimes().map(lambda t: t.isoformat()),
    st.integers(-(2**64), 2**64).map(_integer), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59-14:00",
                     "0001-01-01T00:00:00+14:00", "yesterday", "2024-02-30T00:00:00Z"]),
)


def nested(depth: int) -> orjson.Fragment:
    """A list nested `depth` deep, as JSON text (orjson would not write past 255 levels)."""
    return orjson.Fragment(b"[" * depth + b'"deep"' + b"]" * depth)


@st.composite
def messages(draw):
    kind = draw(st.sampled_from(["track", "track", "page", "screen", "identify"]))
    message = {"type": kind, "anonymousId": draw(HOSTILE.filter(bool)) + uuid.uuid4().hex[:6],
               "messageId": draw(HOSTILE) + uuid.uuid4().hex[:8],
               "timestamp": draw(TIMES), "properties": draw(st.dictionaries(HOSTILE, JSON, max_size=6))}
    if draw(st.booleans()):
        message["userId"] = draw(HOSTILE.filter(bool))
    if kind == "track":
        message["event"] = draw(HOSTILE.filter(bool))
    else:
        message["name"] = draw(HOSTILE)
    if draw(st.booleans()):
        message["context"] = {
            "library": {"name": draw(st.sampled_from(["analytics.js", "analytics-ios", "analytics-python"]))},
            "page": {"url": draw(HOSTILE), "title": draw(HOSTILE)},
            "campaign": {"source": draw(st.one_of(HOSTILE, NUMBERS, st.integers(0, 1000).map(nested)))},
            "os": {"name": draw(HOSTILE), "version": draw(st.one_of(HOSTILE, st.integers(0, 1000).map(nested)))},
            "device": {"model": draw(st.one_of(HOSTILE, JSON))}, "userAgent": draw(HOSTILE),
            "traits": draw(st.dictionaries(HOSTILE, JSON, max_size=3)),
        }
    if kind == "identify":
        message["traits"] = draw(st.dictionaries(HOSTILE, JSON, max_size=4))
    return message


@pytest.fixture(scope="module")
def stack(faults):
    return faults.stack


@pytest.fixture(scope="module")
def environment(faults, stack):
    """An environment of its own (the fault suite checks the stack's others), with its write key."""
    admin = requests.Session()
    login = admin.post(stack.url("gateway") + "/auth/login",
                       json={"email": stack.admin_email, "password": stack.admin_password}, timeout=10)
    env_id = f"prop-{uuid.uuid4().hex[:8]}"
    created = admin.post(stack.url("gateway") + "/api/v1/environments", json={"id": env_id}, timeout=10,
                         headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert created.status_code == 201, created.text
    engine = db.make_engine("sessions", faults.settings, pool_size=1, max_overflow=0)
    yield env_id, created.json()["write_key"], engine
    engine.dispose()


def stored_times(engine, env_id: str, event_id: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("select count(*) from events where env_id = :e and event_id = :i"),
                           {"e": env_id, "i": event_id})


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(messages(), min_size=1, max_size=6))
def test_whatever_ingest_accepts_is_in_the_feed_exactly_once(stack, environment, batch):
    env_id, write_key, engine = environment
    response = requests.post(stack.url("ingest") + "/v1/batch", data=orjson.dumps({"batch": batch}),
                             auth=(write_key, ""), timeout=15, headers={"Content-Type": "application/json",
                                                                        **harness.BROWSER})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["field"] is not None  # names what to fix
        event("refused whole")
        return
    refused = {e["index"] for e in response.json()["errors"]}
    assert response.json()["accepted"] == len(batch) - len(refused)
    accepted = [m for i, m in enumerate(batch) if i not in refused and m["type"] != "identify"]
    event(f"accepted events: {min(len(accepted), 3)}{'+' if len(accepted) > 3 else ''}")
    for message in accepted:
        event_id = message["messageId"]
        wait_until(lambda event_id=event_id: stored_times(engine, env_id, event_id), timeout=30,
                   message=f"event {event_id!r} in the feed")
        assert stored_times(engine, env_id, event_id) == 1
        fetched = requests.get(f"{stack.url('gateway')}/api/v1/environments/{env_id}/events/"
                               f"{quote(event_id, safe='')}", timeout=10,
                               headers={"Authorization": f"Bearer {stack.api_token}"} if env_id == stack.env_id
                               else _admin_headers(stack))
        assert fetched.status_code == 200, (event_id, fetched.text)
        assert fetched.json()["event_id"] == event_id
        name = message.get("event") if message["type"] == "track" else message.get("name")
        assert fetched.json()["name"] == (None if name is None else name.replace("\x00", "\ufffd")[:1024])


_admin: dict = {}


def _admin_headers(stack) -> dict:
    """A logged-in admin's cookie (reads every environment) for the gateway's public API."""
    if not _admin:
        session = requests.Session()
        login = session.post(stack.url("gateway") + "/auth/login",
                             json={"email": stack.admin_email, "password": stack.admin_password}, timeout=10)
        _admin["cookie"] = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        assert login.status_code == 200
    return {"Cookie": _admin["cookie"]}
