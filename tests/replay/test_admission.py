"""Trial admission against the real PostgreSQL: idempotent, exact under races, closed on day 15."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.replay.store import TrialStore, replay_admissions

THREADS = 12  # within the engine's pool (5 + 10 overflow)


def counted(engine, env_id):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(replay_admissions).where(
            replay_admissions.c.env_id == env_id, replay_admissions.c.counted))


def race(store, env_id, sessions):
    """Every session asks (several times, from many threads at once); the admitted ones."""
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda s: (s, store.admit(env_id, s, f"dev-{s}")), sessions))
    return {session for session, answer in answers if answer.allowed}


def test_the_same_session_asking_again_is_not_counted_twice(trial_store):
    first = trial_store.admit("env-a", "s1", "d1")
    again = trial_store.admit("env-a", "s1", "d1")
    assert first.allowed and first.counts and again.allowed and not again.counts
    state = trial_store.state("env-a")
    assert state.trial_used == 1 and state.trial_started_at == trial_store.clock()


def test_raced_admissions_admit_exactly_the_limit(trial_tables, clock):
    store = TrialStore(trial_tables, clock=clock, trial_limit=150)
    # 400 distinct sessions, each asking twice, shuffled so repeats race with first asks.
    sessions = [f"s{i}" for i in range(400)] * 2
    sessions = sessions[::2] + sessions[1::2][::-1]
    admitted = race(store, "env-race", sessions)
    assert len(admitted) == 150
    assert store.state("env-race").trial_used == 150 == counted(trial_tables, "env-race")


@pytest.mark.slow
def test_the_real_ten_thousand_boundary_raced_by_threads(trial_tables, clock):
    store = TrialStore(trial_tables, clock=clock)  # the real limit: 10,000
    admitted = race(store, "env-10k", [f"s{i}" for i in range(10_050)])
    assert len(admitted) == 10_000
    assert store.state("env-10k").trial_used == 10_000 == counted(trial_tables, "env-10k")
    assert not store.admit("env-10k", "one-more", "d").allowed


def test_the_fourteen_day_boundary_with_the_injected_clock(trial_store, clock):
    started = clock.now
    assert trial_store.admit("env-days", "day1", "d").allowed
    clock.now = started + timedelta(days=14) - timedelta(seconds=1)
    assert trial_store.admit("env-days", "day14", "d").allowed
    clock.now = started + timedelta(days=14)
    refused = trial_store.admit("env-days", "day15", "d")
    assert (refused.allowed, refused.reason) == (False, "trial_expired")
    assert trial_store.admit("env-days", "day1", "d").allowed, "already admitted sessions go on"
    assert trial_store.state("env-days").trial_used == 2


def test_paid_reopens_recording_and_off_closes_it(trial_store, clock):
    trial_store.set_plan("env-plan", "trial", trial_limit=1)
    assert trial_store.admit("env-plan", "a", "d").allowed
    assert not trial_store.admit("env-plan", "b", "d").allowed
    trial_store.set_plan("env-plan", "paid")
    assert trial_store.admit("env-plan", "b", "d").allowed
    assert trial_store.state("env-plan").trial_used == 1, "paid sessions use no trial slot"
    trial_store.set_plan("env-plan", "off")
    assert not trial_store.admit("env-plan", "a", "d").allowed
    assert not trial_store.admit("env-plan", "c", "d").allowed
