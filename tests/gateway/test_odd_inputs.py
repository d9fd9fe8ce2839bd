"""Inputs that once ended in a 5xx: each answers a 4xx naming the field now."""
import orjson
import pytest

from tests.gateway.conftest import ADMIN, bearer, login

ACME = "/api/v1/environments/acme"


@pytest.mark.parametrize("limit", ["²", "٣", "1e3", "-1", "0", "101"])
def test_a_limit_that_is_not_a_small_ascii_integer_is_400(client, limit):
    response = client.get(f"{ACME}/users", query_string={"limit": limit}, headers=bearer("acme"))
    assert response.status_code == 400 and response.json["error"]["field"] == "limit"


@pytest.mark.parametrize("args, field", [
    ({"to": "0001-01-03T00:00:00Z"}, "to"),  # the default window would start before year 1
    ({"from": "0001-01-01T00:00:00+01:00"}, "from"),  # in UTC, before year 1
    ({"to": "9999-12-31T23:00:00-05:00"}, "to"),  # in UTC, after year 9999
])
def test_window_bounds_beyond_the_calendar_are_400(client, args, field):
    response = client.get(f"{ACME}/users", query_string=args, headers=bearer("acme"))
    assert response.status_code == 400 and response.json["error"]["field"] == field


def test_a_nul_in_a_filter_is_400(client):
    flt = [{"type": "user_property", "property": "plan", "op": "equals", "value": "a\x00b"}]
    response = client.get(f"{ACME}/users", query_string={"filter": orjson.dumps(flt)}, headers=bearer("acme"))
    assert response.status_code == 400 and response.json["error"]["field"] == "filter"
    assert "[0].value" in response.json["error"]["message"]


def test_a_nul_in_a_path_or_a_query_argument_is_refused(client):
    assert client.get(f"{ACME}/events/a%00b", headers=bearer("acme")).status_code == 404
    response = client.get(f"{ACME}/users", query_string={"cursor": "a\x00"}, headers=bearer("acme"))
    assert response.status_code == 400 and response.json["error"]["field"] == "cursor"


def test_a_nul_in_a_login_email_is_400_naming_it(client):
    response = client.post("/auth/login", json={"email": "ad\x00min@example.com", "password": ADMIN[1]})
    assert response.status_code == 400 and response.json["error"]["field"] == "email"


def test_control_plane_names_over_200_characters_are_400(client):
    csrf = login(client)
    headers = {"X-CSRF-Token": csrf}
    env = client.post("/api/v1/environments", json={"id": "longname", "name": "n" * 201}, headers=headers)
    assert env.status_code == 400 and env.json["error"]["field"] == "name"
    assert client.post("/api/v1/environments", json={"id": "longname", "name": "n" * 200},
                       headers=headers).status_code == 201
    token = client.post(f"{ACME}/tokens", json={"name": "t" * 201}, headers=headers)
    assert token.status_code == 400 and "name" in str(token.json["error"])
