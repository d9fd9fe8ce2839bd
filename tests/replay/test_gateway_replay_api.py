"""The gateway's replay routes: admission with the trial, status, the admin plan, playback over HTTP."""
import uuid
from datetime import timedelta

import orjson

from footfall.replay_token import verify_recording_token
from gateway import accounts
from tests.replay.helpers import bearer, chunk_body, rrweb_events

START = "/replay/v1/start"


def start(client, environment, session_id="sess-1", device_id="dev-1"):
    return client.post(START, json={"write_key": environment["write_key"], "session_id": session_id,
                                    "device_id": device_id})


def status(client, environment):
    response = client.get(f"/api/v1/environments/{environment['id']}/replay/status",
                          headers=bearer(environment["api_token"]))
    assert response.status_code == 200
    return response.json


def admin_session(settings):
    """Cookie and CSRF token of a logged-in admin account."""
    account_id = accounts.create_account(f"admin-{uuid.uuid4().hex[:8]}@footfall.test", "admin-password",
                                         is_admin=True, settings=settings)
    cookie, csrf = accounts.open_session(account_id, settings)
    return cookie, csrf


def test_an_admitted_session_gets_a_token_the_replay_service_accepts(gateway_app, environment, clock):
    response = start(gateway_app.test_client(), environment)
    assert response.status_code == 200
    body = response.json
    grant = verify_recording_token(gateway_app.config["SETTINGS"].replay_token_secret, body["token"],
                                   clock.now)
    assert (grant.env_id, grant.session_id, grant.device_id) == (environment["id"], "sess-1", "dev-1")
    assert body["upload_url"].endswith("/replay/v1/chunks")
    assert grant.expires_at - clock.now <= timedelta(minutes=15)


def test_the_sdk_may_start_with_a_text_plain_body_cross_origin(gateway_app, environment):
    client = gateway_app.test_client()
    body = orjson.dumps({"write_key": environment["write_key"], "session_id": "s", "device_id": "d"})
    response = client.post(START, data=body, headers={"Content-Type": "text/plain",
                                                      "Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example")


def test_unknown_keys_are_401_and_bad_bodies_400_naming_the_field(gateway_app, environment):
    client = gateway_app.test_client()
    unknown = client.post(START, json={"write_key": "nope", "session_id": "s", "device_id": "d"})
    assert unknown.status_code == 401 and unknown.json["error"]["field"] == "write_key"
    bad = client.post(START, json={"write_key": environment["write_key"], "session_id": "a/b c",
                                   "device_id": "d"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json["error"]["errors"]] == ["session_id"]
    assert client.post(START, data="not json").status_code == 400


def test_after_the_trial_a_new_session_gets_402_and_the_status_says_so(gateway_app, environment, clock):
    client = gateway_app.test_client()
    assert start(client, environment, "first").status_code == 200
    clock.advance(timedelta(days=14))
    refused = start(client, environment, "late")
    assert refused.status_code == 402
    assert refused.json["error"]["message"] == "trial ended — contact sales to keep recording"
    assert refused.json["error"]["reason"] == "trial_expired"
    assert start(client, environment, "first").status_code == 200, "a counted session renews its token"
    now = status(client, environment)
    assert now["recording_allowed"] is False and now["state"] == "contact_sales"
    assert (now["plan"], now["sessions_used"], now["sessions_left"]) == ("trial", 1, 0)
    assert now["trial_ends_at"] is not None and now["trial_started_at"] is not None


def test_status_before_and_during_the_trial(gateway_app, environment):
    client = gateway_app.test_client()
    before = status(client, environment)
    assert (before["reason"], before["sessions_used"], before["sessions_left"]) == (
        "trial_not_started", 0, 10_000)
    assert before["trial_started_at"] is None and before["recording_allowed"]
    start(client, environment, "a")
    start(client, environment, "a")
    during = status(client, environment)
    assert (during["reason"], during["sessions_used"], during["sessions_left"]) == ("trial", 1, 9_999)


def test_only_an_admin_sets_the_plan_and_paid_reopens_recording(gateway_app, environment, settings, clock):
    client = gateway_app.test_client()
    start(client, environment, "first")
    clock.advance(timedelta(days=15))
    assert start(client, environment, "new").status_code == 402
    plan_url = f"/api/v1/environments/{environment['id']}/replay/plan"
    by_token = client.put(plan_url, json={"plan": "paid"}, headers=bearer(environment["api_token"]))
    assert by_token.status_code == 403
    cookie, csrf = admin_session(settings)
    client.set_cookie("ff_session", cookie)
    assert client.put(plan_url, json={"plan": "gold"}, headers={"X-CSRF-Token": csrf}).status_code == 400
    assert client.put(plan_url, json={"plan": "paid"}).status_code == 403, "CSRF token required"
    paid = client.put(plan_url, json={"plan": "paid"}, headers={"X-CSRF-Token": csrf})
    assert paid.status_code == 200 and paid.json["recording_allowed"] and paid.json["plan"] == "paid"
    assert start(client, environment, "new").status_code == 200
    off = client.put(plan_url, json={"plan": "off"}, headers={"X-CSRF-Token": csrf})
    assert off.json["state"] == "off"
    assert start(client, environment, "newer").status_code == 403


def test_playback_through_the_gateway_in_order_and_only_for_readers(gateway_app, replay_app, environment):
    gateway = gateway_app.test_client()
    grant = start(gateway, environment, "watched").json
    uploader = replay_app.test_client()
    for seq in (1, 0):
        assert uploader.post(f"/replay/v1/chunks?seq={seq}", data=chunk_body(
            rrweb_events(seq, full_snapshot=seq == 0)), headers=bearer(grant["token"])).status_code == 201
    url = f"/api/v1/environments/{environment['id']}/replays/watched"
    manifest = gateway.get(url, headers=bearer(environment["api_token"]))
    assert manifest.status_code == 200
    assert [c["seq"] for c in manifest.json["chunks"]] == [0, 1]
    inline = gateway.get(url + "?inline=1", headers=bearer(environment["api_token"])).json
    assert [e["data"]["chunk"] for e in inline["events"]] == [0, 0, 0, 1, 1, 1]
    missing = gateway.get(url.replace("watched", "never"), headers=bearer(environment["api_token"]))
    assert missing.status_code == 404
    assert gateway.get(url).status_code == 401
    other = gateway.get(url.replace(environment["id"], "not-mine"), headers=bearer(environment["api_token"]))
    assert other.status_code == 403
