"""The fault suite: the whole stack under a steady realistic load, through each fault in turn.

Every process of the Procfile runs under footfall.supervise (as `make run` runs them) against a
private RabbitMQ node and a private Redis (tests/faults/servers.py), so breaking them disturbs no one.
After each fault: every accepted event is in the feed exactly once, sessions and owners equal the
oracle computed from what was sent, nothing is dead-lettered, every process is up and ready.
The faults run in one order on one stack: each also proves the stack came back from the ones before.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.faults import harness

pytestmark = pytest.mark.slow

STEADY_S = 2  # load before and after each fault


@pytest.fixture(scope="module")
def load(faults):
    running = harness.Load(faults).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def engine(faults):
    engine = faults.engine()
    yield engine
    engine.dispose()


def through(fault, faults, load, engine) -> tuple[dict, dict]:
    """Run `fault` under load; the fault's observations and the settled report."""
    load.resume()
    time.sleep(STEADY_S)
    observed = fault()
    time.sleep(STEADY_S)
    report = harness.settle(faults, load, engine)
    assert report["problems"] == [], report
    assert report["dead letters"] == {}, report
    assert report["down"] == [], report
    assert report["unexpected deaths"] == {}, report  # an outage kills no process (its supervisor tells)
    assert report["refused"] == [], report
    return observed, report


def test_steady_load_alone_is_stored_exactly(faults, load, engine):
    _, report = through(dict, faults, load, engine)
    assert report["events accepted"] > 0


def test_the_broker_stops_and_starts(faults, load, engine):
    _, report = through(lambda: harness.broker_restart(faults), faults, load, engine)
    assert report["requests answered 503 or unreachable"] > 0, "the outage was felt (ingest said 503)"


def test_every_database_connection_is_cut(faults, load, engine):
    observed, _ = through(lambda: harness.database_connections_cut(faults), faults, load, engine)
    assert observed["connections cut"] > 0


def test_each_consumer_is_killed_mid_batch_and_started_again(faults, load, engine):
    observed, _ = through(lambda: harness.consumers_killed(faults), faults, load, engine)
    assert observed["restarted"] == sorted(harness.CONSUMERS)


def test_redis_goes_down_and_comes_back_empty(faults, load, engine):
    observed, _ = through(lambda: harness.redis_down(faults, load), faults, load, engine)
    assert observed["key in use while down"] == 200  # ingest's cache serves it; the rate limit fails open
    assert observed["unseen key while down"][0] == 503 and observed["unseen key while down"][1]
    assert observed["unseen key retried after restart"] == 200  # the gateway put the keys back
    assert observed["keys back after s"] < 25


def test_s3_goes_down_under_replay_uploads(faults, load, engine):
    before = load.ledger.counts()["replay chunks accepted"]
    _, report = through(lambda: harness.s3_down(faults), faults, load, engine)
    assert report["replay chunks accepted"] > before


def test_the_counts(faults, load, engine, capsys):
    report = harness.settle(faults, load, engine)
    assert report["problems"] == [] and report["dead letters"] == {}
    with engine.connect() as conn:
        stored = conn.execute(text("select count(*) from events where env_id = any(:envs)"),
                              {"envs": faults.envs}).scalar()
    assert stored == report["events accepted"]
    with capsys.disabled():
        print(f"\nfault suite: {report['events sent']} events sent, {report['events accepted']} accepted, "
              f"{stored} stored, {report['duplicates ignored']} duplicates ignored, "
              f"{sum(report['dead letters'].values())} dead-lettered; "
              f"{report['requests answered 503 or unreachable']} requests answered 503 or unreachable; "
              f"{report['replay chunks accepted']} replay chunks accepted, all stored")
