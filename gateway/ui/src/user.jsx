// One user in the feed: identifier, property summary, recent sessions, a session's events.
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { BrowserIcon, PLATFORM_LABELS, PlatformIcons, PlayIcon, platformOf } from "./icons.jsx";
import { EventPanel, FRUSTRATION } from "./event.jsx";
import { EnvContext } from "./context.js";
import { useVisible } from "./hooks.js";
import { Link, linkTo } from "./router.jsx";
import { count, fmtDate, fmtDateTime, fmtDuration, fmtFull, fmtTime, relative } from "./time.js";

const SUMMARY_SKIP = new Set(["identity", "user_id"]);

// An id reads as one token: never broken across lines while it fits (short ids), wrapped otherwise.
export const Id = ({ value }) => <span class={String(value).length <= 24 ? "id" : "id long"}>{value}</span>;

// "User 1234567890123456": the number is an id, kept whole.
export function UserName({ user }) {
  const anonymous = user.display_name === `User ${user.user_id}`;
  return anonymous ? <>User <Id value={user.user_id} /></> : <>{user.display_name}</>;
}

function sessionDetails(session, platform) {
  const label = PLATFORM_LABELS[platform];
  // "iOS app · iOS" said the same thing twice: the OS is named only when it adds something.
  const os = session.platform && !label.toLowerCase().startsWith(session.platform.toLowerCase()) ? session.platform : null;
  return [
    [label, os].filter(Boolean).join(" · "),
    session.browser ? `Browser: ${session.browser}` : null,
    session.device_type ? `Device: ${session.device_type}` : null,
    session.country ? `Country: ${session.country}` : null,
    session.landing_page ? `Landing page: ${session.landing_page}` : null,
    session.referrer ? `Referrer: ${session.referrer}` : null,
    ...summaryDetails(session.summary),
  ].filter(Boolean);
}

// The summary the sessions service computes when read (docs/frustration-and-pipeline.md).
function summaryDetails(summary) {
  if (!summary) return [];
  return [
    summary.entry_page ? `Entry page: ${summary.entry_page}` : null,
    summary.exit_page ? `Exit page: ${summary.exit_page}` : null,
    `Active time: ${fmtDuration(summary.active_s)}`,
    summary.bounce ? "Bounce: one page, no interaction" : null,
  ];
}

function SessionSummary({ session }) {
  const summary = session.summary;
  if (!summary) return <span class="session-meta">{fmtDuration(session.duration_s)} · {count(session.event_count, "event")}</span>;
  const frustration = [summary.rage_clicks && count(summary.rage_clicks, "rage click"),
    summary.dead_clicks && count(summary.dead_clicks, "dead click")].filter(Boolean);
  return (
    <span class="session-summary" data-testid="session-summary">
      <span class="session-meta">{fmtDuration(session.duration_s)} ({fmtDuration(summary.active_s)} active) · {count(summary.pages_viewed, "page")} · {count(session.event_count, "event")}</span>
      {summary.bounce && <span class="bounce-badge" data-testid="bounce">bounce</span>}
      {frustration.length > 0 && <span class="frustration-count" data-testid="frustration-count">{frustration.join(", ")}</span>}
    </span>
  );
}

export function SessionRow({ session, selected, matched, onSelect, onPlay }) {
  const platform = platformOf(session);
  const Icon = PlatformIcons[platform];
  const replay = session.replay || {};
  const details = sessionDetails(session, platform);
  return (
    <div class={`session-row ${selected ? "selected" : ""} ${matched ? "matched" : ""}`} data-testid="session-row"
      data-session-id={session.session_id} data-matched={matched ? "true" : "false"}>
      {replay.playable ? (
        <button class="play" onClick={() => onPlay(session)} aria-label={`Watch the replay of the session of ${fmtDateTime(session.start)}`}
          title="Watch session replay" data-testid="play-replay"><PlayIcon /></button>
      ) : (
        <span class="play disabled" title={replay.reason ? `No replay: ${replay.reason.replaceAll("_", " ")}` : "No replay"} />
      )}
      <button class="session-main" onClick={() => onSelect(session)} aria-pressed={selected ? "true" : "false"} data-testid="session-open">
        <span class="session-time">{fmtDateTime(session.start)}</span>
        <SessionSummary session={session} />
      </button>
      <span class="icons has-tip" tabIndex={0} role="group" data-testid="session-icons" aria-label={details.join(", ")}>
        <span class={`platform-icon p-${platform}`} data-platform={platform}><Icon /></span>
        {platform === "web" || platform === "mobile_web" ? <span class="browser-icon" data-testid="browser-icon"><BrowserIcon browser={session.browser} /></span> : null}
        <span class="tip" role="tooltip" data-testid="session-tip">{details.map((d) => <span>{d}</span>)}</span>
      </span>
      {matched && <span class="match-badge">matches filter</span>}
    </div>
  );
}

