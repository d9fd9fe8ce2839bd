"""A session's summary, computed at read time for the sessions a page shows.

Pages viewed, entry and exit page, active time, bounce and frustration counts come from the
session's events, read through the `events_session` index (env_id, session_id): one query per page
of sessions (the feed shows at most 5 per user, a user's list at most 100). Nothing is added to the
events path, whose cost per event is what ingestion pays.

- pages viewed: pageviews and screen views;
- entry / exit page: the path (or screen name) of the first / last of them;
- active time: the gaps between consecutive events of at most ACTIVE_GAP_S, summed: the SDK sends
  an event for every pageview, click, change and submit, so two of them that close together mean
  the person was there in between; a longer silence counts as idle;
- bounce: at most one page viewed and no interaction (click, change, submit, custom event or
  frustration signal);
- rage_clicks / dead_clicks: the SDK's frustration signals.
"""
from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

ACTIVE_GAP_S = 30

# Entry and exit pages by rank rather than array_agg: memory stays flat however many pages.
_SUMMARIES = text("""
    with e as (
        select session_id, kind, coalesce(page_path, name) as page,
               kind in ('pageview', 'screen') as is_page,
               extract(epoch from lead(time) over (partition by session_id order by time, event_id) - time) as gap,
               row_number() over (partition by session_id, kind in ('pageview', 'screen')
                                  order by time, event_id) as page_first,
               row_number() over (partition by session_id, kind in ('pageview', 'screen')
                                  order by time desc, event_id desc) as page_last
        from events
        where env_id = :env and session_id = any(cast(:ids as text[]))
    )
    select session_id,
           count(*) filter (where is_page) as pages_viewed,
           count(*) filter (where kind in ('click', 'change', 'submit', 'custom', 'rage_click', 'dead_click'))
               as interactions,
           count(*) filter (where kind = 'rage_click') as rage_clicks,
           count(*) filter (where kind = 'dead_click') as dead_clicks,
           coalesce(sum(gap) filter (where gap <= :gap), 0) as active_s,
           min(page) filter (where is_page and page_first = 1) as entry_page,
           min(page) filter (where is_page and page_last = 1) as exit_page
    from e group by session_id
""")
# A page of summaries is a few ms; a session of a bot's million events must not hold the page:
# past this the sessions are listed without summaries.
SUMMARY_BUDGET_MS = 1000
QUERY_CANCELED = "57014"

EMPTY = {"pages_viewed": 0, "active_s": 0.0, "bounce": True, "entry_page": None, "exit_page": None,
         "rage_clicks": 0, "dead_clicks": 0}


def summaries(conn: Connection, env_id: str, session_ids: list[str]) -> dict[str, dict]:
    """Each session's summary by id (a session without stored events gets EMPTY)."""
    found = {}
    if session_ids:
        for r in _rows(conn, env_id, session_ids):
            found[r.session_id] = {
                "pages_viewed": r.pages_viewed, "active_s": round(float(r.active_s), 3),
                "bounce": r.pages_viewed <= 1 and r.interactions == 0,
                "entry_page": r.entry_page, "exit_page": r.exit_page,
                "rage_clicks": r.rage_clicks, "dead_clicks": r.dead_clicks,
            }
    return {i: found.get(i, dict(EMPTY)) for i in session_ids}


def _rows(conn: Connection, env_id: str, session_ids: list[str]) -> list:
    params = {"env": env_id, "ids": sorted(set(session_ids)), "gap": ACTIVE_GAP_S}
    with conn.begin_nested():
        conn.execute(text(f"set local statement_timeout = {SUMMARY_BUDGET_MS}"))
        rows = conn.execute(_SUMMARIES, params).all()
    conn.execute(text("set local statement_timeout to default"))
    return rows


def with_summaries(conn: Connection, env_id: str, sessions: list[dict]) -> list[dict]:
    """The sessions, each with its `summary` (None when they took longer than the budget)."""
    try:
        by_id = summaries(conn, env_id, [s["session_id"] for s in sessions])
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != QUERY_CANCELED:
            raise
        by_id = {}
    for session in sessions:
        session["summary"] = by_id.get(session["session_id"])
    return sessions
