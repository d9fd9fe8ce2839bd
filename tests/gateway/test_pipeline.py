"""The gateway's pipeline views over the real identity service and Redis: the lag behind ingest and
the ingestion page (warnings per kind with examples, bot traffic dropped per reason, rate limits)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from footfall.pipeline_lag import Marks
from gateway.app import create_app
from services.identity.store import make_identity_engine
from tests.gateway.conftest import bearer

ACME = "/api/v1/environments/acme"


@pytest.fixture
def client(control_plane, standins, real_identity):
    engine = make_identity_engine(control_plane)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("delete from warnings where env_id = 'acme'"))
        for i, kind in enumerate(["identity_refused", "dead_lettered", "identity_refused"]):
            conn.execute(text("insert into warnings (env_id, key, kind, message, subject, details, occurred_at) "
                              "values ('acme', :key, :kind, :message, null, '{}', :at)"),
                         {"key": f"k{i}", "kind": kind, "message": f"{kind} number {i}", "at": now})
    engine.dispose()
    settings = control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                   identity_url=real_identity, replay_url=standins["sessions"])
    return create_app(settings).test_client()


def test_the_ingestion_page_counts_warnings_bots_and_rate_limits(client, redis_client):
    day = datetime.now(UTC).date().isoformat()
    redis_client.hset("footfall:bot_traffic:acme", mapping={f"{day}:crawler": 7, f"{day}:headless": 2,
                                                            "2001-01-01:crawler": 99})
    redis_client.hset("footfall:bot_dropped:acme", mapping={f"{day}:crawler": 5})
    redis_client.hset("footfall:ingest:rate_limited:acme", mapping={day: 300})
    body = client.get(f"{ACME}/ingestion", headers=bearer("acme"))
    assert body.status_code == 200, body.json
    page = body.json
    kinds = {k["kind"]: k for k in page["warnings"]["kinds"]}
    assert (kinds["identity_refused"]["count"], kinds["dead_lettered"]["count"]) == (2, 1)
    assert [e["message"] for e in kinds["identity_refused"]["examples"]] == [
        "identity_refused number 2", "identity_refused number 0"]
    assert page["bots"]["flagged"] == {"crawler": 7, "headless": 2}  # the old day is out of the window
    assert page["bots"]["dropped"] == {"crawler": 5} and page["bots"]["action"] in ("drop", "keep")
    assert page["rate_limited"] == {"events": 300, "by_day": {day: 300}}
    assert page["pipeline"]["status"] == "live"
    # The raw list answers too (it once named helpers that did not exist: a 500).
    listed = client.get(f"{ACME}/warnings?limit=2", headers=bearer("acme"))
    assert listed.status_code == 200 and len(listed.json["warnings"]) == 2
    assert client.get(f"{ACME}/warnings?limit=0", headers=bearer("acme")).json["error"]["field"] == "limit"
    assert client.get("/api/v1/environments/globex/ingestion", headers=bearer("acme")).status_code == 403


def test_the_pipeline_says_how_far_behind_the_feed_is(client, redis_client):
    assert client.get(f"{ACME}/pipeline", headers=bearer("acme")).json["status"] == "live"
    marks = Marks(redis_client)
    marks.accepted("acme", time.time() - 42)
    lag = client.get(f"{ACME}/pipeline", headers=bearer("acme")).json
    assert lag["status"] == "behind" and 41 <= lag["behind_s"] < 60 and lag["pending_since"]
    marks.stored({"acme": time.time()})
    lag = client.get(f"{ACME}/pipeline", headers=bearer("acme")).json
    assert (lag["status"], lag["behind_s"]) == ("live", 0.0) and lag["last_stored"]
