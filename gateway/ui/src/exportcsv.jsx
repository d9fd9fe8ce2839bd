// Export the users of the feed's current view as CSV: pick columns and properties, then follow the
// background job's progress until its file can be downloaded.
import { useContext, useEffect, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { Modal } from "./modals.jsx";
import { viewBody } from "./segments.jsx";

const COLUMNS = [["user_id", "User ID"], ["identity", "Identity"], ["display_name", "Display name"],
  ["first_seen", "First seen"], ["last_seen", "Last seen"], ["sessions", "Sessions"]];
const POLL_MS = 500;

function Progress({ job }) {
  const share = job.rows_total ? Math.min(1, job.rows_done / job.rows_total) : job.status === "done" ? 1 : 0;
  return (
    <div class="export-progress" data-testid="export-progress">
      <progress max="1" value={share} aria-label="Export progress" />
      <span class="muted small">{job.rows_done.toLocaleString()} of {job.rows_total.toLocaleString()} users</span>
    </div>
  );
}

export function ExportDialog({ view, search, properties, onClose }) {
  const { api } = useContext(EnvContext);
  const [columns, setColumns] = useState(COLUMNS.map(([c]) => c));
  const [props, setProps] = useState("");
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!job || job.status !== "running") return undefined;
    const timer = setTimeout(() => api.exportStatus(job.id).then(setJob, (err) => setError(err.message)), POLL_MS);
    return () => clearTimeout(timer);
  }, [job]);
  const start = async (e) => {
    e.preventDefault();
    setError(null);
    const chosen = props.split(",").map((p) => p.trim()).filter(Boolean);
    try {
      setJob(await api.startExport({ ...viewBody(view, search), columns, properties: chosen }));
    } catch (err) { setError(err.message); }
  };
  const flip = (c) => setColumns(columns.includes(c) ? columns.filter((x) => x !== c) : [...columns, c]);
  return (
    <Modal title="Export users as CSV" onClose={onClose} testid="export-modal">
      {!job && (
        <form class="export-form" onSubmit={start}>
          <p class="muted small">One line per user of this view: its timeline, filters and search.</p>
          <fieldset class="export-columns">
            <legend>Columns</legend>
            {COLUMNS.map(([c, label]) => (
              <label><input type="checkbox" checked={columns.includes(c)} onChange={() => flip(c)} data-testid={`export-col-${c}`} /> {label}</label>
            ))}
          </fieldset>
          <label class="field">Properties (comma-separated)
            <input value={props} onInput={(e) => setProps(e.target.value)} list="export-properties"
              placeholder={properties.slice(0, 3).join(", ")} data-testid="export-properties" />
          </label>
          <datalist id="export-properties">{properties.map((p) => <option value={p} />)}</datalist>
          <button class="btn primary" type="submit" disabled={!columns.length} data-testid="export-start">Start export</button>
        </form>
      )}
      {job && <Progress job={job} />}
      {job && job.status === "running" && <p class="muted small">Preparing the file… you may close this dialog; the export goes on.</p>}
      {job && job.status === "done" && (
        <a class="btn primary" href={job.download_url} download data-testid="export-download">
          Download CSV ({job.rows_done.toLocaleString()} users)</a>
      )}
      {job && job.status === "failed" && <div class="error-state" role="alert" data-testid="export-failed">Export failed: {job.error}</div>}
      {error && <div class="error-text" role="alert" data-testid="export-error">{error}</div>}
    </Modal>
  );
}
