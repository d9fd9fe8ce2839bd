"""API tokens: listed with name, creator, expiry and last use; revoked; expired; never shown twice."""
from __future__ import annotations

from sqlalchemy import text

from gateway import accounts
from tests.gateway.conftest import TOKENS, VIEWER, bearer, login

BASE = "/api/v1/environments/acme/tokens"


def test_tokens_are_listed_revoked_and_refused_at_once(client, control_plane):
    """The attack: a leaked API token could not be listed, revoked or made to expire."""
    csrf = login(client)
    created = client.post(BASE, json={"name": "ci deploys", "expires_in_days": 30},
                          headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    secret, token_id = created.json["token"], created.json["id"]
    assert created.json["expires_at"] and created.json["created_by"] == "admin@example.com"
    feed = client.get("/api/v1/environments/acme/users", headers={"Authorization": f"Bearer {secret}"})
    assert feed.status_code == 200

    listed = client.get(BASE).json["tokens"]
    mine = next(t for t in listed if t["id"] == token_id)
    assert mine["name"] == "ci deploys" and mine["last_used_at"] and mine["revoked_at"] is None
    assert secret not in str(listed) and "token_hash" not in mine
    assert {t["name"] for t in listed} == {"ci deploys", "test"}  # acme's own tokens only

    assert client.delete(f"{BASE}/{token_id}").status_code == 403  # a cookie write needs its CSRF token
    revoked = client.delete(f"{BASE}/{token_id}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    refused = client.get("/api/v1/environments/acme/users", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    again = client.delete(f"{BASE}/{token_id}", headers={"X-CSRF-Token": csrf})
    assert again.json["revoked_at"] == revoked.json["revoked_at"]  # idempotent


def test_an_expired_token_is_refused(client, gateway_engine):
    csrf = login(client)
    created = client.post(BASE, json={"name": "short-lived", "expires_in_days": 1},
                          headers={"X-CSRF-Token": csrf}).json
    with gateway_engine.begin() as conn:
        conn.execute(text("update gateway.api_tokens set expires_at = now() - interval '1 second' where id = :id"),
                     {"id": created["id"]})
    accounts._token_cache.clear()  # what TOKEN_CACHE_S seconds do
    response = client.get("/api/v1/environments/acme/users", headers={"Authorization": f"Bearer {created['token']}"})
    assert response.status_code == 401


def test_tokens_of_another_environment_cannot_be_seen_or_revoked(client):
    csrf = login(client, VIEWER)  # a viewer of acme only
    globex_ids = [t["id"] for t in accounts.list_api_tokens("globex")]
    assert client.get("/api/v1/environments/globex/tokens").status_code == 403
    assert client.delete(f"{BASE}/{globex_ids[0]}", headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.get("/api/v1/environments/globex/users", headers=bearer("globex")).status_code == 200


def test_tokens_cannot_list_or_revoke_tokens(client):
    assert client.get(BASE, headers=bearer("acme")).status_code == 403
    token_id = accounts.list_api_tokens("acme")[0]["id"]
    assert client.delete(f"{BASE}/{token_id}", headers=bearer("acme")).status_code == 403


def test_last_use_is_written_at_most_once_a_minute(client, gateway_engine):
    def last_used():
        with gateway_engine.connect() as conn:
            return conn.scalar(text("select last_used_at from gateway.api_tokens"
                                    " where name = 'test' and env_id = 'acme'"))

    assert last_used() is None
    client.get("/api/v1/environments/acme/users", headers=bearer("acme"))
    first = last_used()
    accounts._token_cache.clear()
    client.get("/api/v1/environments/acme/users", headers=bearer("acme"))
    assert first is not None and last_used() == first


def test_bad_token_requests_are_400s_naming_the_field(client):
    csrf = login(client)
    for body, field in (({"expires_in_days": 0}, "expires_in_days"), ({"name": "x" * 201}, "name"),
                        ({"nmae": "typo"}, "nmae")):
        response = client.post(BASE, json=body, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 400 and response.json["error"]["errors"][0]["field"] == field
    assert TOKENS["acme"] not in str(client.get(BASE).json)


def test_a_token_id_past_bigint_names_no_token(client):
    """Found by schemathesis: a 30-digit id reached PostgreSQL as a bigint parameter (500)."""
    csrf = login(client)
    for token_id in ("9223372036854775808", "999999999999999999999999999999"):
        assert client.delete(f"{BASE}/{token_id}", headers={"X-CSRF-Token": csrf}).status_code == 404
