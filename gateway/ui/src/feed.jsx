// The feed page: header (environment, replay trial), toolbar (timeline, filters), users, polling.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { envApi } from "./api.js";
import { FilterBar } from "./filters.jsx";
import { UserCard } from "./user.jsx";
import { PRESETS, timelineLabel, todayISO, windowOf } from "./time.js";
import { CalendarIcon, ChevronIcon } from "./icons.jsx";
import { DataSettingsButton } from "./privacy.jsx";

const PAGE_SIZE = 25;
// New activity shows up without a reload: the first page is fetched again this often. A link can
// set it (?poll_ms=, for tests and demos), within bounds: never more than twice a second.
const POLL_MS = Math.min(Math.max(Number(new URLSearchParams(location.search).get("poll_ms")) || 5000, 500), 60000);

function TrialBadge({ status }) {
  if (!status) return null;
  const reason = status.reason;
  let text;
  let tone = "ok";
  if (reason === "paid") text = "Session replay: paid plan";
  else if (reason === "off") { text = "Session replay is off"; tone = "muted"; }
  else if (reason === "trial_expired" || reason === "trial_exhausted") {
    text = "Replay trial ended — contact sales";
    tone = "warn";
  } else if (reason === "trial_not_started") {
    text = `Replay trial: ${status.trial_days} days · ${status.sessions_left.toLocaleString()} sessions`;
  } else {
    const days = Math.max(0, Math.ceil((new Date(status.trial_ends_at) - Date.now()) / 86400000));
    text = `Replay trial: ${days} days · ${status.sessions_left.toLocaleString()} sessions left`;
  }
  return (
    <span class={`trial-badge ${tone}`} data-testid="trial-badge" title={status.message}>
      {text}
      {tone === "warn" && <a href="mailto:sales@footfall.example">Contact sales</a>}
    </span>
  );
}

function TimelinePicker({ timeline, onChange }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState(timeline.from || todayISO());
  const [to, setTo] = useState(timeline.to || todayISO());
  const [custom, setCustom] = useState(false);
  const choose = (id) => {
    if (id === "custom") return setCustom(true);
    setOpen(false);
    setCustom(false);
    onChange({ id });
  };
  return (
    <div class="dropdown" data-testid="timeline">
      <button class="btn" onClick={() => setOpen(!open)} data-testid="timeline-button">
        <CalendarIcon /> {timelineLabel(timeline)} <ChevronIcon />
      </button>
      {open && (
        <div class="menu" role="menu">
          {PRESETS.map((p) => (
            <button role="menuitem" class={`menu-item ${p.id === timeline.id ? "active" : ""}`}
              onClick={() => choose(p.id)} data-testid={`timeline-${p.id}`}>{p.label}</button>
          ))}
          {custom && (
            <form class="custom-range" onSubmit={(e) => {
              e.preventDefault();
              setOpen(false);
              setCustom(false);
              onChange({ id: "custom", from, to });
            }}>
              <label>From<input type="date" name="from" value={from} max={to} onInput={(e) => setFrom(e.target.value)} /></label>
              <label>To<input type="date" name="to" value={to} min={from} onInput={(e) => setTo(e.target.value)} /></label>
              <button class="btn primary small" type="submit">Apply</button>
            </form>
          )}
        </div>
      )}
    </div>
  );
}

// Merges a fresh first page into the loaded list: fresh users first, older pages kept after them.
function mergeFirstPage(current, fresh) {
  const ids = new Set(fresh.map((u) => u.user_id));
  return [...fresh, ...current.filter((u) => !ids.has(u.user_id))];
}

