// A page per user (/users/<id>) and per session (/sessions/<id>): what a link shares.
import { useContext } from "preact/hooks";
import { EnvContext } from "./context.js";
import { useLoad } from "./hooks.js";
import { PageHead } from "./page.jsx";
import { ReplayModal, SessionsList, UserProperties } from "./modals.jsx";
import { ReplayView } from "./replay.jsx";
import { SessionEvents } from "./user.jsx";
import { Link, closeOverlay, linkTo, patchQuery } from "./router.jsx";
import { PLATFORM_LABELS, platformOf, sourceLabel } from "./icons.jsx";
import { apiFilters } from "./view.js";
import { count, fmtDateTime, fmtDuration, fmtFull } from "./time.js";

const BackToFeed = () => {
  const { route } = useContext(EnvContext);
  return <Link class="back" href={linkTo(route, "feed", null)} data-testid="back-to-feed">← Users &amp; Sessions</Link>;
};

function Missing({ what, error }) {
  return (
    <div class="state empty-state" role="alert" data-testid="page-missing">
      <h2>{what} cannot be shown</h2>
      <p class="muted">{error}</p>
      <BackToFeed />
    </div>
  );
}

export function UserPage({ userId, view }) {
  const { api, route } = useContext(EnvContext);
  const { data: user, error } = useLoad(() => api.user(userId), [api, userId]);
  if (error) return <Missing what="This user" error={error} />;
  if (!user) return <div class="loading-state state"><span class="spinner" /> Loading user…</div>;
  const q = route.query;
  return (
    <div data-testid="user-page" data-user-id={user.user_id}>
      <BackToFeed />
      <PageHead title={user.display_name}
        subtitle={`${user.identity ? "Identified user" : "Anonymous user"} · ${count(user.session_count, "session")} · last seen ${fmtDateTime(user.last_seen)}`} />
      <div class="card user-page">
        <SessionsList userId={user.user_id} filters={apiFilters(view.filters)} testid="user-sessions"
          selectedId={q.session} onSelect={(s) => patchQuery(route, { session: s.session_id, event: null })}
          urlEvent={q.event} onOpenEvent={(s, id) => patchQuery(route, { session: s.session_id, event: id })}
          onPlay={(s) => patchQuery(route, { replay: s.session_id }, { overlay: true })} />
        <aside class="props-col" aria-label="About this user">
          <h2 class="col-title">About this user</h2>
          <UserProperties user={user} />
        </aside>
      </div>
      {q.replay && <ReplayModal sessionId={q.replay} onClose={() => closeOverlay(route, ["replay"])} />}
    </div>
  );
}

export function SessionPage({ sessionId }) {
  const { api, route } = useContext(EnvContext);
  const { data: session, error } = useLoad(() => api.session(sessionId), [api, sessionId]);
  const { data: user } = useLoad(() => (session ? api.user(session.user_id) : Promise.resolve(null)), [session && session.user_id]);
  if (error) return <Missing what="This session" error={error} />;
  if (!session) return <div class="loading-state state"><span class="spinner" /> Loading session…</div>;
  const platform = platformOf(session);
  const facts = [PLATFORM_LABELS[platform], session.browser, session.device_type, fmtDuration(session.duration_s),
    count(session.event_count, "event"), session.landing_page && `landed on ${session.landing_page}`].filter(Boolean);
  return (
    <div data-testid="session-page" data-session-id={session.session_id}>
      <BackToFeed />
      <PageHead title={`Session of ${fmtDateTime(session.start)}`} subtitle={facts.join(" · ")}>
        {user && <Link href={linkTo(route, "user", user.user_id)} data-testid="session-user-link">{user.display_name}</Link>}
      </PageHead>
      <p class="muted small" title={fmtFull(session.start)}>Source: {sourceLabel(session.source)}. {session.replay.playable ? "" : `No replay: ${(session.replay.reason || "not recorded").replaceAll("_", " ")}.`}</p>
      {session.replay.playable && <div class="card pad"><ReplayView sessionId={session.session_id} /></div>}
      <div class="card pad">
        <h2 class="col-title">Events</h2>
        <SessionEvents session={session} header={false} urlEvent={route.query.event}
          onOpenEvent={(s, id) => patchQuery(route, { event: id })} />
      </div>
    </div>
  );
}