// A session's events; `urlEvent` is the event the URL opens (when it is one of these).
export function SessionEvents({ session, urlEvent, onOpenEvent, header = true }) {
  const { api, labelsVersion, definitions, defined, route } = useContext(EnvContext);
  const [state, setState] = useState({ events: null, error: null });
  const [localEvent, setLocalEvent] = useState(null);
  const box = useRef(null);
  const visible = useVisible(box);
  useEffect(() => {
    if (!visible) return undefined;
    let live = true;
    api.sessionEvents(session.session_id)
      .then((d) => live && setState({ events: d.events, error: null }))
      .catch((err) => live && setState({ events: null, error: err.message }));
    return () => { live = false; };
  }, [api, visible, session.session_id, session.event_count, labelsVersion]);
  const events = state.events || [];
  const openId = events.some((e) => e.event_id === urlEvent) ? urlEvent : localEvent;
  const open = events.find((e) => e.event_id === openId);
  const choose = (id) => {
    setLocalEvent(id);
    onOpenEvent && onOpenEvent(session, id);
  };
  let body;
  if (state.error) body = <div class="error-state" role="alert">Could not load events: {state.error}</div>;
  else if (!state.events) body = <div class="loading-state"><span class="spinner" /> Loading events…</div>;
  else if (events.length === 0) body = <div class="empty-state">This session has no events.</div>;
  else {
    body = (
      <ol class="timeline" aria-label="Events of this session">
        {events.map((event) => {
          const isDefined = !!event.definition;
          const frustrated = FRUSTRATION.has(event.kind);
          return (
            <li class={`event ${isDefined ? "defined" : "raw"} ${frustrated ? "frustration" : ""} ${event.event_id === openId ? "open" : ""}`}
              data-testid="event" data-defined={isDefined ? "true" : "false"} data-event-id={event.event_id}
              data-frustration={frustrated ? event.kind : undefined}>
              <button class="event-button" onClick={() => choose(event.event_id === openId ? null : event.event_id)}
                aria-expanded={event.event_id === openId ? "true" : "false"}>
                <span class="marker" style={isDefined ? { background: event.definition.color || "#6c5ce7" } : undefined} />
                <span class="event-name">{event.display_name}</span>
                {frustrated && <span class="frustration-badge">{event.kind === "rage_click" ? "rage" : "dead"}</span>}
                <span class="event-time">{fmtTime(event.time)}</span>
              </button>
            </li>
          );
        })}
      </ol>
    );
  }
  return (
    <div class="events" data-testid="session-events" data-session-id={session.session_id} ref={box}>
      {header && (
        <div class="events-head">
          <span class="muted small" title={fmtFull(session.start)}>Session of {fmtDateTime(session.start)}</span>
          <Link class="small" href={linkTo(route, "session", session.session_id)} data-testid="session-page-link">Open session page</Link>
        </div>
      )}
      {body}
      {open && (
        <EventPanel api={api} event={open} definitions={definitions} onClose={() => choose(null)}
          onDefined={defined} />
      )}
    </div>
  );
}

function summary(user) {
  const props = user.properties || {};
  const rows = [
    ["User ID", <Id value={user.user_id} />],
    ["Date First Seen", fmtDate(user.first_seen)],
    ["Last Seen", `${fmtDateTime(user.last_seen)} (${relative(user.last_seen)})`],
  ];
  Object.keys(props).filter((k) => !SUMMARY_SKIP.has(k)).slice(0, 4).forEach((k) => rows.push([k, String(props[k])]));
  return rows;
}