function useFeed(api, timeline, filters) {
  const [state, setState] = useState({ users: [], next: null, paged: false, loading: true, error: null });
  const generation = useRef(0);
  const load = useCallback(async (cursor, { quiet = false } = {}) => {
    const gen = generation.current;
    if (!quiet) setState((s) => ({ ...s, loading: true, error: null, ...(cursor ? {} : { users: [] }) }));
    try {
      const page = await api.feed({ ...windowOf(timeline), filter: filters.length ? filters : undefined, cursor, limit: PAGE_SIZE });
      if (gen !== generation.current) return;
      // Once more pages are loaded, a live refresh of the first page keeps their cursor (null: no more).
      setState((s) => ({
        users: cursor ? [...s.users, ...page.users] : quiet ? mergeFirstPage(s.users, page.users) : page.users,
        next: quiet && s.paged ? s.next : page.next_cursor,
        paged: cursor ? true : quiet && s.paged,
        loading: false, error: null,
      }));
    } catch (err) {
      if (gen !== generation.current) return;
      if (!quiet) setState((s) => ({ ...s, loading: false, error: err.message }));
    }
  }, [api, timeline, filters]);
  useEffect(() => {
    generation.current += 1;
    load(null);
    // One refresh at a time: a slow gateway must not pile requests up behind each other.
    let polling = false;
    const timer = setInterval(() => {
      if (polling || document.visibilityState === "hidden") return;
      polling = true;
      load(null, { quiet: true }).finally(() => { polling = false; });
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [load]);
  return { ...state, reload: () => load(null), more: () => load(state.next) };
}

export function FeedPage({ me, onLogout }) {
  // ?env=<id> deep-links an environment; otherwise the first one the account may read.
  const wanted = new URLSearchParams(location.search).get("env");
  const [envId, setEnvId] = useState((me.environments.find((e) => e.id === wanted) || me.environments[0] || {}).id || null);
  const api = useMemo(() => envApi(envId), [envId]);
  const [timeline, setTimeline] = useState({ id: "7d" });
  const [filters, setFilters] = useState([]);
  const [definitions, setDefinitions] = useState([]);
  const [trial, setTrial] = useState(null);
  // Bumped when an event gets defined, so every open session relabels its events.
  const [labelsVersion, setLabelsVersion] = useState(0);
  const feed = useFeed(api, timeline, filters);

  useEffect(() => {
    if (!envId) return;
    api.definitions().then((d) => setDefinitions(d.definitions || d || [])).catch(() => setDefinitions([]));
  }, [api, labelsVersion]);
  useEffect(() => {
    if (!envId) return;
    const refresh = () => api.replayStatus().then(setTrial).catch(() => setTrial(null));
    refresh();
    const timer = setInterval(refresh, 60000);
    return () => clearInterval(timer);
  }, [api]);

  const knownProperties = useMemo(() => {
    const names = new Set(["identity"]);
    feed.users.forEach((u) => Object.keys(u.properties || {}).forEach((k) => names.add(k)));
    return [...names].sort();
  }, [feed.users]);

  if (!envId) return <div class="state empty-state">Your account has no environment yet. Ask an admin to add you to one.</div>;
  return (
    <div class="page">
      <header class="topbar">
        <div class="brand"><span class="brand-mark" />Footfall</div>
        <nav class="topnav"><span class="active">Users &amp; Sessions</span>
          <a href="#tokens" data-testid="nav-tokens">API tokens</a></nav>
        <div class="spacer" />
        <TrialBadge status={trial} />
        <DataSettingsButton envId={envId} />
        <select class="env-select" value={envId} onChange={(e) => setEnvId(e.target.value)} aria-label="Environment" data-testid="env-select">
          {me.environments.map((env) => <option value={env.id}>{env.name} ({env.id})</option>)}
        </select>
        <span class="account">{me.email}</span>
        <button class="btn ghost small" onClick={onLogout}>Sign out</button>
      </header>
      <main class="content">
        <div class="title-row">
          <h1>Users &amp; Sessions</h1>
          <span class="muted">Most recently active first · updates live</span>
        </div>
        <div class="toolbar">
          <TimelinePicker timeline={timeline} onChange={setTimeline} />
          <FilterBar filters={filters} onChange={setFilters} definitions={definitions} properties={knownProperties} />
        </div>
        {feed.error && (
          <div class="banner error-state" role="alert" data-testid="feed-error">
            <strong>Could not load users.</strong> {feed.error}
            <button class="btn small" onClick={feed.reload}>Retry</button>
          </div>
        )}
        <section class="feed" data-testid="feed">
          {feed.users.map((user) => (
            <UserCard key={user.user_id} user={user} api={api} filters={filters}
              labelsVersion={labelsVersion} onDefined={() => setLabelsVersion((v) => v + 1)} />
          ))}
          {feed.loading && feed.users.length === 0 && [0, 1, 2].map(() => <div class="card skeleton" data-testid="feed-loading" />)}
          {!feed.loading && !feed.error && feed.users.length === 0 && (
            <div class="state empty-state" data-testid="feed-empty">
              <h3>No users in this time range</h3>
              <p class="muted">{filters.length ? "No user matches these filters. Remove a filter or widen the timeline."
                : "Nobody was active yet. Send events with your write key and they will appear here."}</p>
            </div>
          )}
          {feed.next && (
            <button class="btn load-more" onClick={feed.more} disabled={feed.loading} data-testid="load-more">
              {feed.loading ? "Loading…" : "Load more users"}
            </button>
          )}
        </section>
      </main>
    </div>
  );
}
