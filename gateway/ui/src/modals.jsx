// Dialogs: About this user, See all sessions (filtered ones highlighted), the session replay.
import { useContext, useRef, useState } from "preact/hooks";
import { CloseIcon } from "./icons.jsx";
import { EnvContext } from "./context.js";
import { useDialogFocus, useLoad } from "./hooks.js";
import { ReplayView } from "./replay.jsx";
import { Id, SessionEvents, SessionRow } from "./user.jsx";
import { count, fmtDate, fmtDateTime } from "./time.js";
import { DeleteUser } from "./privacy.jsx";

let dialogs = 0;

export function Modal({ title, onClose, children, wide, testid }) {
  const box = useRef(null);
  const [titleId] = useState(() => `dialog-title-${++dialogs}`);
  useDialogFocus(box, onClose);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={`modal ${wide ? "wide" : ""}`} role="dialog" aria-modal="true" aria-labelledby={titleId}
        data-testid={testid} ref={box} tabIndex={-1}>
        <div class="modal-head">
          <h2 id={titleId} class="modal-title">{title}</h2>
          <button class="icon-btn" aria-label="Close" onClick={onClose} data-testid="modal-close"><CloseIcon /></button>
        </div>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}

const Loading = ({ what }) => <div class="loading-state"><span class="spinner" /> Loading {what}…</div>;

const show = (v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

export function UserProperties({ user }) {
  return (
    <dl class="props about" data-testid="user-properties">
      <dt>Identifier</dt><dd>{user.display_name}</dd>
      <dt>User ID</dt><dd><Id value={user.user_id} /></dd>
      <dt>Identity</dt><dd>{user.identity || "—"}</dd>
      <dt>Date First Seen</dt><dd>{fmtDate(user.first_seen)}</dd>
      <dt>Last Seen</dt><dd>{fmtDateTime(user.last_seen)}</dd>
      {user.session_count !== undefined && (<><dt>Sessions</dt><dd>{user.session_count}</dd></>)}
      {Object.entries(user.properties || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => (
        <><dt>{k}</dt><dd>{show(v)}</dd></>
      ))}
    </dl>
  );
}

export function AboutUserModal({ userId, onClose }) {
  const { api } = useContext(EnvContext);
  const { data, error } = useLoad(() => api.user(userId), [userId]);
  return (
    <Modal title="About this user" onClose={onClose} testid="about-modal">
      {error && <div class="error-state" role="alert">{error}</div>}
      {!data && !error && <Loading what="user" />}
      {data && <UserProperties user={data} />}
      {data && <DeleteUser envId={api.envId} user={data} />}
    </Modal>
  );
}

// A user's sessions (all of them, newest first), those with a filtered event highlighted; the
// picked one is `selectedId` when the page keeps it (in the URL), else kept here.
export function SessionsList({ userId, filters, onPlay, selectedId, onSelect, urlEvent, onOpenEvent, testid }) {
  const { api } = useContext(EnvContext);
  const { data, error } = useLoad(() => api.userSessions(userId, filters), [userId, JSON.stringify(filters)]);
  const [picked, setPicked] = useState(null);
  if (error) return <div class="error-state" role="alert">{error}</div>;
  if (!data) return <Loading what="sessions" />;
  const wanted = selectedId || (picked && picked.session_id);
  const current = data.sessions.find((s) => s.session_id === wanted) || data.sessions[0];
  const select = (s) => (onSelect ? onSelect(s) : setPicked(s));
  const matchedCount = data.sessions.filter((s) => s.matched).length;
  return (
    <div class="all-sessions" data-testid={testid}>
      <div class="sessions-col">
        {filters.length > 0 && <div class="muted small">{matchedCount} of {count(data.sessions.length, "session")} contain the filtered event (highlighted).</div>}
        {data.sessions.length === 0 && <div class="empty-state">No sessions.</div>}
        {data.sessions.map((s) => (
          <SessionRow session={s} matched={filters.length > 0 && s.matched} selected={current && current.session_id === s.session_id}
            onSelect={select} onPlay={onPlay} />
        ))}
      </div>
      <div class="events-col">
        {current && <SessionEvents key={current.session_id} session={current} urlEvent={urlEvent} onOpenEvent={onOpenEvent} />}
      </div>
    </div>
  );
}

export function AllSessionsModal({ userId, filters, onPlay, onClose }) {
  const { api } = useContext(EnvContext);
  const { data: user } = useLoad(() => api.user(userId), [userId]);
  return (
    <Modal title={`All sessions of ${user ? user.display_name : "this user"}`} onClose={onClose} wide testid="sessions-modal">
      <SessionsList userId={userId} filters={filters} onPlay={onPlay} />
    </Modal>
  );
}

export function ReplayModal({ sessionId, onClose }) {
  const { api } = useContext(EnvContext);
  const { data: session } = useLoad(() => api.session(sessionId), [sessionId]);
  return (
    <Modal title={`Session replay${session ? ` · ${fmtDateTime(session.start)}` : ""}`} onClose={onClose} wide testid="replay-modal">
      <ReplayView sessionId={sessionId} />
    </Modal>
  );
}
