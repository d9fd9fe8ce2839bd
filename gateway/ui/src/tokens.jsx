// API tokens of an environment: who made each, when it expires, when it was last used; create one
// (its secret is shown once) and revoke one. Every value is rendered as text, never as markup.
import { useEffect, useState } from "preact/hooks";
import { request } from "./api.js";

const EXPIRIES = [["30", "30 days"], ["90", "90 days"], ["365", "1 year"], ["", "Never"]];

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function tokensApi(envId) {
  const base = `/api/v1/environments/${encodeURIComponent(envId)}/tokens`;
  return {
    list: () => request("GET", base),
    create: (body) => request("POST", base, body),
    revoke: (id) => request("DELETE", `${base}/${encodeURIComponent(id)}`),
  };
}

function state(token) {
  if (token.revoked_at) return "revoked";
  if (token.expires_at && new Date(token.expires_at) <= new Date()) return "expired";
  return "active";
}

export function TokensPage({ me, onBack }) {
  const [envId, setEnvId] = useState((me.environments[0] || {}).id || null);
  const [tokens, setTokens] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState("");
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState(null);
  const api = envId ? tokensApi(envId) : null;
  const reload = () => api && api.list().then((d) => setTokens(d.tokens)).catch((e) => setError(e.message));
  useEffect(() => {
    setTokens(null);
    setCreated(null);
    reload();
  }, [envId]);

  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, expires_in_days: days ? Number(days) : null };
      setCreated(await api.create(body));
      setName("");
      reload();
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async (token) => {
    if (!window.confirm(`Revoke "${token.name}"? Scripts using it stop working within seconds.`)) return;
    try {
      await api.revoke(token.id);
      reload();
    } catch (err) {
      setError(err.message);
    }
  };

  return (
    <div class="page" data-testid="tokens-page">
      <header class="topbar">
        <div class="brand"><span class="brand-mark" />Footfall</div>
        <nav class="topnav"><a href="#" onClick={(e) => { e.preventDefault(); onBack(); }}>Users &amp; Sessions</a>
          <span class="active">API tokens</span></nav>
        <div class="spacer" />
        <select class="env-select" value={envId} onChange={(e) => setEnvId(e.target.value)} aria-label="Environment">
          {me.environments.map((env) => <option value={env.id}>{env.name} ({env.id})</option>)}
        </select>
      </header>
      <main class="content">
        <div class="title-row">
          <h1>API tokens</h1>
          <span class="muted">For scripts: send one as "Authorization: Bearer …". Revoke any you no longer use.</span>
        </div>
        <form class="toolbar" onSubmit={create} data-testid="token-form">
          <label>Name <input name="token-name" value={name} maxLength={200} required
            onInput={(e) => setName(e.target.value)} /></label>
          <label>Expires <select name="token-expiry" value={days} onChange={(e) => setDays(e.target.value)}>
            {EXPIRIES.map(([value, label]) => <option value={value}>{label}</option>)}
          </select></label>
          <button class="btn primary" type="submit" disabled={!envId}>Create token</button>
        </form>
        {created && (
          <div class="banner" role="status" data-testid="token-created">
            <strong>Copy this token now: it is not shown again.</strong> <code data-testid="token-secret">{created.token}</code>
          </div>
        )}
        {error && <div class="banner error-state" role="alert">{error}</div>}
        {tokens === null && !error && <div class="state loading-state"><span class="spinner" /> Loading…</div>}
        {tokens && (
          <table class="tokens" data-testid="tokens">
            <thead><tr><th>Name</th><th>Created by</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th /></tr></thead>
            <tbody>
              {tokens.map((token) => (
                <tr data-testid="token-row" data-state={state(token)}>
                  <td>{token.name}</td>
                  <td>{token.created_by || "—"}</td>
                  <td>{when(token.created_at)}</td>
                  <td>{token.expires_at ? when(token.expires_at) : "never"}</td>
                  <td data-testid="token-last-used">{token.last_used_at ? when(token.last_used_at) : "never"}</td>
                  <td>{state(token)}</td>
                  <td>{state(token) === "active" &&
                    <button class="btn small" onClick={() => revoke(token)} data-testid="token-revoke">Revoke</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </main>
    </div>
  );
}
