"""The internal HTTP API: users following merges, by identity, devices, warnings, OpenAPI."""
import pytest

from footfall.ids import anonymous_user_id, identified_user_id
from services.identity.app import create_app
from tests.identity.factories import ENV, commands, event, events, identify, set_properties
from tests.identity.state import apply_batch

ADA = identified_user_id(ENV, "ada")
D1 = anonymous_user_id("d1")
BASE = f"/internal/v1/envs/{ENV}"


@pytest.fixture
def client(settings, engine):
    apply_batch(engine, [
        events(event("e1", "d1", 0), event("e2", "d2", 1), event("e3", "d3", 2, identity="null")),
        commands(identify("c1", "d1", "ada", 3), set_properties("c2", 3, {"email": "ada@example.com"}, identity="ada")),
    ])
    apply_batch(engine, [commands(identify("c3", "d2", "[object Object]", 4))])
    return create_app(settings).test_client()


def test_a_merged_away_id_answers_the_surviving_user(client):
    body = client.get(f"{BASE}/users/{D1}").json
    assert body["user_id"] == ADA and body["merged_into"] == ADA and body["display_name"] == "ada"
    assert body["properties"]["email"] == "ada@example.com"
    assert sorted(body["user_ids"]) == sorted([ADA, D1])
    assert client.get(f"{BASE}/users/{ADA}").json["merged_into"] is None


def test_anonymous_users_are_displayed_by_id(client):
    d2 = anonymous_user_id("d2")
    body = client.get(f"{BASE}/users/{d2}").json
    assert body["display_name"] == f"User {d2}" and body["identity"] is None


def test_user_by_identity_and_unknown_users(client):
    assert client.get(f"{BASE}/users/by-identity/ada").json["user_id"] == ADA
    response = client.get(f"{BASE}/users/by-identity/nobody")
    assert response.status_code == 404 and response.json["error"]["field"] == "user_id"
    assert client.get(f"{BASE}/users/123").status_code == 404
    assert client.get(f"{BASE}/users/by-identity/a%00b").status_code == 404


def test_devices_follow_merges(client):
    body = client.get(f"{BASE}/users/{D1}/devices").json
    assert body["user_id"] == ADA and body["identities"] == ["ada"]
    assert [d["device_id"] for d in body["devices"]] == ["d1"]


def test_warnings_are_listed_newest_first_with_a_cursor(client):
    body = client.get(f"{BASE}/warnings").json
    assert [w["kind"] for w in body["warnings"]] == ["identity_refused", "identity_refused"]
    assert "[object Object]" in body["warnings"][0]["message"] and "null" in body["warnings"][1]["message"]
    page = client.get(f"{BASE}/warnings?limit=1").json
    rest = client.get(f"{BASE}/warnings?limit=1&cursor={page['next_cursor']}").json
    assert [w["id"] for w in page["warnings"] + rest["warnings"]] == [w["id"] for w in body["warnings"]]
    response = client.get(f"{BASE}/warnings?limit=zero")
    assert response.status_code == 400 and response.json["error"]["field"] == "limit"


def test_warnings_are_summarised_per_kind_with_examples(client):
    listed = client.get(f"{BASE}/warnings").json["warnings"]
    body = client.get(f"{BASE}/warnings/summary").json
    assert body["complete"] is True
    [refused] = body["kinds"]
    assert (refused["kind"], refused["count"]) == ("identity_refused", 2)
    assert [e["id"] for e in refused["examples"]] == [w["id"] for w in listed]  # newest first
    assert client.get("/internal/v1/envs/nobody/warnings/summary").json["kinds"] == []


def test_openapi_describes_every_route(client):
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths) == {
        "/internal/v1/envs/{env_id}/users/{user_id}", "/internal/v1/envs/{env_id}/users/by-identity/{identity}",
        "/internal/v1/envs/{env_id}/users/{user_id}/devices", "/internal/v1/envs/{env_id}/warnings",
        "/internal/v1/envs/{env_id}/warnings/summary", "/internal/v1/envs/{env_id}/deletions",
    }
    assert client.get("/readyz").status_code == 200
