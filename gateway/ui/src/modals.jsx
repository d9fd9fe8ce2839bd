// Modals: About this user, See all sessions (filtered ones highlighted), the session replay player.
import { useEffect, useRef, useState } from "preact/hooks";
import { CloseIcon } from "./icons.jsx";
import { SessionEvents, SessionRow } from "./user.jsx";
import { count, fmtDate, fmtDateTime } from "./time.js";
import { DeleteUser } from "./privacy.jsx";

export function Modal({ title, onClose, children, wide, testid }) {
  useEffect(() => {
    const onKey = (e) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={`modal ${wide ? "wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} data-testid={testid}>
        <div class="modal-head">
          <h3>{title}</h3>
          <button class="icon-btn" aria-label="Close" onClick={onClose} data-testid="modal-close"><CloseIcon /></button>
        </div>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}

function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    load().then((data) => live && setState({ data, error: null })).catch((err) => live && setState({ data: null, error: err.message }));
    return () => { live = false; };
  }, deps);
  return state;
}

const Loading = ({ what }) => <div class="loading-state"><span class="spinner" /> Loading {what}…</div>;

export function AboutUserModal({ api, user, onClose }) {
  const { data, error } = useLoad(() => api.user(user.user_id), [user.user_id]);
  return (
    <Modal title="About this user" onClose={onClose} testid="about-modal">
      {error && <div class="error-state" role="alert">{error}</div>}
      {!data && !error && <Loading what="user" />}
      {data && (
        <dl class="props about">
          <dt>Identifier</dt><dd>{data.display_name}</dd>
          <dt>User ID</dt><dd>{data.user_id}</dd>
          <dt>Identity</dt><dd>{data.identity || "—"}</dd>
          <dt>Date First Seen</dt><dd>{fmtDate(data.first_seen)}</dd>
          <dt>Last Seen</dt><dd>{fmtDateTime(data.last_seen)}</dd>
          {data.session_count !== undefined && (<><dt>Sessions</dt><dd>{data.session_count}</dd></>)}
          {Object.entries(data.properties || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => (
            <><dt>{k}</dt><dd>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd></>
          ))}
        </dl>
      )}
      {data && <DeleteUser envId={api.envId} user={data} />}
    </Modal>
  );
}

export function AllSessionsModal({ api, user, filters, labelsVersion, onDefined, onPlay, onClose }) {
  const { data, error } = useLoad(() => api.userSessions(user.user_id, filters), [user.user_id, filters]);
  const [selected, setSelected] = useState(null);
  const matchedCount = data ? data.sessions.filter((s) => s.matched).length : 0;
  return (
    <Modal title={`All sessions of ${user.display_name}`} onClose={onClose} wide testid="sessions-modal">
      {error && <div class="error-state" role="alert">{error}</div>}
      {!data && !error && <Loading what="sessions" />}
      {data && (
        <div class="all-sessions">
          <div class="sessions-col">
            {filters.length > 0 && <div class="muted small">{matchedCount} of {count(data.sessions.length, "session")} contain the filtered event (highlighted).</div>}
            {data.sessions.length === 0 && <div class="empty-state">No sessions.</div>}
            {data.sessions.map((s) => (
              <SessionRow session={s} matched={filters.length > 0 && s.matched} selected={selected && selected.session_id === s.session_id}
                onSelect={setSelected} onPlay={onPlay} />
            ))}
          </div>
          <div class="events-col">
            {selected ? <SessionEvents api={api} session={selected} labelsVersion={labelsVersion} onDefined={onDefined} />
              : <div class="muted small pick">Pick a session to see its events.</div>}
          </div>
        </div>
      )}
    </Modal>
  );
}

export function ReplayModal({ api, session, onClose }) {
  const target = useRef(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    let player = null;
    let live = true;
    // The player is loaded on demand so the feed's first render stays small and fast.
    Promise.all([api.replay(session.session_id), import("rrweb-player"), import("rrweb-player/dist/style.css")])
      .then(([manifest, mod]) => {
        if (!live) return;
        const events = manifest.events || [];
        if (events.length < 2) throw new Error("This recording has too few events to play.");
        const Player = mod.default;
        const width = Math.min(960, window.innerWidth - 120);
        // rrweb rebuilds the page in a sandboxed iframe without scripts: recorded scripts never run.
        player = new Player({ target: target.current, props: { events, width, height: Math.round(width * 0.56), autoPlay: true, showWarning: false } });
        setLoading(false);
      })
      .catch((err) => { if (live) { setError(err.message); setLoading(false); } });
    return () => {
      live = false;
      if (player && player.$destroy) player.$destroy();
    };
  }, [session.session_id]);
  return (
    <Modal title={`Session replay · ${fmtDateTime(session.start)}`} onClose={onClose} wide testid="replay-modal">
      {loading && <Loading what="replay" />}
      {error && <div class="error-state" role="alert">{error}</div>}
      <div ref={target} class="replay-target" data-testid="replay-player" />
    </Modal>
  );
}
