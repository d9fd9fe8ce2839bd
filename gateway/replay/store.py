"""Replay plans and trial admissions in PostgreSQL (schema `gateway`): the truth for the trial.

Admission is atomic and idempotent: a session is one row of `replay_admissions` (unique per
environment and session), and a session that uses a trial slot is counted while the environment's
`replay_plans` row is locked (SELECT … FOR UPDATE), so concurrent admissions of one environment
queue on that row and exactly `trial_limit` are ever counted; a CHECK constraint backs it up.
Answers that change nothing (a session asking again, a trial that is over, a paid plan) read
without taking the lock, so a busy environment after its trial does not queue on it.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from footfall.clock import utcnow
from gateway.replay import trial
from gateway.replay.trial import Admission, Plan, TrialState

metadata = MetaData(schema="gateway")

replay_plans = Table(
    "replay_plans", metadata,
    Column("env_id", String(64), primary_key=True),
    Column("plan", String(16), nullable=False, server_default="trial"),
    Column("trial_started_at", DateTime(timezone=True)),
    Column("trial_used", Integer, nullable=False, server_default="0"),
    Column("trial_limit", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("trial_used <= trial_limit", name="replay_plans_trial_within_limit"),
)

replay_admissions = Table(
    "replay_admissions", metadata,
    Column("env_id", String(64), primary_key=True),
    Column("session_id", String(128), primary_key=True),
    Column("device_id", String(256), nullable=False),
    Column("counted", Boolean, nullable=False),  # whether it used a trial slot
    Column("admitted_at", DateTime(timezone=True), nullable=False),
)


class TrialStore:
    """Plan, trial state and admissions of every environment; `clock` is injectable for tests."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow,
                 trial_limit: int = trial.TRIAL_SESSIONS):
        self.engine, self.clock, self.trial_limit = engine, clock, trial_limit

    def state(self, env_id: str) -> TrialState:
        with self.engine.connect() as conn:
            return self._read(conn, env_id)

    def admitted_device(self, env_id: str, session_id: str) -> str | None:
        """The device that started the session, or None when it was never admitted."""
        with self.engine.connect() as conn:
            return self._admitted_device(conn, env_id, session_id)

    def admit(self, env_id: str, session_id: str, device_id: str) -> Admission:
        """Admit one session to recording (or say why not); asking again never counts twice, and
        only the device that started a session may ask again."""
        now = self.clock()
        with self.engine.begin() as conn:
            started_by = self._admitted_device(conn, env_id, session_id)
            if started_by is not None and started_by != device_id:
                return Admission(False, "other_device")
            already = started_by is not None
            decision = trial.admit(self._read(conn, env_id), now, already)
            if decision.allowed and not decision.counts and not already:
                # A paid plan has no counter to guard: remember the session without the lock.
                self._remember(conn, env_id, session_id, device_id, counted=False, now=now)
            if not decision.counts:
                return decision
        return self._admit_counted(env_id, session_id, device_id, now)

    def _admit_counted(self, env_id: str, session_id: str, device_id: str, now: datetime) -> Admission:
        """Decide again and count, holding the environment's row lock: the only counting path."""
        with self.engine.begin() as conn:
            conn.execute(insert(replay_plans).values(env_id=env_id, trial_limit=self.trial_limit)
                         .on_conflict_do_nothing())
            state = self._read(conn, env_id, lock=True)
            started_by = self._admitted_device(conn, env_id, session_id)
            if started_by is not None and started_by != device_id:
                return Admission(False, "other_device")
            decision = trial.admit(state, now, started_by is not None)
            if decision.allowed:
                self._remember(conn, env_id, session_id, device_id, counted=decision.counts, now=now)
            if decision.counts:
                counted = trial.after_admission(state, decision, now)
                conn.execute(update(replay_plans).where(replay_plans.c.env_id == env_id).values(
                    trial_used=counted.trial_used, trial_started_at=counted.trial_started_at,
                    updated_at=now))
            return decision

    def set_plan(self, env_id: str, plan: Plan, trial_limit: int | None = None) -> TrialState:
        """Switch an environment's plan (trial counters are kept: switching back does not reset them)."""
        if plan not in trial.PLANS:
            raise ValueError(f"unknown plan {plan!r}")
        changes = {"plan": plan, "updated_at": self.clock()}
        if trial_limit is not None:
            changes["trial_limit"] = trial_limit
        with self.engine.begin() as conn:
            conn.execute(insert(replay_plans)
                         .values(env_id=env_id, trial_limit=trial_limit or self.trial_limit, plan=plan)
                         .on_conflict_do_update(index_elements=["env_id"], set_=changes))
            return self._read(conn, env_id)

    def _read(self, conn: Connection, env_id: str, lock: bool = False) -> TrialState:
        query = select(replay_plans).where(replay_plans.c.env_id == env_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        if row is None:
            return TrialState(trial_limit=self.trial_limit)
        return TrialState(plan=row["plan"], trial_started_at=row["trial_started_at"],
                          trial_used=row["trial_used"], trial_limit=row["trial_limit"])

    @staticmethod
    def _admitted_device(conn: Connection, env_id: str, session_id: str) -> str | None:
        return conn.scalar(select(replay_admissions.c.device_id).where(
            replay_admissions.c.env_id == env_id, replay_admissions.c.session_id == session_id))

    @staticmethod
    def _remember(conn: Connection, env_id: str, session_id: str, device_id: str, *, counted: bool,
                  now: datetime) -> None:
        conn.execute(insert(replay_admissions).values(
            env_id=env_id, session_id=session_id, device_id=device_id, counted=counted, admitted_at=now,
        ).on_conflict_do_nothing())
