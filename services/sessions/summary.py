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

ACTIVE_GAP_S = 30

_SUMMARIES = text("""
    with e as (
        select session_id, kind, time, event_id, coalesce(page_path, name) as page,
               extract(epoch from lead(time) over (partition by session_id order by time, event_id) - time) as gap
        from events
        where env_id = :env and session_id = any(cast(:ids as text[]))
    )
    select session_id,
           count(*) filter (where kind in ('pageview', 'screen')) as pages_viewed,
           count(*) filter (where kind in ('click', 'change', 'submit', 'custom', 'rage_click', 'dead_click'))
               as interactions,
           count(*) filter (where kind = 'rage_click') as rage_clicks,
           count(*) filter (where kind = 'dead_click') as dead_clicks,
           coalesce(sum(gap) filter (where gap <= :gap), 0) as active_s,
           (array_agg(page order by time, event_id) filter (where kind in ('pageview', 'screen')))[1] as entry_page,
           (array_agg(page order by time desc, event_id desc) filter (where kind in ('pageview', 'screen')))[1]
               as exit_page
    from e group by session_id
""")

EMPTY = {"pages_viewed": 0, "active_s": 0.0, "bounce": True, "entry_page": None, "exit_page": None,
         "rage_clicks": 0, "dead_clicks": 0}


def summaries(conn: Connection, env_id: str, session_ids: list[str]) -> dict[str, dict]:
    """Each session's summary by id (a session without stored events gets EMPTY)."""
    found = {}
    if session_ids:
        rows = conn.execute(_SUMMARIES, {"env": env_id, "ids": sorted(set(session_ids)), "gap": ACTIVE_GAP_S})
        for r in rows:
            found[r.session_id] = {
                "pages_viewed": r.pages_viewed, "active_s": round(float(r.active_s), 3),
                "bounce": r.pages_viewed <= 1 and r.interactions == 0,
                "entry_page": r.entry_page, "exit_page": r.exit_page,
                "rage_clicks": r.rage_clicks, "dead_clicks": r.dead_clicks,
            }
    return {i: found.get(i, dict(EMPTY)) for i in session_ids}


def with_summaries(conn: Connection, env_id: str, sessions: list[dict]) -> list[dict]:
    """The sessions, each with its `summary`."""
    by_id = summaries(conn, env_id, [s["session_id"] for s in sessions])
    for session in sessions:
        session["summary"] = by_id[session["session_id"]]
    return sessions
