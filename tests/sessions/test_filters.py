"""Selective filters on real PostgreSQL: every filter kind, case, counts, the catalog, and the
planner's event-first answers held equal to the user-first walk (the oracle)."""
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from footfall.messages import UserMerge, UserSnapshot
from services.sessions import catalog, facts, feed, plan
from services.sessions.app import create_app
from services.sessions.filters import parse_filters
from services.sessions.merges import apply_merges
from tests.sessions.conftest import ENV, T0, ev, store_now

BASE = f"/internal/v1/envs/{ENV}"
TRIAL = {"hierarchy": [{"tag": "button", "id": "trial", "classes": ["cta"]}], "text": "Start free trial"}
BUY = {"hierarchy": [{"tag": "button", "id": "buy"}], "text": "Buy now"}


def page(path, **extra):
    return {"url": f"https://shop.test{path}", "path": path, "domain": "shop.test", **extra}


@pytest.fixture
def client(settings, engine):
    app = create_app(settings)
    yield app.test_client()
    app.extensions["sessions_engine"].dispose()


@pytest.fixture
def shop(engine):
    """maria (Firefox, ES, spring campaign) started a trial; ben (Chrome, FR) hit the checkout error
    and bought; chen (Safari) only browsed; dora clicked Buy with coupon SPRING; each a session."""
    store_now(engine, [
        ev("maria", 1, page=page("/", referrer="https://google.com/"), device={"browser": "Firefox", "os": "Linux"},
           geo={"country": "ES"}, campaign={"utm_campaign": "Spring-Sale"}),
        ev("maria", 2, kind="click", page=page("/"), target=TRIAL, device={"browser": "Firefox"}),
        ev("ben", 3, page=page("/checkout/error"), device={"browser": "Chrome", "device_type": "Desktop"},
           geo={"country": "FR"}),
        ev("ben", 4, kind="click", page=page("/checkout"), target=BUY, properties={"coupon": "fall", "total": 120}),
        ev("chen", 5, page=page("/pricing"), device={"browser": "Safari", "device_type": "Mobile"}),
        ev("dora", 6, kind="click", page=page("/p/1"), target=BUY, properties={"coupon": "SPRING", "total": 30}),
        ev("dora", 7, kind="custom", name="Add to Cart", properties={"sku": "A-1"}),
    ])
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, [
            UserSnapshot(user_id="maria", identity="maria.gonzalez@northwind.io", version=1,
                         properties={"plan": "Pro"}),
            UserSnapshot(user_id="ben", identity="ben@x.test", version=1, properties={"plan": "free"}),
        ])


def ids(client, filters, **params):
    response = client.get(f"{BASE}/users", query_string={"filter": json.dumps(filters), **params})
    assert response.status_code == 200, response.json
    return sorted(u["user_id"] for u in response.json["users"])


def did(event=None, *where, kind="did_event"):
    return {"type": kind, **({"event": event} if event else {}), "where": list(where)}


def cond(property, op, value=None, **extra):
    return {"property": property, "op": op, "value": value, **extra}


