"""The internal feed API on real PostgreSQL through the Flask test client: every filter, pagination."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from footfall.messages import UserSnapshot
from services.sessions import facts, feed
from services.sessions.app import create_app
from services.sessions.filters import parse_filters
from tests.sessions.conftest import ENV, T0, ev, store_now

BASE = f"/internal/v1/envs/{ENV}"
BUY = {"hierarchy": [{"tag": "button", "id": "buy", "classes": ["btn"]},
                     {"tag": "div", "classes": ["header"]}], "text": "Buy now"}


@pytest.fixture
def client(settings, engine):
    app = create_app(settings)
    yield app.test_client()
    app.extensions["sessions_engine"].dispose()


@pytest.fixture
def people(engine):
    """alice (identified, pro), bob (free), carol (no properties); dave was seen 10 days ago."""
    store_now(engine, [
        ev("alice", 10, page={"url": "https://x.test/", "path": "/", "domain": "x.test"}),
        ev("alice", 12, kind="click", target=BUY, properties={"coupon": "SPRING"},
           event_id="alice-buy"),
        ev("alice", 200, kind="pageview", page={"url": "https://x.test/docs", "path": "/docs"}),
        ev("bob", 20, page={"url": "https://x.test/pricing", "path": "/pricing", "domain": "x.test"}),
        ev("carol", 30, kind="custom", name="Add to cart", properties={"value": 30}),
        ev("dave", -9 * 24 * 60),
    ])
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [
            UserSnapshot(user_id="alice", identity="alice@x.test", version=1,
                         properties={"plan": "pro", "age": 31, "signup": "2024-01-10"}),
            UserSnapshot(user_id="bob", version=1, properties={"plan": "free", "age": 25,
                                                                "signup": "2024-03-01"}),
        ])


def users(client, **params):
    if "filter" in params:
        params["filter"] = json.dumps(params["filter"])
    response = client.get(f"{BASE}/users", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def ids(client, **params):
    return [u["user_id"] for u in users(client, **params)["users"]]


def prop(property, op, value=None):
    return [{"type": "user_property", "property": property, "op": op, "value": value}]


def test_default_window_is_seven_days_most_recent_first(client, people):
    page = users(client)
    assert [u["user_id"] for u in page["users"]] == ["alice", "carol", "bob"]
    alice = page["users"][0]
    assert alice["display_name"] == "alice@x.test" and alice["properties"]["plan"] == "pro"
    assert alice["session_count"] == 2 and len(alice["sessions"]) == 2
    assert alice["sessions"][0]["start"] > alice["sessions"][1]["start"]
    assert page["users"][2]["display_name"] == "User bob" and page["next_cursor"] is None


def test_windows_with_from_and_to(client, people):
    def iso(days):
        return (T0 + timedelta(days=days)).isoformat()

    assert ids(client, **{"from": iso(-11)}) == ["alice", "carol", "bob", "dave"]
    assert ids(client, **{"from": iso(-11), "to": iso(-8)}) == ["dave"]
    # Ordered by most recent activity overall: alice came back after the window.
    assert ids(client, **{"from": iso(-11), "to": (T0 + timedelta(minutes=25)).isoformat()}) == [
        "alice", "bob", "dave"]


@pytest.mark.parametrize("condition, expected", [
    (prop("identity", "equals", "alice@x.test"), ["alice"]),
    (prop("identity", "is_not_set"), ["carol", "bob"]),
    (prop("plan", "equals", "pro"), ["alice"]),
    (prop("plan", "not_equals", "pro"), ["carol", "bob"]),
    (prop("plan", "contains", "re"), ["bob"]),
    (prop("plan", "not_contains", "re"), ["alice", "carol"]),
    (prop("plan", "starts_with", "p"), ["alice"]),
    (prop("plan", "ends_with", "ee"), ["bob"]),
    (prop("identity", "wildcard", "ALICE@*"), ["alice"]),
    (prop("plan", "is_set"), ["alice", "bob"]),
    (prop("age", "gt", 30), ["alice"]),
    (prop("age", "lt", "30"), ["bob"]),
    (prop("signup", "gt", "2024-02-01"), ["bob"]),
    (prop("plan", "is_set") + prop("age", "lt", 30), ["bob"]),
])
def test_user_property_filters(client, people, condition, expected):
    assert ids(client, filter=condition) == expected


def test_seen_filter(client, people):
    window = {"type": "seen", "from": (T0 + timedelta(minutes=25)).isoformat(),
              "to": (T0 + timedelta(minutes=40)).isoformat()}
    assert ids(client, filter=[window]) == ["carol"]


def did(event, where=()):
    return [{"type": "did_event", "event": event, "where": list(where)}]


def test_did_event_by_raw_kind_or_name_with_matched_sessions(client, people, engine):
    page = users(client, filter=did({"kind": "click"}))
    (alice,) = page["users"]
    buy_session = next(s["session_id"] for s in alice["sessions"] if s["event_count"] == 2)
    assert alice["matched_session_ids"] == [buy_session]
    assert ids(client, filter=did({"name": "Add to cart"})) == ["carol"]
    assert ids(client, filter=did({"kind": "submit"})) == []


def test_did_event_by_criteria_and_where(client, people):
    criteria = {"kind": "click", "selector": "div.header > button#buy", "text": {"op": "equals",
                                                                                  "value": "Buy now"}}
    assert ids(client, filter=did({"criteria": criteria})) == ["alice"]
    combo = [{"path": "/pricing"}, {"name": "Add to cart"}]
    assert ids(client, filter=did({"criteria": combo})) == ["carol", "bob"]
    assert ids(client, filter=did({"kind": "click"}, [{"property": "coupon", "op": "equals",
                                                        "value": "SPRING"}])) == ["alice"]
    assert ids(client, filter=did({"kind": "click"}, [{"property": "coupon", "op": "equals",
                                                        "value": "FALL"}])) == []
    assert ids(client, filter=did({"kind": "custom"}, [{"property": "value", "op": "gt", "value": 20}])
               + prop("identity", "is_not_set")) == ["carol"]


def test_keyset_pagination_is_stable_under_concurrent_inserts(client, people, engine):
    first = users(client, limit=1)
    assert [u["user_id"] for u in first["users"]] == ["alice"]
    # While paging, carol comes back (jumps to the top) and a new user appears.
    store_now(engine, [ev("carol", 300), ev("erin", 301)])
    seen = ["alice"]
    cursor = first["next_cursor"]
    while cursor:
        page = users(client, limit=1, cursor=cursor)
        seen += [u["user_id"] for u in page["users"]]
        cursor = page["next_cursor"]
    assert seen == ["alice", "bob"]  # no repeats; unchanged users all still there, in order
    assert ids(client) == ["erin", "carol", "alice", "bob"]


def test_user_sessions_newest_first_paginated_with_matches(client, people):
    url = f"{BASE}/users/alice/sessions"
    body = client.get(url, query_string={"filter": json.dumps(did({"kind": "click"}))}).json
    assert [s["matched"] for s in body["sessions"]] == [False, True]
    assert body["sessions"][1]["landing_page"] == "https://x.test/" and body["sessions"][1]["source"] == "Web"
    one = client.get(url, query_string={"limit": 1}).json
    two = client.get(url, query_string={"limit": 1, "cursor": one["next_cursor"]}).json
    assert [s["session_id"] for s in one["sessions"] + two["sessions"]] == [
        s["session_id"] for s in body["sessions"]]
    assert two["next_cursor"] is None


def test_session_events_user_and_event(client, people):
    sessions = client.get(f"{BASE}/users/alice/sessions").json["sessions"]
    events = client.get(f"{BASE}/sessions/{sessions[1]['session_id']}/events").json["events"]
    assert [e["kind"] for e in events] == ["pageview", "click"]
    assert events[1]["target"]["text"] == "Buy now" and events[1]["user_id"] == "alice"
    event = client.get(f"{BASE}/events/alice-buy").json
    assert event["properties"] == {"coupon": "SPRING"} and event["session_id"] == sessions[1]["session_id"]
    assert client.get(f"{BASE}/users/alice").json["identity"] == "alice@x.test"


@pytest.mark.parametrize("path", ["/users/nobody", "/sessions/nope/events", "/events/nope"])
def test_unknown_things_are_404(client, people, path):
    assert client.get(BASE + path).status_code == 404


@pytest.mark.parametrize("params, field", [
    ({"limit": 101}, "limit"),
    ({"cursor": "garbage"}, "cursor"),
    ({"filter": "not json"}, "filter"),
    ({"filter": json.dumps(prop("age", "gt", "soon"))}, "filter"),
    ({"filter": json.dumps(did({}))}, "filter"),
    ({"from": "yesterday"}, "from"),
])
def test_bad_parameters_are_400_naming_the_field(client, people, params, field):
    response = client.get(f"{BASE}/users", query_string=params)
    assert response.status_code == 400
    assert field in json.dumps(response.json)


def test_openapi_describes_every_route(client):
    paths = client.get("/openapi.json").json["paths"]
    assert {f"/internal/v1/envs/{{env_id}}{p}" for p in (
        "/users", "/users/{user_id}", "/users/{user_id}/sessions", "/sessions/{session_id}/events",
        "/events/{event_id}")} <= set(paths)


def test_a_window_ending_now_is_open_ended(client, people, engine):
    store_now(engine, [ev("frank", 2 * 24 * 60)])  # a clock running a day ahead (R9)
    to_now = datetime.now(UTC).isoformat()
    assert ids(client, to=to_now)[0] == "frank"
    five_minutes_ago = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert "frank" not in ids(client, to=five_minutes_ago)


@pytest.mark.parametrize("filters", [
    did({"kind": "click"}),
    did({"name": "Add to cart"}) + prop("identity", "is_not_set"),
    did({"kind": "pageview"}, [{"property": "missing", "op": "is_not_set"}]),
    [{"type": "seen", "from": T0.isoformat()}] + did({"criteria": {"path": "/pricing"}}),
])
def test_probe_and_semi_join_plans_answer_the_same(engine, people, filters):
    parsed = parse_filters(json.dumps(filters))
    start = T0 - timedelta(days=20)
    with engine.connect() as conn:
        answers = [[r.user_id for r in conn.execute(
            feed.feed_query(ENV, start, end, parsed, None, 10, probe=probe))]
            for end in (None, T0 + timedelta(minutes=25)) for probe in (True, False)]
    assert answers[0] == answers[1] and answers[2] == answers[3]
    assert answers[0]  # every case matches someone


def test_a_statement_of_the_api_stops_at_the_query_budget(settings, engine):
    """A question nobody waits for any more does not keep PostgreSQL busy (QUERY_TIMEOUT_S)."""
    app = create_app(settings.with_(query_timeout_s=0.2))
    api_engine = app.extensions["sessions_engine"]
    try:
        with pytest.raises(OperationalError, match="statement timeout"), api_engine.connect() as conn:
            conn.execute(text("select pg_sleep(2)"))
        with api_engine.connect() as conn:  # the budget is per statement; the connection is fine
            assert conn.scalar(text("select 1")) == 1
    finally:
        api_engine.dispose()
