"""Segments and CSV exports through the gateway, over the real sessions service and moto's S3
(tests/gateway/real_feed.py): save, list, count, rename, delete; export, follow, download."""
from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from gateway import feed_export
from gateway.feed_export import exports
from gateway.store import get_engine
from tests.gateway.conftest import bearer
from tests.gateway.real_feed import ENV, feed_app, people, s3_endpoint, sessions_served  # noqa: F401 (fixtures)

SEGMENTS = f"/api/v1/environments/{ENV}/segments"
EXPORTS = f"/api/v1/environments/{ENV}/exports"
PRO = [{"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}]


@pytest.fixture
def client(feed_app):
    return feed_app.test_client()


def test_segment_lifecycle_with_live_counts(client, people):
    auth = bearer(ENV)
    made = client.post(SEGMENTS, json={"name": "Pro users", "timeline": {"range": "30d"}, "filters": PRO},
                       headers=auth)
    assert made.status_code == 201, made.json
    segment = made.json
    assert segment["timeline"] == {"range": "30d"} and segment["filters"] == PRO
    assert client.get(f"{SEGMENTS}/{segment['id']}/count", headers=auth).json["count"] == 2  # ada, cleo
    week = client.post(SEGMENTS, json={"name": "pro this week", "filters": PRO}, headers=auth).json
    assert client.get(f"{SEGMENTS}/{week['id']}/count", headers=auth).json["count"] == 1  # ada only
    searched = client.post(SEGMENTS, json={"name": "Search", "timeline": {"range": "90d"}, "q": "X.TEST"},
                           headers=auth).json
    assert client.get(f"{SEGMENTS}/{searched['id']}/count", headers=auth).json["count"] == 2
    # Shared: another caller of the environment (the admin account) sees them, by name.
    listed = client.get(SEGMENTS, headers=auth).json["segments"]
    assert [s["name"] for s in listed] == ["pro this week", "Pro users", "Search"]  # by name, any case
    assert client.get("/api/v1/environments/globex/segments", headers=bearer("globex")).json["segments"] == []
    assert client.get(f"{SEGMENTS}/{segment['id']}", headers=bearer("globex")).status_code == 403

    renamed = client.patch(f"{SEGMENTS}/{segment['id']}", json={"name": "Paying"}, headers=auth)
    assert renamed.status_code == 200 and renamed.json["name"] == "Paying" and renamed.json["filters"] == PRO
    widened = client.patch(f"{SEGMENTS}/{week['id']}", json={"timeline": {"range": "30d"}}, headers=auth).json
    assert widened["filters"] == PRO and client.get(f"{SEGMENTS}/{week['id']}/count", headers=auth).json["count"] == 2
    taken = client.patch(f"{SEGMENTS}/{week['id']}", json={"name": "PAYING"}, headers=auth)
    assert taken.status_code == 409 and taken.json["error"]["field"] == "name"
    assert client.delete(f"{SEGMENTS}/{segment['id']}", headers=auth).status_code == 204
    assert client.get(f"{SEGMENTS}/{segment['id']}", headers=auth).status_code == 404
    assert client.delete(f"{SEGMENTS}/{segment['id']}", headers=auth).status_code == 404


def test_a_segment_with_event_filters_and_search_counts_through_the_feeds_count(client, people):
    """The count of the feed beside it (the filters planner), not a pass over every event: exact
    here, and saying so."""
    auth = bearer(ENV)
    view = {"timeline": {"range": "30d"}, "q": "X.TEST",
            "filters": [{"type": "did_event", "event": {"kind": "pageview"}}, *PRO]}
    made = client.post(SEGMENTS, json={"name": "Browsing pros", **view}, headers=auth).json
    counted = client.get(f"{SEGMENTS}/{made['id']}/count", headers=auth).json
    assert (counted["count"], counted["estimated"]) == (2, False)  # ada, cleo
    absent = {**view, "filters": [{"type": "did_not_event", "event": {"kind": "pageview"}}]}
    made = client.post(SEGMENTS, json={"name": "Never browsed", **absent}, headers=auth).json
    assert client.get(f"{SEGMENTS}/{made['id']}/count", headers=auth).json["count"] == 0


def test_a_time_filter_is_the_segments_window(client, people):
    today = datetime.now(UTC).date()
    seen = {"type": "seen", "from": (today - timedelta(days=11)).isoformat(),
            "to": (today - timedelta(days=9)).isoformat()}
    made = client.post(SEGMENTS, json={"name": "Back then", "filters": [seen]}, headers=bearer(ENV)).json
    counted = client.get(f"{SEGMENTS}/{made['id']}/count", headers=bearer(ENV)).json
    assert counted["count"] == 1 and counted["from"].startswith(seen["from"])


@pytest.mark.parametrize("payload, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
    ({"name": "a", "timeline": {"range": "2d"}}, "timeline.range"),
    ({"name": "a", "timeline": {"range": "custom", "from": "2024-01-02"}}, "timeline"),
    ({"name": "a", "zone": "Mars/Olympus"}, "zone"), ({"name": "a", "q": "x"}, "q"),
    ({"name": "a", "filters": [{"type": "user_property", "property": "plan", "op": "nope"}]}, "filters.0"),
    ({"name": "a", "filters": [{"type": "seen", "from": "2024-01-02"}]}, "filters.0"),
    ({"name": "a", "filters": "plan=pro"}, "filters"),
])
def test_bad_segments_are_400_naming_the_field(client, people, payload, field):
    response = client.post(SEGMENTS, json=payload, headers=bearer(ENV))
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"].startswith(field)


def wait_done(client, export_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"{EXPORTS}/{export_id}", headers=bearer(ENV)).json
        if job["status"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the export did not finish")


def test_export_a_view_then_download_it(client, people):
    started = client.post(EXPORTS, json={"timeline": {"range": "30d"}, "filters": PRO,
                                         "columns": ["user_id", "identity", "sessions"], "properties": ["age"]},
                          headers=bearer(ENV))
    assert started.status_code == 202, started.json
    assert started.json["rows_total"] == 2 and started.json["status"] in ("running", "done")
    job = wait_done(client, started.json["id"])
    assert job["status"] == "done" and job["rows_done"] == 2 and job["download_url"], job
    file = client.get(job["download_url"], headers=bearer(ENV))
    assert file.status_code == 200 and file.mimetype == "text/csv"
    assert "attachment" in file.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(file.get_data(as_text=True))))
    assert rows == [["user_id", "identity", "sessions", "age"], ["ada", "ada@x.test", "1", "36"],
                    ["cleo", "cleo@x.test", "1", ""]]
    assert [e["id"] for e in client.get(EXPORTS, headers=bearer(ENV)).json["exports"]] == [job["id"]]
    assert client.get(job["download_url"], headers=bearer("globex")).status_code == 403


