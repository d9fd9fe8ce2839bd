"""The public API composed over HTTP from (stand-in) sessions and definitions services."""
from __future__ import annotations

import orjson

from gateway.app import create_app
from tests.gateway.conftest import bearer
from tests.gateway.standins import dataset

ACME = "/api/v1/environments/acme"
SESSION_FIELDS = {"session_id", "start", "end", "duration_s", "source", "platform", "browser", "device_type",
                  "event_count", "landing_page", "replay"}


def test_feed_has_the_documented_shape_and_replay_state(client):
    feed = client.get(f"{ACME}/users", headers=bearer("acme")).json
    assert set(feed) >= {"users", "next_cursor"}
    ada = feed["users"][0]
    assert {"user_id", "identity", "display_name", "first_seen", "last_seen", "properties", "sessions",
            "matched_session_ids"} <= set(ada)
    assert ada["display_name"] == "ada@acme.example"
    by_id = {s["session_id"]: s for s in ada["sessions"]}
    assert all(SESSION_FIELDS <= set(s) for s in by_id.values())
    assert by_id["s-ada-1"]["replay"] == {"available": True, "playable": True, "reason": None}
    assert by_id["s-ada-2"]["replay"]["reason"] == "native_mobile_not_supported"


def test_feed_window_defaults_to_the_past_seven_days(client, standins):
    standins["calls"].clear()
    client.get(f"{ACME}/users?limit=1", headers=bearer("acme"))
    _, _, params = standins["calls"][-1]
    from datetime import datetime
    start, end = (datetime.fromisoformat(params[k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert round((end - start).total_seconds()) == 7 * 86400
    assert params["limit"] == "1"


def test_definition_filters_become_criteria_for_the_sessions_service(client, standins):
    created = client.post(f"{ACME}/definitions", json={"name": "Buy", "criteria": {"kind": "click"}},
                          headers=bearer("acme")).json
    flt = [{"type": "did_event", "event": {"definition_id": created["id"]},
            "where": [{"property": "plan", "op": "equals", "value": "pro"}]},
           {"type": "user_property", "property": "identity", "op": "contains", "value": "ada"}]
    standins["calls"].clear()
    feed = client.get(f"{ACME}/users", query_string={"filter": orjson.dumps(flt)}, headers=bearer("acme")).json
    sent = orjson.loads([c for c in standins["calls"] if c[0] == "sessions"][-1][2]["filter"])
    assert sent[0]["event"] == {"criteria": [{"kind": "click"}]}
    assert sent[0]["where"] == [{"property": "plan", "op": "equals", "value": "pro"}]
    assert sent[1] == flt[1]
    assert feed["users"][0]["matched_session_ids"] == ["s-ada-1"]


def test_bad_filters_are_refused_naming_the_field(client):
    for bad in ('[{"type":"user_property","property":"x","op":"resembles"}]', "not json",
                '[{"type":"did_event","event":{}}]', '[{"type":"did_event","event":{"definition_id":"404"}}]'):
        response = client.get(f"{ACME}/users", query_string={"filter": bad}, headers=bearer("acme"))
        assert response.status_code == 400, bad
        assert response.json["error"]
    assert client.get(f"{ACME}/users?limit=1000", headers=bearer("acme")).json["error"]["field"] == "limit"
    assert client.get(f"{ACME}/users?from=yesterday", headers=bearer("acme")).json["error"]["field"] == "from"


def test_user_details_and_all_sessions_with_matches(client):
    user = client.get(f"{ACME}/users/1001", headers=bearer("acme")).json
    assert user["properties"]["plan"] == "pro"
    flt = orjson.dumps([{"type": "did_event", "event": {"kind": "click"}}])
    sessions = client.get(f"{ACME}/users/1001/sessions", query_string={"filter": flt}, headers=bearer("acme")).json
    marked = {s["session_id"]: s["matched"] for s in sessions["sessions"]}
    assert marked == {"s-ada-1": True, "s-ada-2": False}
    assert all("replay" in s for s in sessions["sessions"])
    assert client.get(f"{ACME}/users/999", headers=bearer("acme")).status_code == 404


def test_session_events_are_labelled_or_raw(client):
    client.post(f"{ACME}/definitions", json={"name": "Signed up", "color": "#ff0000",
                                             "criteria": {"kind": "custom", "name": "Signed Up"}},
                headers=bearer("acme"))
    events = client.get(f"{ACME}/sessions/s-ada-1/events", headers=bearer("acme")).json["events"]
    names = [(e["display_name"], e["definition"]) for e in events]
    assert names[0] == ("View page /pricing", None)
    assert names[1] == ("Click on 'Buy now'", None)
    assert names[2][0] == "Signed up" and names[2][1]["color"] == "#ff0000"
    assert {"event_id", "kind", "name", "display_name", "time", "definition", "properties"} <= set(events[2])


def test_define_from_a_raw_event_labels_it_everywhere(client):
    suggestion = client.get(f"{ACME}/definitions/suggest?event_id=e2", headers=bearer("acme")).json
    assert suggestion["criteria"]["text"]["value"] == "Buy now"
    client.post(f"{ACME}/definitions", json={**suggestion, "name": "Clicked buy"}, headers=bearer("acme"))
    event = client.get(f"{ACME}/events/e2", headers=bearer("acme")).json
    assert event["definition"]["name"] == "Clicked buy" and event["display_name"] == "Clicked buy"
    events = client.get(f"{ACME}/sessions/s-ada-1/events", headers=bearer("acme")).json["events"]
    assert events[1]["definition"]["name"] == "Clicked buy"
    assert client.get(f"{ACME}/definitions/suggest", headers=bearer("acme")).status_code == 400


def test_definitions_update_and_archive(client):
    created = client.post(f"{ACME}/definitions", json={"name": "Views", "criteria": {"kind": "pageview"}},
                          headers=bearer("acme")).json
    updated = client.put(f"{ACME}/definitions/{created['id']}", json={"name": "Page views"}, headers=bearer("acme"))
    assert updated.json["name"] == "Page views"
    client.post(f"{ACME}/definitions/{created['id']}/archive", headers=bearer("acme"))
    listed = client.get(f"{ACME}/definitions", headers=bearer("acme")).json["definitions"]
    assert created["id"] not in [d["id"] for d in listed]
    invalid = client.post(f"{ACME}/definitions", json={"criteria": {}}, headers=bearer("acme"))
    assert invalid.status_code == 400 and invalid.json["error"]["field"] == "name"


def test_a_down_service_is_a_clear_503_and_a_failing_one_a_502(app, client):
    app.extensions["services"].sessions.base_url = "http://127.0.0.1:9"
    response = client.get(f"{ACME}/users", headers=bearer("acme"))
    assert response.status_code == 503
    assert response.json["error"]["service"] == "sessions" and response.headers["Retry-After"]


def test_a_failing_service_is_a_502(client, monkeypatch):
    from gateway import api
    monkeypatch.setattr(api, "_filter_param", lambda env_id: "boom")  # the stand-in answers 500 to it
    response = client.get(f"{ACME}/users", headers=bearer("acme"))
    assert response.status_code == 502 and response.json["error"]["service"] == "sessions"


def test_openapi_describes_the_public_api(client):
    spec = client.get("/openapi.json").json
    for path in ("/api/v1/environments/{env_id}/users", "/api/v1/environments/{env_id}/users/{user_id}/sessions",
                 "/api/v1/environments/{env_id}/sessions/{session_id}/events",
                 "/api/v1/environments/{env_id}/definitions/suggest", "/api/v1/environments/{env_id}/replay/status"):
        assert path in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/v1/environments/{env_id}/users"]["get"]["parameters"]}
    assert {"from", "to", "filter", "cursor", "limit"} <= params


def test_a_session_has_its_own_page(client):
    session = client.get(f"{ACME}/sessions/s-ada-1", headers=bearer("acme"))
    assert session.status_code == 200, session.json
    assert session.json["user_id"] == "1001" and session.json["session_id"] == "s-ada-1"
    assert session.json["replay"] == {"available": True, "playable": True, "reason": None}
    assert SESSION_FIELDS <= set(session.json) and "matched" not in session.json
    missing = client.get(f"{ACME}/sessions/nope", headers=bearer("acme"))
    assert missing.status_code == 404 and "nope" in missing.json["error"]["message"]


def test_preview_counts_what_criteria_would_label(client):
    def preview(body):
        return client.post(f"{ACME}/definitions/preview", json=body, headers=bearer("acme"))

    clicks = preview({"criteria": {"kind": "click", "text": {"op": "equals", "value": "Buy now"}}}).json
    assert (clicks["events"], clicks["users"], clicks["events_exact"], clicks["users_exact"]) == (1, 1, True, True)
    views = preview({"criteria": [{"kind": "pageview", "path": "/pricing"}, {"kind": "pageview", "path": "/"}]}).json
    assert (views["events"], views["users"]) == (2, 2)
    nothing = preview({"criteria": {"kind": "pageview", "path": "/nowhere"}}).json
    assert (nothing["events"], nothing["users"]) == (0, 0)
    old = preview({"criteria": {"kind": "click"}, "from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}).json
    assert old["events"] == 0 and old["from"] == "2001-01-01T00:00:00Z"  # events outside the window do not count

    bad = preview({"criteria": [{"kind": "click"}, {"selector": "a ~ b"}]})
    assert bad.status_code == 400 and bad.json["error"]["errors"][0]["field"] == "criteria.1.selector"
    assert preview({"criteria": {"kind": "click"}, "from": "soon"}).json["error"]["field"] == "from"
    assert preview({"criteria": {}}).status_code == 400
    assert preview({"name": "x"}).status_code == 400


def test_definitions_refuse_taken_names_and_restore(client):
    def define(name):
        return client.post(f"{ACME}/definitions", json={"name": name, "criteria": {"kind": "click"}},
                           headers=bearer("acme"))

    first = define("Signed Up").json
    twin = define("signed up")
    assert twin.status_code == 409 and twin.json["error"]["field"] == "name"
    client.post(f"{ACME}/definitions/{first['id']}/archive", headers=bearer("acme"))
    archived = client.get(f"{ACME}/definitions?archived=true", headers=bearer("acme")).json["definitions"]
    assert [d["id"] for d in archived] == [first["id"]]
    restored = client.post(f"{ACME}/definitions/{first['id']}/restore", headers=bearer("acme"))
    assert restored.status_code == 200 and restored.json["archived"] is False
    assert client.post(f"{ACME}/definitions/404/restore", headers=bearer("acme")).status_code == 404


def test_openapi_describes_the_routes_of_the_ui(client):
    paths = client.get("/openapi.json").json["paths"]
    base = "/api/v1/environments/{env_id}"
    assert {"200", "404"} <= set(paths[f"{base}/sessions/{{session_id}}"]["get"]["responses"])
    assert {"200", "400"} <= set(paths[f"{base}/definitions/preview"]["post"]["responses"])
    assert {"200", "404", "409"} <= set(paths[f"{base}/definitions/{{definition_id}}/restore"]["post"]["responses"])
    assert "409" in paths[f"{base}/definitions"]["post"]["responses"]
    assert "409" in paths[f"{base}/definitions/{{definition_id}}"]["put"]["responses"]


def test_the_filter_operators_are_criterias_with_labels_and_the_feed_takes_each(client):
    from criteria.conditions import OPS, VALUELESS_OPS

    answer = client.get(f"{ACME}/filters/operators", headers=bearer("acme"))
    assert answer.status_code == 200
    operators = answer.json["operators"]
    assert [o["op"] for o in operators] == list(OPS)
    assert all(o["label"] for o in operators)
    assert {o["op"] for o in operators if not o["takes_value"]} == VALUELESS_OPS
    assert {o["op"] for o in operators if o["ordered"]} == {"gt", "lt"}
    for operator in operators:
        condition = {"type": "user_property", "property": "plan", "op": operator["op"]}
        if operator["takes_value"]:
            condition["value"] = "1"
        feed = client.get(f"{ACME}/users", query_string={"filter": orjson.dumps([condition]).decode()},
                          headers=bearer("acme"))
        assert feed.status_code == 200, (operator, feed.json)
    refused = client.get(f"{ACME}/users", query_string={"filter": orjson.dumps(
        [{"type": "user_property", "property": "plan", "op": "resembles"}]).decode()}, headers=bearer("acme"))
    assert refused.status_code == 400


def test_feed_replay_state_follows_the_configured_replay_retention(control_plane, standins):
    settings = control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                   identity_url="http://127.0.0.1:9", replay_url=standins["sessions"])

    def ada_replay(retention_days: int) -> dict:
        app = create_app(settings.with_(replay_retention_days=retention_days))
        feed = app.test_client().get(f"{ACME}/users", headers=bearer("acme")).json
        return {s["session_id"]: s for s in feed["users"][0]["sessions"]}["s-ada-1"]["replay"]

    # s-ada-1 ended minutes ago: kept under any retention of a day or more.
    assert ada_replay(1)["playable"] is True
    standins["data"]["acme"]["sessions"]["s-ada-1"]["end"] = "2020-01-01T00:00:00Z"
    try:
        assert ada_replay(30000)["playable"] is True
        assert ada_replay(30)["reason"] == "expired"
    finally:
        standins["data"]["acme"] = dataset("acme")


def test_ingestion_warnings_are_read_from_the_identity_service_a_page_at_a_time(client, standins):
    def warning(n: int) -> dict:
        return {"id": n, "key": f"k{n}", "kind": "identity_refused", "message": f"refused {n}", "subject": None,
                "details": {}, "occurred_at": "2026-01-01T00:00:00Z", "recorded_at": "2026-01-01T00:00:01Z"}

    standins["warnings"]["acme"] = [warning(n) for n in range(3)]
    try:
        first = client.get(f"{ACME}/warnings?limit=2", headers=bearer("acme"))
        assert first.status_code == 200, first.json
        assert [w["id"] for w in first.json["warnings"]] == [0, 1]
        rest = client.get(f"{ACME}/warnings", query_string={"limit": 2, "cursor": first.json["next_cursor"]},
                          headers=bearer("acme")).json
        assert [w["id"] for w in rest["warnings"]] == [2] and rest["next_cursor"] is None
        assert client.get("/api/v1/environments/globex/warnings", headers=bearer("globex")).json["warnings"] == []
    finally:
        standins["warnings"].clear()
