"""One person's data through the real stack: export them (JSON and a zip of CSV), delete them with
the public API, follow the deletion to `done`, then send their events again (an SDK's offline queue)
and redeliver an old message: they stay deleted. And the environment's data settings."""
from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import orjson
import pytest
import requests

from footfall import bus
from tests.stack import stack_settings
from tests.support import wait_until

pytestmark = [pytest.mark.slow]
IDENTITY = "rosa@privacy.example"


def _api(stack, path: str) -> str:
    return f"{stack.url('gateway')}/api/v1/environments/{stack.env_id}{path}"


def _send(stack, at: datetime):
    import segment.analytics as analytics

    client = analytics.Client(write_key=stack.write_key, host=stack.url("ingest"), sync_mode=True)
    client.identify(IDENTITY, {"plan": "pro"}, anonymous_id="anon-rosa", message_id="rosa-identify-1", timestamp=at)
    client.page(IDENTITY, name="Home", properties={"url": "http://shop.example/"}, anonymous_id="anon-rosa",
                message_id="rosa-page-1", timestamp=at)
    client.track(IDENTITY, "Ordered", {"total": 12}, anonymous_id="anon-rosa", message_id="rosa-track-1",
                 timestamp=at)
    client.flush()


def _resend_with_a_witness(stack, at: datetime, witness: str) -> None:
    """What an SDK's offline queue sends again: the same messages, dated when they were made; with
    them, in the same batch (one message on the bus, one transaction per consumer), an event of
    another user, so once the witness is in the feed the resent events were screened too."""
    stamp = at.isoformat(timespec="milliseconds")
    batch = [{"type": "identify", "userId": IDENTITY, "anonymousId": "anon-rosa", "traits": {"plan": "pro"},
              "messageId": "rosa-identify-1", "timestamp": stamp},
             {"type": "page", "userId": IDENTITY, "anonymousId": "anon-rosa", "name": "Home",
              "properties": {"url": "http://shop.example/"}, "messageId": "rosa-page-1", "timestamp": stamp},
             {"type": "track", "userId": IDENTITY, "anonymousId": "anon-rosa", "event": "Ordered",
              "properties": {"total": 12}, "messageId": "rosa-track-1", "timestamp": stamp},
             {"type": "track", "userId": witness, "event": "Witnessed", "messageId": f"{witness}-1"}]
    answer = requests.post(f"{stack.url('ingest')}/v1/batch", json={"batch": batch},
                           auth=(stack.write_key, ""), timeout=10)
    assert answer.status_code == 200, answer.text


def test_export_then_delete_and_nothing_comes_back(stack):
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    sent_at = datetime.now(UTC)
    _send(stack, sent_at)

    def rosa():
        users = requests.get(_api(stack, "/users"), headers=headers, timeout=5).json().get("users", [])
        return next((u for u in users if u["identity"] == IDENTITY and u["sessions"]), None)

    user = wait_until(rosa, timeout=30, message="rosa in the feed")
    exported = requests.get(_api(stack, f"/users/{user['user_id']}/export"), headers=headers, timeout=10)
    assert exported.status_code == 200
    document = orjson.loads(exported.content)
    assert document["user"]["identity"] == IDENTITY and document["user"]["properties"]["plan"] == "pro"
    assert {e["event_id"] for e in document["events"]} >= {"rosa-page-1", "rosa-track-1"}
    assert document["sessions"] and document["devices"]
    archive = zipfile.ZipFile(io.BytesIO(requests.get(_api(stack, f"/users/{user['user_id']}/export?format=zip"),
                                                      headers=headers, timeout=10).content))
    assert {"user.csv", "events.csv", "sessions.csv", "devices.csv", "replays.csv"} <= set(archive.namelist())
    assert "rosa-track-1" in archive.read("events.csv").decode()

    answer = requests.post(_api(stack, "/deletions"), json={"users": [{"identity": IDENTITY}]},
                           headers={**headers, "Idempotency-Key": "rosa-1"}, timeout=10)
    assert answer.status_code == 202, answer.text
    deletion_id = answer.json()["deletion_id"]
    again = requests.post(_api(stack, "/deletions"), json={"users": [{"identity": IDENTITY}]},
                          headers={**headers, "Idempotency-Key": "rosa-1"}, timeout=10)
    assert again.json()["deletion_id"] == deletion_id  # the same request, the same deletion

    def done():
        job = requests.get(_api(stack, f"/deletions/{deletion_id}"), headers=headers, timeout=10).json()
        return job if job["status"] == "done" else None

    job = wait_until(done, timeout=30, message="the deletion done in every service")
    assert job["services"]["sessions"]["counts"]["events"] >= 2
    assert job["services"]["identity"]["counts"]["members"] >= 2
    assert requests.get(_api(stack, f"/users/{user['user_id']}"), headers=headers, timeout=5).status_code == 404

    # The broker redelivers an old message; the SDK's offline queue sends the same events again.
    settings = stack_settings()
    connection, channel = bus.open_channel(settings)
    try:
        body = orjson.dumps({"schema_version": 1, "message_id": "redelivered-1", "env_id": stack.env_id,
                             "events": [{k: v for k, v in e.items() if k != "bot"} for e in document["events"]]})
        channel.basic_publish(bus.EXCHANGE, "event.captured", body,
                              bus._properties("redelivered-1", "event.captured"))
    finally:
        connection.close()
    _resend_with_a_witness(stack, sent_at, "witness-1@privacy.example")

    def witnessed():
        users = requests.get(_api(stack, "/users"), headers=headers, timeout=5).json().get("users", [])
        return any(u["identity"] == "witness-1@privacy.example" and u["sessions"] for u in users)

    wait_until(witnessed, timeout=30, message="the witness sent with the resent events in the feed")
    wait_until(lambda: not any(v for k, v in bus.queue_depths(settings).items()), timeout=30,
               message="the queues drained")
    assert rosa() is None
    assert requests.get(_api(stack, f"/users/{user['user_id']}"), headers=headers, timeout=5).status_code == 404
    audit = requests.get(_api(stack, "/deletions"), headers=headers, timeout=10).json()["deletions"]
    assert audit[0]["deletion_id"] == deletion_id and IDENTITY not in orjson.dumps(audit).decode()


def test_data_settings_are_shown_and_validated(stack):
    session = requests.Session()
    login = session.post(f"{stack.url('gateway')}/auth/login",
                         json={"email": stack.admin_email, "password": stack.admin_password}, timeout=5)
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    current = session.get(_api(stack, "/settings"), timeout=5).json()
    assert current["bot_traffic"] == "keep"  # the bootstrap (demo) environment keeps headless visitors
    bad = session.put(_api(stack, "/settings"), json={"excluded_ip_ranges": ["10.0.0.0/8", "nope"]},
                      headers=csrf, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "excluded_ip_ranges[1]"
    saved = session.put(_api(stack, "/settings"), json={"events_retention_days": 90,
                                                       "excluded_ip_ranges": ["10.0.0.0/8"]},
                        headers=csrf, timeout=5).json()
    assert saved["events_retention_days"] == 90 and saved["bot_traffic"] == "keep"
    session.put(_api(stack, "/settings"), json={"events_retention_days": None, "excluded_ip_ranges": []},
                headers=csrf, timeout=5)
