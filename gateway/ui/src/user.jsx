// One user in the feed: identifier, property summary, recent sessions, a session's events.
import { useEffect, useState } from "preact/hooks";
import { BrowserIcon, PLATFORM_LABELS, PlatformIcons, PlayIcon, platformOf } from "./icons.jsx";
import { AboutUserModal, AllSessionsModal, ReplayModal } from "./modals.jsx";
import { EventPanel } from "./event.jsx";
import { count, fmtDate, fmtDateTime, fmtDuration, fmtTime, relative } from "./time.js";

const SUMMARY_SKIP = new Set(["identity", "user_id"]);

export function SessionRow({ session, selected, matched, onSelect, onPlay }) {
  const platform = platformOf(session);
  const Icon = PlatformIcons[platform];
  const replay = session.replay || {};
  const details = [
    `${PLATFORM_LABELS[platform]}${session.platform ? ` · ${session.platform}` : ""}`,
    session.browser ? `Browser: ${session.browser}` : null,
    session.device_type ? `Device: ${session.device_type}` : null,
    session.country ? `Country: ${session.country}` : null,
    session.landing_page ? `Landing page: ${session.landing_page}` : null,
    session.referrer ? `Referrer: ${session.referrer}` : null,
  ].filter(Boolean);
  return (
    <div class={`session-row ${selected ? "selected" : ""} ${matched ? "matched" : ""}`} data-testid="session-row"
      data-session-id={session.session_id} data-matched={matched ? "true" : "false"}>
      {replay.playable ? (
        <button class="play" onClick={() => onPlay(session)} title="Watch session replay" data-testid="play-replay"><PlayIcon /></button>
      ) : (
        <span class="play disabled" title={replay.reason ? `No replay: ${replay.reason.replaceAll("_", " ")}` : "No replay"} />
      )}
      <button class="session-main" onClick={() => onSelect(session)} data-testid="session-open">
        <span class="session-time">{fmtDateTime(session.start)}</span>
        <span class="session-meta">{fmtDuration(session.duration_s)} · {count(session.event_count, "event")}</span>
      </button>
      <span class="icons has-tip" tabIndex={0} data-testid="session-icons">
        <span class={`platform-icon p-${platform}`} data-platform={platform}><Icon /></span>
        {platform === "web" || platform === "mobile_web" ? <span class="browser-icon" data-testid="browser-icon"><BrowserIcon browser={session.browser} /></span> : null}
        <span class="tip" role="tooltip" data-testid="session-tip">{details.map((d) => <span>{d}</span>)}</span>
      </span>
      {matched && <span class="match-badge">matches filter</span>}
    </div>
  );
}

export function SessionEvents({ api, session, labelsVersion, onDefined }) {
  const [state, setState] = useState({ events: null, error: null });
  const [openEvent, setOpenEvent] = useState(null);
  useEffect(() => {
    let live = true;
    setState((s) => ({ events: s.events, error: null }));
    api.sessionEvents(session.session_id)
      .then((d) => live && setState({ events: d.events, error: null }))
      .catch((err) => live && setState({ events: null, error: err.message }));
    return () => { live = false; };
  }, [api, session.session_id, session.event_count, labelsVersion]);
  if (state.error) return <div class="events error-state" role="alert">Could not load events: {state.error}</div>;
  if (!state.events) return <div class="events loading-state"><span class="spinner" /> Loading events…</div>;
  if (state.events.length === 0) return <div class="events empty-state">This session has no events.</div>;
  return (
    <div class="events" data-testid="session-events">
      <ol class="timeline">
        {state.events.map((event) => {
          const defined = !!event.definition;
          return (
            <li class={`event ${defined ? "defined" : "raw"} ${openEvent && openEvent.event_id === event.event_id ? "open" : ""}`}
              data-testid="event" data-defined={defined ? "true" : "false"}>
              <button class="event-button" onClick={() => setOpenEvent(event)}>
                <span class="marker" style={defined ? { background: event.definition.color || "#6c5ce7" } : undefined} />
                <span class="event-name">{event.display_name}</span>
                <span class="event-time">{fmtTime(event.time)}</span>
              </button>
            </li>
          );
        })}
      </ol>
      {openEvent && (
        <EventPanel api={api} event={state.events.find((e) => e.event_id === openEvent.event_id) || openEvent}
          onClose={() => setOpenEvent(null)} onDefined={onDefined} />
      )}
    </div>
  );
}

function summary(user) {
  const props = user.properties || {};
  const rows = [
    ["User ID", user.user_id],
    ["Date First Seen", fmtDate(user.first_seen)],
    ["Last Seen", `${fmtDateTime(user.last_seen)} (${relative(user.last_seen)})`],
  ];
  Object.keys(props).filter((k) => !SUMMARY_SKIP.has(k)).slice(0, 4).forEach((k) => rows.push([k, String(props[k])]));
  return rows;
}

export function UserCard({ user, api, filters, labelsVersion, onDefined }) {
  const sessions = user.sessions || [];
  const matched = new Set(user.matched_session_ids || []);
  const [selected, setSelected] = useState(null);
  const [modal, setModal] = useState(null);
  // The live feed's copy of the picked session, so its events reload when new ones arrive.
  const current = selected ? sessions.find((s) => s.session_id === selected.session_id) || selected : null;
  return (
    <article class="card user-card" data-testid="user-card" data-user-id={user.user_id}>
      <div class="user-head">
        <div class="avatar" aria-hidden="true">{(user.display_name || "?").slice(0, 1).toUpperCase()}</div>
        <div>
          <h2 class="user-name" data-testid="user-name">{user.display_name}</h2>
          <div class="muted small">{user.identity ? "Identified user" : "Anonymous user"} · {count(user.session_count ?? sessions.length, "session")} · active {relative(user.last_seen)}</div>
        </div>
      </div>
      <div class="user-body">
        <div class="sessions-col">
          <div class="col-title">Recent sessions</div>
          {sessions.length === 0 && <div class="muted small">No sessions in this range.</div>}
          {sessions.map((s) => (
            <SessionRow session={s} selected={current && current.session_id === s.session_id} matched={matched.has(s.session_id)}
              onSelect={(x) => setSelected(current && current.session_id === x.session_id ? null : x)}
              onPlay={(x) => setModal({ kind: "replay", session: x })} />
          ))}
          <button class="link" onClick={() => setModal({ kind: "sessions" })} data-testid="see-all-sessions">See all sessions</button>
        </div>
        <div class="events-col">
          {current ? <SessionEvents api={api} session={current} labelsVersion={labelsVersion} onDefined={onDefined} />
            : <div class="muted small pick">Pick a session to see its events.</div>}
        </div>
        <aside class="props-col">
          <dl class="props" data-testid="user-summary">
            {summary(user).map(([k, v]) => (<><dt>{k}</dt><dd>{v}</dd></>))}
          </dl>
          <button class="link" onClick={() => setModal({ kind: "about" })} data-testid="see-more">See more about this user</button>
        </aside>
      </div>
      {modal && modal.kind === "about" && <AboutUserModal api={api} user={user} onClose={() => setModal(null)} />}
      {modal && modal.kind === "sessions" && (
        <AllSessionsModal api={api} user={user} filters={filters} labelsVersion={labelsVersion} onDefined={onDefined}
          onPlay={(x) => setModal({ kind: "replay", session: x })} onClose={() => setModal(null)} />
      )}
      {modal && modal.kind === "replay" && <ReplayModal api={api} session={modal.session} onClose={() => setModal(null)} />}
    </article>
  );
}