CASES = [
    # raw events by text, path, name, selector; case-insensitive unless exact_case
    ([did({"kind": "click", "text": {"op": "equals", "value": "start FREE trial"}})], ["maria"]),
    ([did({"kind": "click", "text": {"op": "equals", "value": "start FREE trial"}, "exact_case": True})], []),
    ([did({"kind": "click", "text": {"op": "contains", "value": "BUY"}})], ["ben", "dora"]),
    ([did({"kind": "pageview", "path": "/checkout/*"})], ["ben"]),
    ([did({"kind": "custom", "name": "add to cart"})], ["dora"]),
    ([did({"kind": "click", "selector": "button#trial"})], ["maria"]),
    # did not
    ([did({"kind": "click"}, kind="did_not_event")], ["chen"]),
    ([did({"kind": "click", "text": {"op": "contains", "value": "buy"}}, kind="did_not_event")], ["chen", "maria"]),
    # event properties: custom and autocaptured (event-level and session-level)
    ([{"type": "event_property", **cond("coupon", "equals", "spring")}], ["dora"]),
    ([{"type": "event_property", **cond("coupon", "equals", "spring", exact_case=True)}], []),
    ([{"type": "event_property", **cond("total", "gt", 100)}], ["ben"]),
    ([{"type": "event_property", **cond("$browser", "equals", "firefox")}], ["maria"]),
    ([{"type": "event_property", **cond("$country", "equals", "FR")}], ["ben"]),
    ([{"type": "event_property", **cond("$utm_campaign", "contains", "spring")}], ["maria"]),
    ([{"type": "event_property", **cond("$referrer", "contains", "google")}], ["maria"]),
    ([{"type": "event_property", **cond("$device_type", "equals", "mobile")}], ["chen"]),
    ([{"type": "event_property", **cond("$path", "starts_with", "/CHECKOUT")}], ["ben"]),
    ([{"type": "event_property", **cond("$path", "wildcard", "/p/*")}], ["dora"]),
    ([did({"kind": "click"}, cond("$path", "equals", "/checkout"))], ["ben"]),
    ([did({"kind": "pageview"}, cond("$path", "equals", "/checkout"))], []),
    ([{"type": "event_property", **cond("$text", "contains", "trial")}], ["maria"]),
    ([{"type": "event_property", **cond("$source", "equals", "web")}], ["ben", "chen", "dora", "maria"]),
    ([did({"kind": "click"}, cond("$browser", "equals", "Chrome"))], ["ben"]),
    ([did({"kind": "click"}, cond("coupon", "is_set"))], ["ben", "dora"]),
    # user properties, case-insensitive
    ([{"type": "user_property", **cond("identity", "contains", "MARIA")}], ["maria"]),
    ([{"type": "user_property", **cond("identity", "contains", "MARIA", exact_case=True)}], []),
    ([{"type": "user_property", **cond("plan", "equals", "pro")}], ["maria"]),
    # combinations
    ([did({"kind": "click", "text": {"op": "equals", "value": "buy now"}}),
      {"type": "event_property", **cond("$browser", "equals", "chrome")}], ["ben"]),
    ([did({"kind": "click", "text": {"op": "equals", "value": "buy now"}}),
      {"type": "user_property", **cond("identity", "is_not_set")}], ["dora"]),
]


@pytest.mark.parametrize("filters, expected", CASES)
def test_every_filter_kind(client, shop, filters, expected):
    assert ids(client, filters) == expected
    count = client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(filters)}).json
    assert count == {"count": len(expected), "estimated": False}


@pytest.mark.parametrize("filters, expected", CASES)
def test_every_filter_kind_when_its_events_are_common(client, shop, monkeypatch, filters, expected):
    """Every filter walked and probed per user (plan.probe_with: label seeks), as when
    its events outnumber what the planner reads: the same users, the same exact count."""
    monkeypatch.setattr(plan, "MAX_EVENTS", 0)
    monkeypatch.setattr(plan, "MAX_EXACT", 0)
    assert ids(client, filters) == expected
    count = client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(filters)}).json
    assert count == {"count": len(expected), "estimated": False}


def test_probes_read_what_the_label_names(engine, shop):
    """How the planner has each filter probed per user (plan.probe_with)."""
    cases = [
        (did({"kind": "click", "text": {"op": "equals", "value": "BUY NOW"}}), "exact"),
        (did({"kind": "click", "text": {"op": "equals", "value": "BUY NOW"}}, kind="did_not_event"), "exact"),
        (did({"kind": "click", "text": {"op": "contains", "value": "trial"}}), "label"),  # through the catalog
        (did({"kind": "click", "text": {"op": "equals", "value": "Buy now"}}, cond("coupon", "is_set")), "label"),
        (did({"criteria": {"kind": "click", "text": {"op": "equals", "value": "Buy now"}}}), "label"),
        (did({"kind": "pageview", "path": "/checkout/*"}), "label"),  # a range, as the catalog's labels
        (did({"kind": "click"}, cond("$path", "equals", "/checkout")), None),  # no label: the user's events
        (did({"kind": "click", "selector": "button#trial"}), None),
    ]
    with engine.connect() as conn:
        for f, expected in cases:
            (parsed,) = parse_filters(json.dumps([f]))
            assert (plan.probe_with(conn, ENV, parsed) or (None,))[0] == expected, f


