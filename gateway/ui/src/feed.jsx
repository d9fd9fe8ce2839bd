// The feed page: toolbar (timeline, filters, list mode), users newest first, live polling, j/k.
import { useCallback, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { FilterBar } from "./filters.jsx";
import { UserCard, UserRow } from "./user.jsx";
import { AboutUserModal, AllSessionsModal, ReplayModal } from "./modals.jsx";
import { PageHead } from "./page.jsx";
import { PRESETS, addDays, currentZone, dayOf, fmtDays, timelineLabel } from "./time.js";
import { apiFilters, filtersQuery, timelineQuery, windowFor } from "./view.js";
import { closeOverlay, linkTo, navigate, patchQuery } from "./router.jsx";
import { useDismiss } from "./hooks.js";
import { CalendarIcon, CardsIcon, ChevronIcon, ListIcon } from "./icons.jsx";
import { SearchBox, searchOf } from "./search.jsx";
import { SegmentsMenu, queryOfSegment } from "./segments.jsx";
import { ExportDialog } from "./exportcsv.jsx";

const PAGE_SIZE = 25;
// New activity shows up without a reload: the first page is fetched again this often. A link can
// set it (?poll_ms=, for tests and demos), within bounds: never more than twice a second.
const POLL_MS = Math.min(Math.max(Number(new URLSearchParams(location.search).get("poll_ms")) || 5000, 500), 60000);

function TimelinePicker({ view, onChange }) {
  const { timeline, seen } = view;
  const [open, setOpen] = useState(false);
  const [custom, setCustom] = useState(false);
  const [from, setFrom] = useState(timeline.from || addDays(dayOf(), -6));
  const [to, setTo] = useState(timeline.to || dayOf());
  const box = useRef(null);
  const close = () => { setOpen(false); setCustom(false); };
  useDismiss(box, open, close);
  const choose = (id) => {
    if (id === "custom") return setCustom(true);
    close();
    onChange({ id });
  };
  return (
    <div class="dropdown" data-testid="timeline" ref={box}>
      <button class="btn" onClick={() => (open ? close() : setOpen(true))} aria-haspopup="true" aria-expanded={open ? "true" : "false"}
        data-testid="timeline-button">
        <CalendarIcon /> {seen ? `${fmtDays(seen.from, seen.to)} (time filter)` : timelineLabel(timeline)} <ChevronIcon />
      </button>
      {open && (
        <div class="menu" role="menu">
          {PRESETS.map((p) => (
            <button role="menuitem" class={`menu-item ${!seen && p.id === timeline.id ? "active" : ""}`}
              onClick={() => choose(p.id)} data-testid={`timeline-${p.id}`}>{p.label}</button>
          ))}
          {custom && (
            <form class="custom-range" onSubmit={(e) => {
              e.preventDefault();
              close();
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

function useFeed(api, view, search) {
  const [state, setState] = useState({ users: [], next: null, paged: false, loading: true, error: null, paused: null });
  const generation = useRef(0);
  const filters = apiFilters(view.filters);
  const key = JSON.stringify([api.envId, view.timeline, view.seen, filters, currentZone(), search]);
  const load = useCallback(async (cursor, { quiet = false } = {}) => {
    const gen = generation.current;
    if (!quiet) setState((s) => ({ ...s, loading: true, error: null, ...(cursor ? {} : { users: [] }) }));
    try {
      const page = await api.feed({ ...windowFor(view), filter: filters.length ? filters : undefined, q: search || undefined, cursor, limit: PAGE_SIZE });
      if (gen !== generation.current) return;
      // Once more pages are loaded, a live refresh of the first page keeps their cursor (null: no more).
      setState((s) => ({
        users: cursor ? [...s.users, ...page.users] : quiet ? mergeFirstPage(s.users, page.users) : page.users,
        next: quiet && s.paged ? s.next : page.next_cursor,
        paged: cursor ? true : quiet && s.paged,
        loading: false, error: null, paused: null,
      }));
    } catch (err) {
      if (gen !== generation.current || err.status === 401) return;
      // A failed refresh keeps what is on screen, and says that it is not live anymore.
      setState((s) => (quiet ? { ...s, paused: err.message } : { ...s, loading: false, error: err.message }));
    }
  }, [key]);
  // A layout effect asks for the first page as soon as the page is drawn, not a frame later.
  useLayoutEffect(() => {
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

// j / k move between users, Enter opens the focused one (not while typing or in a dialog).
function useListKeys(count, onOpen) {
  const [focused, setFocused] = useState(-1);
  const open = useRef(onOpen);
  open.current = onOpen;
  useEffect(() => {
    const onKey = (e) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || document.querySelector("[role=dialog]")) return;
      const target = e.target;
      if (target.closest && target.closest("input, select, textarea, [contenteditable=true]")) return;
      if (e.key === "j" || e.key === "k") {
        e.preventDefault();
        setFocused((i) => Math.max(0, Math.min(count - 1, i + (e.key === "j" ? 1 : -1))));
      } else if (e.key === "Enter" && target.matches && target.matches("[data-testid=user-card]")) {
        e.preventDefault();
        open.current(target.getAttribute("data-user-id"));
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [count]);
  useEffect(() => {
    const card = document.querySelectorAll("[data-testid=feed] [data-testid=user-card]")[focused];
    if (card) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest" });
    }
  }, [focused]);
  return focused;
}

function ListModeSwitch({ compact, onChange }) {
  return (
    <div class="segmented" role="group" aria-label="List mode">
      <button class={!compact ? "on" : ""} aria-pressed={!compact ? "true" : "false"} onClick={() => onChange(false)} data-testid="view-cards">
        <CardsIcon /> Cards</button>
      <button class={compact ? "on" : ""} aria-pressed={compact ? "true" : "false"} onClick={() => onChange(true)} data-testid="view-compact">
        <ListIcon /> Compact</button>
    </div>
  );
}

// The first cards are drawn at once and the rest of the page a moment later: drawing 25 full
// cards took 60-90 ms on a busy 2-core machine, all before the first one showed.
const FIRST_DRAWN = 6;

function useDrawnCount(total) {
  const [drawn, setDrawn] = useState(FIRST_DRAWN);
  useEffect(() => {
    if (drawn >= total) return undefined;
    const timer = setTimeout(() => setDrawn(total), 0);
    return () => clearTimeout(timer);
  }, [drawn, total]);
  return Math.min(drawn, total);
}

// How many users match ("1,234 users", or "≈ 1,234 users" when the service estimated it).
function useMatchCount(api, view) {
  const [count, setCount] = useState(null);
  const filters = apiFilters(view.filters);
  const key = JSON.stringify([api.envId, view.timeline, view.seen, filters, currentZone()]);
  useEffect(() => {
    let live = true;
    setCount(null);
    api.userCount({ ...windowFor(view), filter: filters.length ? filters : undefined })
      .then((c) => live && setCount(c)).catch(() => live && setCount(null));
    return () => { live = false; };
  }, [key]);
  return count;
}

function MatchCount({ count }) {
  if (!count) return null;
  const n = count.count.toLocaleString();
  return (
    <span class="muted small match-count" data-testid="feed-count" title={count.estimated ? "Estimated from a sample of the window's users" : "Exact"}>
      {count.estimated ? `≈ ${n}` : n} {count.count === 1 ? "user" : "users"}{count.estimated ? " (estimated)" : ""}
    </span>
  );
}

// The filter editor's suggestions: event names, properties and values from the environment's
// catalog; user properties from the users on screen.
function useSuggest(api, knownProperties) {
  const known = useRef(knownProperties);
  known.current = knownProperties;
  return useMemo(() => ({
    events: (kind, text) => api.catalogEvents({ kind, q: text || undefined, limit: 50 }).then((r) => r.events.map((e) => e.label)),
    properties: (scope, text) => (scope === "event"
      ? api.catalogProperties({ q: text || undefined, limit: 50 }).then((r) => r.properties.map((p) => p.property))
      : Promise.resolve(known.current.filter((p) => !text || p.toLowerCase().includes(text.toLowerCase())))),
    values: (scope, property, text) => (scope === "event"
      ? api.catalogValues({ property, q: text || undefined, limit: 50 }).then((r) => r.values.map((v) => String(v.value)))
      : Promise.resolve([])),
  }), [api]);
}

export function FeedPage({ view }) {
  const { api, route, definitions } = useContext(EnvContext);
  const q = route.query;
  const search = searchOf(q.q);
  const feed = useFeed(api, view, search);
  const count = useMatchCount(api, view);
  const drawn = useDrawnCount(feed.users.length);
  const [exporting, setExporting] = useState(false);
  const focused = useListKeys(feed.users.length, (userId) => navigate(linkTo(route, "user", userId)));
  const knownProperties = useMemo(() => {
    const names = new Set(["identity"]);
    feed.users.forEach((u) => Object.keys(u.properties || {}).forEach((k) => names.add(k)));
    return [...names].sort();
  }, [feed.users]);
  const suggest = useSuggest(api, knownProperties);
  const actions = {
    openSession: (sessionId) => patchQuery(route, { session: sessionId, event: null }),
    openEvent: (sessionId, eventId) => patchQuery(route, { session: sessionId, event: eventId }),
    about: (userId) => patchQuery(route, { about: userId }, { overlay: true }),
    allSessions: (userId) => patchQuery(route, { sessions: userId }, { overlay: true }),
    play: (sessionId) => patchQuery(route, { replay: sessionId, sessions: null }, { overlay: true }),
  };
  const close = (key) => () => closeOverlay(route, [key]);
  return (
    <>
      <PageHead title="Users & Sessions" subtitle="Most recently active first · updates live" />
      <SearchBox value={search} onChange={(text) => patchQuery(route, { q: text || null }, { replace: true })} />
      <div class="toolbar">
        <TimelinePicker view={view} onChange={(t) => patchQuery(route, timelineQuery(t, view.filters))} />
        <FilterBar filters={view.filters} onChange={(f) => patchQuery(route, filtersQuery(f))} definitions={definitions}
          properties={knownProperties} suggest={suggest} />
        <div class="spacer" />
        <MatchCount count={count} />
        <SegmentsMenu view={view} search={search} onOpen={(segment) => patchQuery(route, queryOfSegment(segment))} />
        <button class="btn" onClick={() => setExporting(true)} data-testid="export-button">Export CSV</button>
        <ListModeSwitch compact={view.compact} onChange={(c) => patchQuery(route, { view: c ? "compact" : null })} />
      </div>
      {feed.paused && !feed.error && (
        <div class="banner warn-banner" role="status" data-testid="live-paused">
          <strong>Live updates paused.</strong> {feed.paused} Retrying every {Math.round(POLL_MS / 1000) || 1} s.
        </div>
      )}
      {feed.error && (
        <div class="banner error-state" role="alert" data-testid="feed-error">
          <strong>Could not load users.</strong> {feed.error}
          <button class="btn small" onClick={feed.reload}>Retry</button>
        </div>
      )}
      <section class={`feed ${view.compact ? "compact" : ""}`} data-testid="feed" aria-label="Users" aria-busy={feed.loading ? "true" : "false"}>
        {feed.users.slice(0, drawn).map((user, i) => (view.compact
          ? <UserRow key={user.user_id} user={user} focused={i === focused} />
          : <UserCard key={user.user_id} user={user} focused={i === focused} actions={actions} />))}
        {feed.loading && feed.users.length === 0 && [0, 1, 2].map(() => <div class="card skeleton" data-testid="feed-loading" />)}
        {!feed.loading && !feed.error && feed.users.length === 0 && (
          <div class="state empty-state" data-testid="feed-empty">
            <h2>{search ? `No user matches “${search}” in this time range` : "No users in this time range"}</h2>
            <p class="muted">{search ? "Search looks in identity, email, name and user id. Widen the timeline or remove a filter."
              : view.filters.length ? "No user matches these filters. Remove a filter or widen the timeline."
              : "Nobody was active yet. Send events with your write key and they will appear here."}</p>
          </div>
        )}
        {feed.next && (
          <button class="btn load-more" onClick={feed.more} disabled={feed.loading} data-testid="load-more">
            {feed.loading ? "Loading…" : "Load more users"}
          </button>
        )}
      </section>
      {feed.users.length > 0 && <p class="muted small keys-hint">Keys: <kbd>j</kbd> / <kbd>k</kbd> move between users, <kbd>Enter</kbd> opens one.</p>}
      {q.about && <AboutUserModal userId={q.about} onClose={close("about")} />}
      {q.sessions && <AllSessionsModal userId={q.sessions} filters={apiFilters(view.filters)} onPlay={(s) => actions.play(s.session_id)} onClose={close("sessions")} />}
      {q.replay && <ReplayModal sessionId={q.replay} onClose={close("replay")} />}
      {exporting && <ExportDialog view={view} search={search} properties={knownProperties} onClose={() => setExporting(false)} />}
    </>
  );
}
