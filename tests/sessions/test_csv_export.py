"""The filtered feed as CSV and its count (services/sessions/csv_export.py), on real PostgreSQL."""
import csv
import io
import json
import resource
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from footfall.messages import UserMerge, UserSnapshot
from services.sessions import csv_export, facts
from services.sessions.feed import feed_query
from services.sessions.merges import apply_merges
from tests.sessions.conftest import ENV, T0, ev, store_now

BASE = f"/internal/v1/envs/{ENV}"
PRO = json.dumps([{"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}])


@pytest.fixture
def people(engine):
    store_now(engine, [ev("u1", 10), ev("u1", 100), ev("u2", 20), ev("u3", 30)])
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [
            UserSnapshot(user_id="u1", identity="ada@x.test", version=1,
                         properties={"plan": "pro", "note": "line one\nline two", "seats": 3}),
            UserSnapshot(user_id="u2", version=1, properties={"plan": "free"}),
            UserSnapshot(user_id="u3", identity='Grace "G", H', version=1, properties={"plan": "pro"}),
        ])


def read(client, **params):
    response = client.get(f"{BASE}/feed/csv", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    return body, list(csv.reader(io.StringIO(body)))


def test_count_follows_filters_and_search(client, people):
    def count(**p):
        return client.get(f"{BASE}/feed/count", query_string=p).json["count"]

    assert count() == 3 and count(filter=PRO) == 2 and count(filter=PRO, q="grace") == 1 and count(q="zz") == 0


def test_csv_one_line_per_user_in_feed_order_with_chosen_columns(client, people):
    body, rows = read(client, columns="user_id,identity,sessions,last_seen", properties="plan,note,seats")
    assert rows[0] == ["user_id", "identity", "sessions", "last_seen", "plan", "note", "seats"]
    assert [r[0] for r in rows[1:]] == ["u1", "u3", "u2"]  # most recently active first
    assert rows[1][1:3] == ["ada@x.test", "2"] and rows[1][4:] == ["pro", "line one line two", "3"]
    assert rows[2][1] == 'Grace "G", H' and rows[3][1] == "" and rows[3][5] == ""
    assert body.count("\n") == len(rows)  # one line per record: the gateway counts lines


def test_csv_default_columns_and_filters(client, people):
    _, rows = read(client, filter=PRO)
    assert rows[0] == list(csv_export.COLUMNS) and [r[0] for r in rows[1:]] == ["u1", "u3"]
    assert rows[1][2] == "ada@x.test"  # display name
    _, empty = read(client, q="nobody here")
    assert empty == [list(csv_export.COLUMNS)]


@pytest.mark.parametrize("params, field", [
    ({"columns": "user_id,password"}, "columns"), ({"properties": ",".join(f"p{i}" for i in range(51))}, "properties"),
    ({"q": "x"}, "q"), ({"filter": "[{"}, "filter"),
])
def test_bad_parameters_name_the_field(client, people, params, field):
    for route in ("csv", "count") if field not in ("columns", "properties") else ("csv",):
        response = client.get(f"{BASE}/feed/{route}", query_string=params)
        assert response.status_code == 400 and response.json["error"]["field"] == field


def test_a_large_csv_streams_with_flat_memory(engine):
    """50,000 users straight into the read model: the stream's chunks are bounded, not the file."""
    with engine.begin() as conn:
        conn.execute(text("""insert into users (env_id, user_id, identity, properties, version, first_seen,
                               last_seen, session_count)
                             select :env, 'b' || n, 'user' || n || '@x.test', jsonb_build_object('plan', 'pro'),
                                    1, now() - interval '1 hour', now() - n * interval '1 ms', 1
                             from generate_series(1, 50000) n"""), {"env": ENV})

    selection = feed_query(ENV, datetime.now(UTC) - timedelta(days=1), None, [], None, 0, probe=False).limit(None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines, biggest = 0, 0
    for chunk in csv_export.rows_csv(engine, selection, list(csv_export.COLUMNS), ["plan"]):
        lines += chunk.count(b"\n")
        biggest = max(biggest, len(chunk))
    assert lines == 50_001
    assert biggest < 2 * csv_export.ROWS_PER_FETCH * 120  # a fetch's worth of lines, never the file
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 60_000  # KB


@pytest.mark.parametrize("filters", [
    [{"type": "did_event", "event": {"kind": "custom", "name": "Buy"}}],
    [{"type": "did_event", "event": {"kind": "pageview"}}, {"type": "user_property", "property": "plan",
                                                             "op": "equals", "value": "pro"}],
    [{"type": "did_event", "event": {"kind": "custom"}, "where": [{"property": "value", "op": "gt", "value": 10}]}],
    [{"type": "did_event", "event": {"kind": "pageview"}}, {"type": "did_event", "event": {"name": "Buy"}}],
])
def test_all_users_are_those_the_feed_pages_through(client, engine, filters):
    """The export's own plan for did_event (owners of matching events, merges followed) lists the
    users the feed's pages list, for a window ending now and one in the past."""
    store_now(engine, [ev("m1", 5), ev("m2", 6, kind="custom", name="Buy", properties={"value": 30}),
                       ev("m3", 7, kind="custom", name="Buy", properties={"value": 5}), ev("m4", 8),
                       ev("m5", -3 * 24 * 60, kind="custom", name="Buy", properties={"value": 50})])
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [UserSnapshot(user_id=u, version=1, properties={"plan": "pro"})
                                          for u in ("m1", "m3", "m4")])
        apply_merges(conn, ENV, [UserMerge(from_user_id="m2", into_user_id="m4", at=T0)])
    for window in ({}, {"from": (T0 - timedelta(days=4)).isoformat(), "to": (T0 - timedelta(days=2)).isoformat()}):
        params = {**window, "filter": json.dumps(filters)}
        paged, cursor = [], None
        while True:
            page = client.get(f"{BASE}/users", query_string={**params, "limit": 1,
                                                             **({"cursor": cursor} if cursor else {})}).json
            paged += [u["user_id"] for u in page["users"]]
            if not (cursor := page["next_cursor"]):
                break
        _, rows = read(client, columns="user_id", **params)
        assert [r[0] for r in rows[1:]] == paged
        assert client.get(f"{BASE}/feed/count", query_string=params).json["count"] == len(paged)


def test_limit_bounds_the_rows(client, people):
    _, rows = read(client, columns="user_id", limit="2")
    assert [r[0] for r in rows[1:]] == ["u1", "u3"]
    for bad in ("0", "1000001", "x"):
        response = client.get(f"{BASE}/feed/csv", query_string={"limit": bad})
        assert response.status_code == 400 and response.json["error"]["field"] == "limit"
