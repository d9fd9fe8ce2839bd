"""The replay plan and its free trial, as pure rules (no I/O).

Plans: `trial` (the default), `paid` (unlimited) and `off` (no recording). The trial starts at the
first admitted session and ends after 14 days or 10,000 sessions, whichever comes first. After it
no new session is admitted; a session admitted earlier may ask again (its token expired) and keeps
recording, because it was already counted and is not a new replay. Recordings already made stay
playable until retention either way: playback is not this module's concern.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Plan = Literal["trial", "paid", "off"]
PLANS: tuple[Plan, ...] = ("trial", "paid", "off")
TRIAL_DAYS = 14
TRIAL_SESSIONS = 10_000

# Reason codes the API and UI show; the messages are what a person reads.
MESSAGES = {
    "paid": "recording: paid plan",
    "trial": "recording: free trial",
    "trial_not_started": "recording: the free trial starts with the first recorded session",
    "trial_expired": "trial ended — contact sales to keep recording",
    "trial_exhausted": "trial ended — contact sales to keep recording",
    "off": "session replay is off for this environment",
    "other_device": "this session was started by another device; start a new session to record",
}


@dataclass(frozen=True)
class TrialState:
    """One environment's plan and trial counters, as stored."""

    plan: Plan = "trial"
    trial_started_at: datetime | None = None
    trial_used: int = 0
    trial_limit: int = TRIAL_SESSIONS
    trial_days: int = TRIAL_DAYS

    @property
    def trial_ends_at(self) -> datetime | None:
        """When the trial's 14 days run out (None until it starts)."""
        if self.trial_started_at is None:
            return None
        return self.trial_started_at + timedelta(days=self.trial_days)

    @property
    def trial_left(self) -> int:
        return max(self.trial_limit - self.trial_used, 0)


@dataclass(frozen=True)
class Admission:
    """The answer for a session asking to record: allowed or not, why, and whether it uses a slot."""

    allowed: bool
    reason: str
    counts: bool = False  # True when admitting it uses one of the trial's sessions

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


def recording_status(state: TrialState, now: datetime) -> Admission:
    """May a new session be recorded now? (`counts` says whether it would use a trial slot.)"""
    if state.plan == "off":
        return Admission(False, "off")
    if state.plan == "paid":
        return Admission(True, "paid")
    if state.trial_used >= state.trial_limit:
        return Admission(False, "trial_exhausted")
    if state.trial_started_at is None:
        return Admission(True, "trial_not_started", counts=True)
    if now >= state.trial_ends_at:
        return Admission(False, "trial_expired")
    return Admission(True, "trial", counts=True)


def sessions_left(state: TrialState, now: datetime) -> int:
    """Trial sessions still available: none once the 14 days are over, whatever the count."""
    if state.trial_ends_at is not None and now >= state.trial_ends_at:
        return 0
    return state.trial_left


def admit(state: TrialState, now: datetime, already_admitted: bool) -> Admission:
    """The decision for one session: an admitted session asking again never counts twice."""
    if already_admitted and state.plan != "off":
        return Admission(True, state.plan if state.plan == "paid" else "trial")
    return recording_status(state, now)


def after_admission(state: TrialState, admission: Admission, now: datetime) -> TrialState:
    """The state once `admission` is granted: the trial starts at its first counted session."""
    if not (admission.allowed and admission.counts):
        return state
    return replace(state, trial_started_at=state.trial_started_at or now, trial_used=state.trial_used + 1)
