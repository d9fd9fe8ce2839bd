"""The pure trial rules: 14 days or 10,000 sessions, whichever first; idempotent per session."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.replay import trial
from gateway.replay.trial import TrialState

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_the_first_admitted_session_starts_the_trial():
    state = TrialState()
    decision = trial.admit(state, T0, already_admitted=False)
    assert (decision.allowed, decision.counts, decision.reason) == (True, True, "trial_not_started")
    after = trial.after_admission(state, decision, T0)
    assert after.trial_started_at == T0 and after.trial_used == 1
    assert after.trial_ends_at == T0 + timedelta(days=14)


def test_the_trial_ends_exactly_fourteen_days_after_it_started():
    state = TrialState(trial_started_at=T0, trial_used=5)
    last_moment = T0 + timedelta(days=14) - timedelta(microseconds=1)
    assert trial.admit(state, last_moment, already_admitted=False).allowed
    ended = trial.admit(state, T0 + timedelta(days=14), already_admitted=False)
    assert (ended.allowed, ended.reason) == (False, "trial_expired")
    assert ended.message == "trial ended — contact sales to keep recording"
    assert trial.sessions_left(state, T0 + timedelta(days=14)) == 0
    assert trial.sessions_left(state, last_moment) == trial.TRIAL_SESSIONS - 5


def test_the_trial_ends_at_ten_thousand_sessions_before_fourteen_days():
    state = TrialState(trial_started_at=T0, trial_used=9_999)
    last = trial.admit(state, T0 + timedelta(days=1), already_admitted=False)
    assert last.allowed and last.counts
    full = trial.after_admission(state, last, T0 + timedelta(days=1))
    assert full.trial_used == 10_000 and full.trial_left == 0
    refused = trial.admit(full, T0 + timedelta(days=1), already_admitted=False)
    assert (refused.allowed, refused.reason) == (False, "trial_exhausted")


def test_a_session_asking_again_never_counts_and_keeps_recording_after_the_trial():
    state = TrialState(trial_started_at=T0, trial_used=10_000)
    again = trial.admit(state, T0 + timedelta(days=20), already_admitted=True)
    assert again.allowed and not again.counts
    assert trial.after_admission(state, again, T0) == state


def test_paid_records_everything_uncounted_and_off_records_nothing():
    over = TrialState(plan="paid", trial_started_at=T0, trial_used=10_000)
    paid = trial.admit(over, T0 + timedelta(days=100), already_admitted=False)
    assert (paid.allowed, paid.counts, paid.reason) == (True, False, "paid")
    off = TrialState(plan="off")
    assert not trial.admit(off, T0, already_admitted=False).allowed
    assert trial.admit(off, T0, already_admitted=True).reason == "off"


# A request: which session (small pool, so repeats happen) and how many hours after T0.
requests_strategy = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 24 * 20)), max_size=120)


@given(requests_strategy, st.integers(1, 25))
def test_any_request_sequence_respects_the_limit_the_days_and_idempotence(requests, limit):
    state, admitted, counted_at = TrialState(trial_limit=limit), set(), []
    for session, hours in sorted(requests, key=lambda r: r[1]):
        now = T0 + timedelta(hours=hours)
        decision = trial.admit(state, now, already_admitted=session in admitted)
        if decision.allowed and decision.counts:
            assert session not in admitted, "a session is counted at most once"
            assert state.trial_started_at is None or now < state.trial_started_at + timedelta(days=14)
            admitted.add(session)
            counted_at.append(now)
        if session in admitted:
            assert decision.allowed, "an admitted session may always ask again on a trial"
        state = trial.after_admission(state, decision, now)
    assert state.trial_used == len(admitted) == len(counted_at) <= limit
    assert state.trial_started_at == (counted_at[0] if counted_at else None)
    assert all(at < counted_at[0] + timedelta(days=14) for at in counted_at)
