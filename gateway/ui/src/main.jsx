// Footfall's Users & Sessions UI: log in, pick an environment, browse the feed.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, post, setCsrf, ApiError } from "./api.js";
import { FeedPage } from "./feed.jsx";
import { TokensPage } from "./tokens.jsx";
import "./styles.css";

function Login({ onLoggedIn }) {
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
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login">
      <form class="login-card" onSubmit={submit} data-testid="login-form">
        <div class="brand big"><span class="brand-mark" />Footfall</div>
        <p class="muted">Sign in to see who uses your product.</p>
        <label>Email<input name="email" type="email" autoComplete="username" value={email}
          onInput={(e) => setEmail(e.target.value)} required /></label>
        <label>Password<input name="password" type="password" autoComplete="current-password" value={password}
          onInput={(e) => setPassword(e.target.value)} required /></label>
        {error && <div class="error-text" role="alert">{error}</div>}
        <button class="btn primary" type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </div>
  );
}

function App() {
  const [me, setMe] = useState(undefined);
  const [failure, setFailure] = useState(null);
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const signedIn = (account) => {
    setCsrf(account.csrf_token);
    setMe(account);
  };
  useEffect(() => {
    get("/auth/me").then(signedIn).catch((err) => {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else setFailure(err.message);
    });
  }, []);
  const logout = async () => {
    await post("/auth/logout").catch(() => {});
    setCsrf(null);
    setMe(null);
  };
  if (failure) return <div class="state error-state">{failure}</div>;
  if (me === undefined) return <div class="state loading-state"><span class="spinner" /> Loading…</div>;
  if (me === null) return <Login onLoggedIn={signedIn} />;
  if (hash === "#tokens") return <TokensPage me={me} onBack={() => { location.hash = ""; }} />;
  return <FeedPage me={me} onLogout={logout} />;
}

render(<App />, document.getElementById("app"));
