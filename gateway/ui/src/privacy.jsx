// One person's data and the environment's data settings: delete a user (behind a confirmation that
// names them, then the deletion's progress), and the retention / bot traffic / excluded addresses panel.
import { useEffect, useState } from "preact/hooks";
import { request } from "./api.js";

export function privacyApi(envId) {
  const base = `/api/v1/environments/${encodeURIComponent(envId)}`;
  return {
    deleteUser: (userId) => request("POST", `${base}/deletions`, { users: [{ user_id: userId }] }),
    deletion: (id) => request("GET", `${base}/deletions/${encodeURIComponent(id)}`),
    settings: () => request("GET", `${base}/settings`),
    saveSettings: (body) => request("PUT", `${base}/settings`, body),
    exportUrl: (userId, format) => `${base}/users/${encodeURIComponent(userId)}/export?format=${format}`,
  };
}

export function DeleteUser({ envId, user }) {
  const api = privacyApi(envId);
  const [stage, setStage] = useState("idle"); // idle | confirm | sent
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!job || job.status === "done") return undefined;
    const timer = setTimeout(() => api.deletion(job.deletion_id).then(setJob).catch((e) => setError(e.message)), 1500);
    return () => clearTimeout(timer);
  }, [job]);
  const confirm = async () => {
    setError(null);
    try {
      setJob(await api.deleteUser(user.user_id));
      setStage("sent");
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div class="privacy-actions" data-testid="privacy-actions">
      <a class="btn ghost small" href={api.exportUrl(user.user_id, "json")} data-testid="export-json">Export (JSON)</a>
      <a class="btn ghost small" href={api.exportUrl(user.user_id, "zip")} data-testid="export-zip">Export (CSV zip)</a>
      {stage === "idle" && (
        <button class="btn danger small" onClick={() => setStage("confirm")} data-testid="delete-user">Delete this user…</button>
      )}
      {stage === "confirm" && (
        <div class="confirm" role="alertdialog" aria-label="Confirm deletion" data-testid="delete-confirm">
          <p>
            Delete <strong>{user.display_name}</strong> (user {user.user_id}) and everything Footfall holds
            about them: properties, devices, every session, event and replay, on every device merged into
            them? This cannot be undone.
          </p>
          <button class="btn ghost small" onClick={() => setStage("idle")}>Cancel</button>
          <button class="btn danger small" onClick={confirm} data-testid="delete-confirm-button">
            Delete {user.display_name}
          </button>
        </div>
      )}
      {job && (
        <p class="muted" role="status" data-testid="delete-status">
          Deletion {job.status}{job.status === "done" ? "" : "…"}
          {Object.entries(job.services || {}).map(([name, s]) => ` · ${name}: ${s.status}`).join("")}
        </p>
      )}
      {error && <div class="error-state" role="alert">{error}</div>}
    </div>
  );
}

export function DataSettings({ envId, onClose }) {
  const api = privacyApi(envId);
  const [settings, setSettings] = useState(null);
  const [draft, setDraft] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.settings().then((s) => { setSettings(s); setDraft({ ...s, excluded_ip_ranges: s.excluded_ip_ranges.join("\n") }); })
      .catch((e) => setError(e.message));
  }, [envId]);
  const save = async () => {
    setError(null);
    try {
      const saved = await api.saveSettings({
        events_retention_days: draft.events_retention_days === "" || draft.events_retention_days === null
          ? null : Number(draft.events_retention_days),
        bot_traffic: draft.bot_traffic,
        excluded_ip_ranges: draft.excluded_ip_ranges.split(/\s+/).filter(Boolean),
      });
      setSettings(saved);
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label="Data settings" data-testid="data-settings">
        <div class="modal-head"><h2>Data settings · {envId}</h2>
          <button class="icon-btn" aria-label="Close" onClick={onClose}>×</button></div>
        <div class="modal-body">
          {error && <div class="error-state" role="alert">{error}</div>}
          {draft && (
            <form class="settings-form" onSubmit={(e) => { e.preventDefault(); save(); }}>
              <label>Keep events and sessions (days; empty keeps them forever)
                <input type="number" min="1" value={draft.events_retention_days ?? ""} data-testid="retention-days"
                  onInput={(e) => setDraft({ ...draft, events_retention_days: e.target.value })} /></label>
              <label>Bot traffic (crawlers, headless browsers, monitoring)
                <select value={draft.bot_traffic} data-testid="bot-traffic"
                  onChange={(e) => setDraft({ ...draft, bot_traffic: e.target.value })}>
                  <option value="drop">Drop</option><option value="keep">Keep, flagged as bot</option>
                </select></label>
              <label>Excluded address ranges (one CIDR per line: an office, a CI)
                <textarea rows="3" value={draft.excluded_ip_ranges} data-testid="excluded-ips"
                  onInput={(e) => setDraft({ ...draft, excluded_ip_ranges: e.target.value })} /></label>
              <button class="btn small" type="submit" data-testid="save-settings">Save</button>
            </form>
          )}
          {settings && (
            <dl class="props" data-testid="bot-counts">
              {Object.entries(settings.bot_traffic_counts || {}).map(([day, reasons]) => (
                <><dt>{day}</dt><dd>{Object.entries(reasons).map(([r, n]) => `${r}: ${n}`).join(" · ")}</dd></>
              ))}
            </dl>
          )}
        </div>
      </div>
    </div>
  );
}

export function DataSettingsButton({ envId }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button class="btn ghost small" onClick={() => setOpen(true)} data-testid="open-data-settings">Data settings</button>
      {open && <DataSettings envId={envId} onClose={() => setOpen(false)} />}
    </>
  );
}
