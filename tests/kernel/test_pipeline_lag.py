"""The pipeline's lag marks on real Redis: ingest's accepted marks, the consumer's stored marks."""
from __future__ import annotations

import redis as redis_lib

from footfall.pipeline_lag import Marks, lag


def test_the_lag_is_the_age_of_the_oldest_event_not_yet_stored(redis_client):
    marks = Marks(redis_client)
    assert lag(redis_client, "a", 1000.0)["behind_s"] == 0.0  # nothing ever accepted
    marks.accepted("a", 100.0)
    marks.accepted("a", 130.0)  # the oldest pending stays the first one
    assert lag(redis_client, "a", 140.0) == {"behind_s": 40.0, "pending_since": 100.0,
                                             "last_accepted": 130.0, "last_stored": None}
    marks.stored({"a": 100.0})  # part stored: what waits was accepted after 100
    assert lag(redis_client, "a", 150.0)["behind_s"] == 50.0
    marks.accepted("b", 120.0)
    marks.stored({"a": 130.0})  # caught up; b still waits
    assert lag(redis_client, "a", 500.0)["behind_s"] == 0.0
    assert lag(redis_client, "a", 500.0)["last_stored"] == 130.0
    assert lag(redis_client, "b", 125.0)["behind_s"] == 5.0
    marks.stored({"a": 110.0})  # a late batch of older events does not move the stored mark back
    assert lag(redis_client, "a", 500.0)["last_stored"] == 130.0


def test_a_batch_stored_before_a_newer_acceptance_leaves_it_pending(redis_client):
    marks = Marks(redis_client)
    marks.accepted("a", 100.0)
    marks.accepted("a", 200.0)
    marks.stored({"a": 150.0})
    assert lag(redis_client, "a", 210.0)["pending_since"] == 150.0


def test_marks_are_skipped_for_a_while_after_redis_fails():
    now = [0.0]
    down = redis_lib.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2, socket_timeout=0.2)
    marks = Marks(down, clock=lambda: now[0])
    calls = []
    original = down.pipeline
    down.pipeline = lambda **kw: calls.append(1) or original(**kw)
    marks.accepted("a", 1.0)  # fails: logged, not raised
    marks.stored({"a": 1.0})
    assert len(calls) == 1
    now[0] = Marks.QUIET_S + 1
    marks.stored({"a": 1.0})
    assert len(calls) == 2
