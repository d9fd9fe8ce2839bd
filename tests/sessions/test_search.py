"""Search of the feed (services/sessions/search.py) on real PostgreSQL: what matches, how it combines."""
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from footfall.messages import UserSnapshot
from services.sessions import facts, search
from services.sessions.feed import feed_query
from services.sessions.tables import users
from tests.sessions.conftest import ENV, T0, ev, store_now

BASE = f"/internal/v1/envs/{ENV}"


@pytest.fixture
def people(engine):
    store_now(engine, [ev("u-ada", 10), ev("u-grace", 20), ev("u-alan", 30, kind="custom", name="Buy"),
                       ev("u-anon", 40), ev("u-pct", 50)])
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [
            UserSnapshot(user_id="u-ada", identity="Ada.Lovelace@Example.com", version=1,
                         properties={"name": "Ada Lovelace", "plan": "pro"}),
            UserSnapshot(user_id="u-grace", identity="grace-42", version=1,
                         properties={"email": "GRACE@navy.test", "name": "Grace Hopper", "plan": "free"}),
            UserSnapshot(user_id="u-alan", identity=None, version=1,
                         properties={"name": "Alan Türing", "plan": "pro"}),
            UserSnapshot(user_id="u-pct", identity="100%_sure", version=1, properties={}),
        ])


def found(client, q, **params):
    if "filter" in params:
        params["filter"] = json.dumps(params["filter"])
    response = client.get(f"{BASE}/users", query_string={"q": q, **params})
    assert response.status_code == 200, response.json
    return sorted(u["user_id"] for u in response.json["users"])


@pytest.mark.parametrize("q, expected", [
    ("ada", ["u-ada"]),                       # identity prefix, any case
    ("LOVELACE@ex", ["u-ada"]),               # identity substring across the @
    ("navy", ["u-grace"]),                    # the email property
    ("hopper", ["u-grace"]),                  # the name property
    ("türing", ["u-alan"]),                   # non-ASCII, lowered by PostgreSQL
    ("TÜRING", ["u-alan"]),
    ("u-an", ["u-anon"]),                     # the user id, of a user nobody identified
    ("  grace   hopper ", ["u-grace"]),      # spaces as typed
    ("a", None),                              # too short: a 400 (below)
    ("0%", ["u-pct"]),                        # LIKE's characters are literal
    ("%_", ["u-pct"]),
    ("e_", []),                               # "_" is not "any character"
    ("zz", []),
    ("u-", ["u-ada", "u-alan", "u-anon", "u-grace", "u-pct"]),
])
def test_what_matches(client, people, q, expected):
    if expected is None:
        response = client.get(f"{BASE}/users", query_string={"q": q})
        assert response.status_code == 400 and response.json["error"]["field"] == "q"
    else:
        assert found(client, q) == expected


def test_search_combines_with_filters_and_window(client, people):
    pro = [{"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}]
    assert found(client, "u-", filter=pro) == ["u-ada", "u-alan"]
    did_buy = [{"type": "did_event", "event": {"kind": "custom", "name": "Buy"}}]
    assert found(client, "u-", filter=did_buy) == ["u-alan"]
    later = (T0 + timedelta(minutes=35)).isoformat()
    assert found(client, "u-", **{"from": later}) == ["u-anon", "u-pct"]


def test_search_pages_with_the_cursor(client, people):
    first = client.get(f"{BASE}/users", query_string={"q": "u-", "limit": 2}).json
    assert len(first["users"]) == 2 and first["next_cursor"]
    seen = [u["user_id"] for u in first["users"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"{BASE}/users", query_string={"q": "u-", "limit": 2, "cursor": cursor}).json
        seen += [u["user_id"] for u in page["users"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == ["u-ada", "u-alan", "u-anon", "u-grace", "u-pct"] and len(set(seen)) == 5


@pytest.mark.parametrize("q", ["x", "x" * 201, "ab\x00"])
def test_bad_queries_are_400_naming_q(client, people, q):
    response = client.get(f"{BASE}/users", query_string={"q": q})
    assert response.status_code == 400 and response.json["error"]["field"] == "q"


def test_the_column_follows_identity_snapshots(engine, people):
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [UserSnapshot(user_id="u-alan", identity="alan@bletchley.test",
                                                       version=2, properties={"name": "A. M. Turing"})])
    with engine.connect() as conn:
        found_ids = conn.scalars(select(users.c.user_id).where(search.predicate("bletchley"))).all()
        gone = conn.scalars(select(users.c.user_id).where(search.predicate("türing"))).all()
    assert found_ids == ["u-alan"] and gone == []


ALPHABET = st.sampled_from(list("abAB_%\\ @.é1-"))
TEXTS = st.text(ALPHABET, max_size=8)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.none() | TEXTS, st.none() | TEXTS, st.none() | TEXTS), min_size=1, max_size=6),
       query=st.text(ALPHABET, min_size=2, max_size=4))
def test_sql_agrees_with_the_python_meaning(engine, rows, query):
    query = " ".join(query.split())
    if len(query) < search.MIN_CHARS:
        return
    seen = T0 + timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(delete(users).where(users.c.env_id == ENV))
        conn.execute(insert(users), [
            {"env_id": ENV, "user_id": f"id{i}", "identity": identity, "version": 1, "first_seen": seen,
             "last_seen": seen, "session_count": 1,
             "properties": {k: v for k, v in (("email", email), ("name", name)) if v is not None}}
            for i, (identity, email, name) in enumerate(rows)])
        got = set(conn.scalars(select(feed_query(ENV, T0, None, [], None, 100, search=query).subquery().c.user_id)))
    expected = {f"id{i}" for i, (identity, email, name) in enumerate(rows)
                if search.matches(query, identity, {"email": email, "name": name}, f"id{i}")}
    assert got == expected