def test_a_probed_did_not_event_follows_merges(engine, client, shop, monkeypatch):
    """A probe by label reads the user's members: a user whose merged-in id clicked did click."""
    monkeypatch.setattr(plan, "MAX_EXACT", 0)
    store_now(engine, [ev("chen-phone", 8, kind="click", target=BUY)])
    with engine.begin() as conn:
        apply_merges(conn, ENV, [UserMerge(from_user_id="chen-phone", into_user_id="chen", at=T0)])
    absent = [did({"kind": "click", "text": {"op": "equals", "value": "buy now"}}, kind="did_not_event")]
    assert ids(client, absent) == ["maria"]
    assert client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(absent)}).json["count"] == 1


def test_count_takes_the_search(client, shop):
    """A segment's count (gateway/segments.py) carries its search."""
    filters = [did({"kind": "click"})]
    count = client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(filters), "q": "NORTHWIND"}).json
    assert count == {"count": 1, "estimated": False}  # maria, not ben nor dora
    assert client.get(f"{BASE}/user-count", query_string={"q": "x"}).status_code == 400


def test_selective_filters_start_from_their_events(engine, shop):
    """The anchored filters are answered from the users their events name, not by a walk."""
    start = T0 - timedelta(days=1)
    anchored = [
        did({"kind": "click", "text": {"op": "contains", "value": "trial"}}),
        did({"kind": "pageview", "path": "/checkout/*"}),
        {"type": "event_property", **cond("coupon", "equals", "spring")},
        {"type": "event_property", **cond("$browser", "equals", "firefox")},
        {"type": "event_property", **cond("$path", "starts_with", "/CHECKOUT")},
        did({"kind": "click"}, cond("$path", "equals", "/p/1")),
        did({"criteria": {"kind": "click", "text": {"op": "equals", "value": "Buy now"}}}),
    ]
    with engine.connect() as conn:
        for f in anchored:
            (parsed,) = parse_filters(json.dumps([f]))
            assert plan.driver_users(conn, ENV, parsed, start, None) is not None, f
        (walked,) = parse_filters(json.dumps([did({"kind": "click", "selector": "button#trial"})]))
        assert plan.driver_users(conn, ENV, walked, start, None) is None


def test_a_common_filter_walks_users_instead(engine, shop, monkeypatch):
    monkeypatch.setattr(plan, "MAX_EVENTS", 1)
    (parsed,) = parse_filters(json.dumps([did({"kind": "click", "text": {"op": "contains", "value": "buy"}})]))
    with engine.connect() as conn:
        assert plan.driver_users(conn, ENV, parsed, T0 - timedelta(days=1), None) is None


def test_count_is_estimated_past_its_budget(client, shop, monkeypatch):
    monkeypatch.setattr(feed, "SAMPLE_USERS", 2)
    filters = [did({"kind": "click"}, kind="did_not_event")]
    response = client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(filters)}).json
    assert response["estimated"] and 0 <= response["count"] <= 4  # from a sample of about 2 of 4 users


def test_catalog_lists_names_properties_and_values(client, shop):
    names = client.get(f"{BASE}/catalog/events", query_string={"q": "buy"}).json["events"]
    assert names == [{"kind": "click", "label": "Buy now", "count": 2, "last_seen": names[0]["last_seen"]}]
    props = {p["property"] for p in client.get(f"{BASE}/catalog/properties",
                                               query_string={"kind": "click", "limit": 100}).json["properties"]}
    assert {"coupon", "total", "$text", "$path", "$browser"} <= props and "$name" not in props
    assert "sku" not in props
    values = client.get(f"{BASE}/catalog/values", query_string={"property": "coupon"}).json
    assert sorted(v["value"] for v in values["values"]) == ["SPRING", "fall"] and values["complete"]
    browsers = client.get(f"{BASE}/catalog/values", query_string={"property": "$browser", "q": "fire"}).json
    assert [v["value"] for v in browsers["values"]] == ["Firefox"]
    assert client.get(f"{BASE}/catalog/values").status_code == 400
    assert client.get(f"{BASE}/catalog/events", query_string={"limit": 0}).status_code == 400


def test_catalog_bounds_values_and_says_so(engine, client, monkeypatch):
    monkeypatch.setattr(catalog, "RECORD", catalog.record_statements(max_values=3, max_labels=2))
    store_now(engine, [ev(f"u{i}", i, kind="custom", name=f"n{i}", properties={"k": i}) for i in range(6)])
    values = client.get(f"{BASE}/catalog/values", query_string={"property": "k"}).json
    assert len(values["values"]) == 3 and not values["complete"]
    assert len(client.get(f"{BASE}/catalog/events", query_string={"kind": "custom"}).json["events"]) == 2
    # Resolution no longer trusts the catalog: a filter on k walks users, and still finds u5.
    assert ids(client, [{"type": "event_property", **cond("k", "equals", 5)}]) == ["u5"]
    assert ids(client, [did({"kind": "custom", "name": "N1"})]) == ["u1"]


