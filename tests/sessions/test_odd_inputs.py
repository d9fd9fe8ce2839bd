"""The sessions API on odd input: ids holding '/', NUL, filters that overflow, calendar edges."""
from urllib.parse import quote

import orjson
import pytest

from services.sessions.app import create_app
from tests.sessions.conftest import ENV, ev, store_now

BASE = f"/internal/v1/envs/{ENV}"


@pytest.fixture
def client(settings, engine):
    return create_app(settings).test_client()


@pytest.mark.parametrize("event_id, session_id", [
    ("msg/1", "sess/a"), ("/lead", "/lead-s"), ("trail/", "trail-s/"), ("a//b", "s//b"), ("/", "//")])
def test_ids_holding_a_slash_are_fetchable(client, engine, event_id, session_id):
    store_now(engine, [ev("u1", 0, event_id=event_id, session_id=session_id),
                       ev("u1", 1, event_id=event_id + "-2", session_id=session_id)])
    event = client.get(f"{BASE}/events/{quote(event_id, safe='')}")
    assert event.status_code == 200 and event.json["event_id"] == event_id
    session = client.get(f"{BASE}/sessions/{quote(session_id, safe='')}/events")
    assert session.status_code == 200
    assert [e["event_id"] for e in session.json["events"]] == [event_id, event_id + "-2"]


def test_a_nul_in_a_path_is_404_and_in_an_argument_400(client):
    assert client.get(f"{BASE}/events/a%00b").status_code == 404
    assert client.get(f"{BASE}/sessions/a%00b/events").status_code == 404
    response = client.get(f"{BASE}/users", query_string={"cursor": "x\x00"})
    assert response.status_code == 400 and response.json["error"]["field"] == "cursor"


@pytest.mark.parametrize("flt", [
    [{"type": "user_property", "property": "plan", "op": "equals", "value": "\x00"}],
    [{"type": "did_event", "event": {"name": "a\x00"}}],
])
def test_a_nul_in_a_filter_is_400(client, flt):
    response = client.get(f"{BASE}/users", query_string={"filter": orjson.dumps(flt)})
    assert response.status_code == 400 and response.json["error"]["field"] == "filter"


def test_an_nth_child_step_beyond_any_page_is_400(client):
    flt = [{"type": "did_event", "event": {"criteria": {"selector": "li:nth-child(12345678901234567890n+1)"}}}]
    response = client.get(f"{BASE}/users", query_string={"filter": orjson.dumps(flt)})
    assert response.status_code == 400 and "nth-child" in orjson.dumps(response.json).decode()


@pytest.mark.parametrize("args", [{"limit": "²"}, {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"},
                                  {"to": "0001-01-01T00:00:00Z"}])
def test_calendar_edges_and_odd_digits_never_fail(client, args):
    assert client.get(f"{BASE}/users", query_string=args).status_code in (200, 400)