def test_export_a_segment(client, people):
    segment = client.post(SEGMENTS, json={"name": "All", "timeline": {"range": "30d"}}, headers=bearer(ENV)).json
    job = wait_done(client, client.post(EXPORTS, json={"segment_id": segment["id"]}, headers=bearer(ENV)).json["id"])
    text_body = client.get(job["download_url"], headers=bearer(ENV)).get_data(as_text=True)
    assert text_body.splitlines()[0] == ",".join(feed_export.COLUMNS) and len(text_body.splitlines()) == 4


def test_export_refusals(client, people, monkeypatch):
    auth = bearer(ENV)
    assert client.post(EXPORTS, json={"columns": ["password"]}, headers=auth).json["error"]["field"] == "columns"
    assert client.post(EXPORTS, json={"properties": "age"}, headers=auth).json["error"]["field"] == "properties"
    assert client.post(EXPORTS, json={"segment_id": "nope"}, headers=auth).status_code == 404
    assert client.post(EXPORTS, json={"colour": 1}, headers=auth).json["error"]["field"] == "colour"
    monkeypatch.setattr(feed_export, "MAX_ROWS", 1)
    too_many = client.post(EXPORTS, json={"timeline": {"range": "30d"}}, headers=auth)
    assert too_many.status_code == 413 and too_many.json["error"]["count"] == 3
    assert client.get(f"{EXPORTS}/nope", headers=auth).status_code == 404


def test_a_job_whose_process_stopped_reads_as_failed(client, people):
    job = wait_done(client, client.post(EXPORTS, json={}, headers=bearer(ENV)).json["id"])
    with get_engine().begin() as conn:
        conn.execute(update(exports).where(exports.c.id == job["id"]).values(
            status="running", updated_at=datetime.now(UTC) - feed_export.STALE - timedelta(seconds=1)))
    stale = client.get(f"{EXPORTS}/{job['id']}", headers=bearer(ENV)).json
    assert stale["status"] == "failed" and "interrupted" in stale["error"] and stale["download_url"] is None
    assert client.get(f"{EXPORTS}/{job['id']}/download", headers=bearer(ENV)).status_code == 409