def test_a_batch_the_catalog_could_not_record_is_marked_truncated(engine, client, monkeypatch):
    monkeypatch.setattr(catalog, "RECORD", ["select 1/0"])
    store_now(engine, [ev("u1", 1, kind="custom", name="Paid", properties={"k": "v"})])
    assert not client.get(f"{BASE}/catalog/values", query_string={"property": "k"}).json["complete"]
    (parsed,) = parse_filters(json.dumps([{"type": "event_property", **cond("k", "contains", "V")}]))
    with engine.connect() as conn:  # no longer resolved through the catalog: walked, still found
        assert plan.driver_users(conn, ENV, parsed, T0 - timedelta(days=1), None) is None
    assert ids(client, [{"type": "event_property", **cond("k", "contains", "V")}]) == ["u1"]


def test_catalog_rebuild_recounts_stored_events(engine, shop):
    with engine.begin() as conn:
        before = conn.exec_driver_sql("select * from catalog_values order by 1, 2, 3").all()
        catalog.rebuild(conn, ENV)
        assert conn.exec_driver_sql("select * from catalog_values order by 1, 2, 3").all() == before


def test_filters_bad_input_is_400_naming_the_field(client, shop):
    bad = [did({"kind": "click"}, cond("coupon", "near", "x"))]
    response = client.get(f"{BASE}/users", query_string={"filter": json.dumps(bad)})
    assert response.status_code == 400 and "filter.0.did_event.where.0.op" in json.dumps(response.json)
    assert client.get(f"{BASE}/users", query_string={"filter": json.dumps([did()])}).status_code == 400
    many = [{"type": "seen"}] * 21
    assert client.get(f"{BASE}/user-count", query_string={"filter": json.dumps(many)}).status_code == 400


# --- The planner against the walk: same users, any filters ------------------------------------

texts = st.sampled_from(["buy", "BUY NOW", "trial", "/checkout", "spring", "fire", "fr", "x"])
ops = st.sampled_from(["equals", "contains", "starts_with", "not_equals", "is_set", "wildcard"])
conds = st.builds(lambda p, o, v, e: cond(p, o, None if o == "is_set" else (v + "*" if o == "wildcard" else v),
                                          exact_case=e),
                  st.sampled_from(["coupon", "$browser", "$path", "$text", "$country", "sku"]), ops, texts,
                  st.booleans())
events = st.one_of(
    st.builds(lambda k, t: {"kind": k, "text": {"op": "contains", "value": t}}, st.sampled_from(["click"]), texts),
    st.builds(lambda t: {"kind": "pageview", "path": t + "*"}, texts),
    st.builds(lambda n: {"kind": "custom", "name": n}, st.sampled_from(["add to cart", "Add to Cart", "x"])),
    st.none())
one = st.one_of(
    st.builds(lambda e, w, k: did(e, *w, kind=k) if e or w else did({"kind": "click"}, kind=k),
              events, st.lists(conds, max_size=2), st.sampled_from(["did_event", "did_not_event"])),
    st.builds(lambda c: {"type": "event_property", **c}, conds))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filters=st.lists(one, min_size=1, max_size=2), common=st.booleans())
def test_planner_answers_what_the_walk_does(engine, shop, monkeypatch, filters, common):
    """`common`: every anchor counts as common, so filters are probed per user (plan.probe_with)."""
    monkeypatch.setattr(plan, "MAX_EVENTS", 0 if common else 5_000)
    monkeypatch.setattr(plan, "MAX_EXACT", 0 if common else 5_000)
    parsed = parse_filters(json.dumps(filters))
    start = T0 - timedelta(days=1)
    with engine.connect() as conn:
        planned = [r.user_id for r in feed._page(conn, ENV, start, None, parsed, None, 50)]
        walked = [r.user_id for r in conn.execute(feed.feed_query(ENV, start, None, parsed, None, 50))]
        counted = feed.count(conn, ENV, start, None, parsed)
    assert planned == walked
    assert counted == {"count": len(walked), "estimated": False}