// A user with an event in the last 5 minutes (the sessions service says so).
const Online = () => <span class="online" data-testid="online-now"><span class="online-dot" aria-hidden="true" />online now</span>;

export function Avatar({ user }) {
  return <div class="avatar" aria-hidden="true">{(user.display_name || "?").slice(0, 1).toUpperCase()}</div>;
}

// Which session a card shows: the URL's (when it is this user's), else the one picked here, else the latest.
export function useChosenSession(sessions, urlSession) {
  const [picked, setPicked] = useState(null);
  const has = (id) => id && sessions.some((s) => s.session_id === id);
  const chosenId = has(urlSession) ? urlSession : has(picked) ? picked : (sessions[0] || {}).session_id;
  return [sessions.find((s) => s.session_id === chosenId) || null, setPicked];
}

export function UserCard({ user, focused, actions }) {
  const { route } = useContext(EnvContext);
  const sessions = user.sessions || [];
  const matched = new Set(user.matched_session_ids || []);
  const [current, setPicked] = useChosenSession(sessions, route.query.session);
  const pick = (session) => {
    setPicked(session.session_id);
    actions.openSession(session.session_id);
  };
  return (
    <article class={`card user-card ${focused ? "focused" : ""}`} data-testid="user-card" data-user-id={user.user_id}
      tabIndex={-1} aria-label={user.display_name}>
      <div class="user-head">
        <Avatar user={user} />
        <div class="user-title">
          <h2 class="user-name" data-testid="user-name"><Link href={linkTo(route, "user", user.user_id)}><UserName user={user} /></Link></h2>
          <div class="muted small">{user.identity ? "Identified user" : "Anonymous user"} · {count(user.session_count ?? sessions.length, "session")} · {user.online ? <Online /> : `active ${relative(user.last_seen)}`}</div>
        </div>
      </div>
      <div class="user-body">
        <div class="sessions-col">
          <div class="col-title">Recent sessions</div>
          {sessions.length === 0 && <div class="muted small">No sessions in this range.</div>}
          {sessions.map((s) => (
            <SessionRow session={s} selected={current && current.session_id === s.session_id} matched={matched.has(s.session_id)}
              onSelect={pick} onPlay={(x) => actions.play(x.session_id)} />
          ))}
          <button class="link" onClick={() => actions.allSessions(user.user_id)} data-testid="see-all-sessions">See all sessions</button>
        </div>
        <div class="events-col">
          {current ? <SessionEvents key={current.session_id} session={current} urlEvent={route.query.event}
            onOpenEvent={(s, id) => actions.openEvent(s.session_id, id)} />
            : <div class="muted small pick">No session in this range.</div>}
        </div>
        <aside class="props-col" aria-label="About this user">
          <dl class="props" data-testid="user-summary">
            {summary(user).map(([k, v]) => (<><dt>{k}</dt><dd>{v}</dd></>))}
          </dl>
          <button class="link" onClick={() => actions.about(user.user_id)} data-testid="see-more">See more about this user</button>
        </aside>
      </div>
    </article>
  );
}

// The compact list: one line per user, for scanning many; Enter or a click opens the user.
export function UserRow({ user, focused }) {
  const { route } = useContext(EnvContext);
  const sessions = user.sessions || [];
  return (
    <article class={`card user-row ${focused ? "focused" : ""}`} data-testid="user-card" data-user-id={user.user_id}
      tabIndex={-1} aria-label={user.display_name}>
      <Avatar user={user} />
      <h2 class="user-name" data-testid="user-name"><Link href={linkTo(route, "user", user.user_id)}><UserName user={user} /></Link></h2>
      <span class="muted small">{user.identity ? "Identified" : "Anonymous"}</span>
      <span class="row-platforms" aria-label="Platforms of recent sessions">
        {[...new Set(sessions.map(platformOf))].map((p) => {
          const Icon = PlatformIcons[p];
          return <span class={`platform-icon p-${p}`} data-platform={p} title={PLATFORM_LABELS[p]}><Icon /></span>;
        })}
      </span>
      <span class="small">{count(user.session_count ?? sessions.length, "session")}</span>
      <span class="small muted" title={fmtFull(user.last_seen)}>{user.online ? <Online /> : `active ${relative(user.last_seen)}`}</span>
    </article>
  );
}
