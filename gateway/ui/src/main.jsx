// Footfall's web UI: sign in, pick an environment, browse users, sessions and definitions.
// Every view is an address (router.jsx): the App reads the URL and renders the page it names.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, envApi, get, post, setCsrf, whenSignedOut } from "./api.js";
import { EnvContext } from "./context.js";
import { FeedPage } from "./feed.jsx";
import { TokensPage } from "./tokens.jsx";
import { DataSettingsButton } from "./privacy.jsx";
import { DefinitionsPage } from "./definitions.jsx";
import { IngestionPage, PipelineBanner } from "./ingestion.jsx";
import { SessionPage, UserPage } from "./pages.jsx";
import { Link, hrefOf, linkTo, navigate, useRoute } from "./router.jsx";
import { setZone } from "./time.js";
import { viewOf, windowFor } from "./view.js";
import "./styles.css";

function Login({ onLoggedIn, expired }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await post("/auth/login", { email, password }));
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="login-card" onSubmit={submit} data-testid="login-form" aria-labelledby="login-title">
        <div class="brand big"><span class="brand-mark" /><h1 id="login-title">Footfall</h1></div>
        {expired
          ? <p class="note warn" role="alert" data-testid="session-ended">Your session has ended. Sign in again to continue where you were.</p>
          : <p class="muted">Sign in to see who uses your product.</p>}
        <label>Email<input name="email" type="email" autoComplete="username" value={email}
          onInput={(e) => setEmail(e.target.value)} required /></label>
        <label>Password<input name="password" type="password" autoComplete="current-password" value={password}
          onInput={(e) => setPassword(e.target.value)} required /></label>
        {error && <div class="error-text" role="alert">{error}</div>}
        <button class="btn primary" type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}

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

// The pages of the top bar; another page adds itself here.
const NAV = [["feed", "Users & Sessions", ["feed", "user", "session"]], ["definitions", "Definitions", ["definitions"]],
  ["ingestion", "Ingestion", ["ingestion"]]];

function Toast({ toast, onDismiss }) {
  useEffect(() => {
    if (!toast) return undefined;
    const timer = setTimeout(onDismiss, 12000);
    return () => clearTimeout(timer);
  }, [toast]);
  return (
    <div class="toast-region" role="status" aria-live="polite">
      {toast && (
        <div class="toast" data-testid="toast">
          <span>{toast.text}</span>
          {toast.action && <button class="btn small" onClick={toast.action[1]} data-testid="toast-action">{toast.action[0]}</button>}
          <button class="btn ghost small" onClick={onDismiss} aria-label="Dismiss">×</button>
        </div>
      )}
    </div>
  );
}

function Shell({ me, onLogout }) {
  const route = useRoute();
  setZone(route.query.tz);
  const wanted = route.query.env;
  const envId = (me.environments.find((e) => e.id === wanted) || me.environments[0] || {}).id || null;
  const api = useMemo(() => envApi(envId), [envId]);
  const [definitions, setDefinitions] = useState([]);
  const [labelsVersion, setLabelsVersion] = useState(0);
  const [trial, setTrial] = useState(null);
  const [toast, setToast] = useState(null);
  useEffect(() => {
    if (!envId) return;
    api.definitions().then((d) => setDefinitions(d.definitions || [])).catch(() => setDefinitions([]));
  }, [api, labelsVersion]);
  useEffect(() => {
    if (!envId) return undefined;
    const refresh = () => api.replayStatus().then(setTrial).catch(() => setTrial(null));
    refresh();
    const timer = setInterval(refresh, 60000);
    return () => clearInterval(timer);
  }, [api]);
  const view = viewOf(route.query);
  const changedDefinitions = () => setLabelsVersion((v) => v + 1);
  const context = {
    api, route, definitions, labelsVersion, changedDefinitions,
    viewWindow: () => windowFor(view),
    // After Define: relabel everywhere, and offer to take it back.
    defined: (created) => {
      changedDefinitions();
      if (!created || !created.id) return;
      setToast({
        text: `Defined “${created.name}”: its events are labelled everywhere.`,
        action: ["Undo", () => api.archive(created.id).then(() => {
          changedDefinitions();
          setToast({ text: `Undone: “${created.name}” is archived and its events are raw again.` });
        }).catch((err) => setToast({ text: `Could not undo: ${err.message}` }))],
      });
    },
  };
  if (!envId) return <div class="state empty-state">Your account has no environment yet. Ask an admin to add you to one.</div>;
  let page;
  if (route.page === "user") page = <UserPage userId={route.id} view={view} />;
  else if (route.page === "session") page = <SessionPage sessionId={route.id} />;
  else if (route.page === "definitions") page = <DefinitionsPage />;
  else if (route.page === "ingestion") page = <IngestionPage />;
  else page = <FeedPage view={view} />;
  return (
    <EnvContext.Provider value={context}>
      <div class="page">
        <header class="topbar">
          <div class="brand"><span class="brand-mark" />Footfall</div>
          <nav class="topnav" aria-label="Pages">
            {NAV.map(([page, label, owns]) => (
              <Link href={linkTo(route, page, null)} class={owns.includes(route.page) ? "active" : ""}
                aria-current={owns.includes(route.page) ? "page" : undefined} data-testid={`nav-${page}`}>{label}</Link>
            ))}
            <a href="#tokens" data-testid="nav-tokens">API tokens</a>
          </nav>
          <div class="spacer" />
          <TrialBadge status={trial} />
          <DataSettingsButton envId={envId} />
          <select class="env-select" value={envId} aria-label="Environment" data-testid="env-select"
            onChange={(e) => navigate(hrefOf(["definitions", "ingestion"].includes(route.page) ? route.page : "feed", null, { env: e.target.value, tz: route.query.tz }))}>
            {me.environments.map((env) => <option value={env.id}>{env.name} ({env.id})</option>)}
          </select>
          <span class="account" title={me.email}>{me.email}</span>
          <button class="btn ghost small" onClick={onLogout} data-testid="sign-out">Sign out</button>
        </header>
        <main class="content"><PipelineBanner />{page}</main>
        <Toast toast={toast} onDismiss={() => setToast(null)} />
      </div>
    </EnvContext.Provider>
  );
}

function App() {
  const [me, setMe] = useState(undefined);
  const [expired, setExpired] = useState(false);
  const [failure, setFailure] = useState(null);
  // The API tokens page (tokens.jsx) is addressed by the URL's hash.
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const signedIn = (account) => {
    setCsrf(account.csrf_token);
    setExpired(false);
    setMe(account);
  };
  useEffect(() => {
    // A session that ends while the page is open (expiry, sign-out elsewhere) asks to sign in
    // again right here; the URL stays, so signing in comes back to the same view.
    whenSignedOut(() => {
      setCsrf(null);
      setExpired(true);
      setMe(null);
    });
    get("/auth/me").then(signedIn).catch((err) => {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else setFailure(err.message);
    });
  }, []);
  const logout = async () => {
    await post("/auth/logout").catch(() => {});
    setCsrf(null);
    setMe(null);
    navigate("/", { replace: true });
  };
  if (failure) return <div class="state error-state" role="alert">{failure}</div>;
  if (me === undefined) return <div class="state loading-state"><span class="spinner" /> Loading…</div>;
  if (me === null) return <Login onLoggedIn={signedIn} expired={expired} />;
  if (hash === "#tokens") return <TokensPage me={me} onBack={() => { location.hash = ""; }} />;
  return <Shell me={me} onLogout={logout} />;
}

render(<App />, document.getElementById("app"));
