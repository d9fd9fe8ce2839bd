// "Define this event": the suggested criteria shown and editable, a live preview of what they
// would label, a warning before a duplicate name, then Define (with Undo, see main.jsx).
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { useDebounced } from "./hooks.js";
import { count } from "./time.js";

export const COLORS = ["#6c5ce7", "#00a3a3", "#e17055", "#0984e3", "#d63384", "#2d9d5a", "#f0a500"];
const ELEMENT_KINDS = new Set(["click", "change", "submit", "rage_click", "dead_click"]);
const TEXT_OPS = [["equals", "is"], ["contains", "contains"], ["wildcard", "matches (*)"]];

export const sameName = (a, b) => a.trim().toLowerCase() === b.trim().toLowerCase();

export function nameTaken(name, definitions, exceptId) {
  return name.trim() ? definitions.find((d) => !d.archived && d.id !== exceptId && sameName(d.name, name)) : null;
}

export function Swatches({ color, onChange }) {
  return (
    <div class="swatches" role="group" aria-label="Colour">
      {COLORS.map((c) => (
        <button type="button" class={`swatch ${c === color ? "on" : ""}`} style={{ background: c }}
          aria-label={`colour ${c}`} aria-pressed={c === color ? "true" : "false"} onClick={() => onChange(c)} />
      ))}
    </div>
  );
}

// The suggestion as editable parts: each condition can be kept or dropped, and edited.
function partsOf(criteria) {
  return {
    kind: criteria.kind || null,
    name: criteria.name || "", useName: !!criteria.name,
    selector: criteria.selector || "", useSelector: !!criteria.selector,
    textOp: (criteria.text && criteria.text.op) || "equals", text: (criteria.text && criteria.text.value) || "", useText: !!criteria.text,
    path: criteria.path || "", usePath: !!criteria.path,
  };
}

export function criteriaOf(parts) {
  const out = {};
  if (parts.kind) out.kind = parts.kind;
  if (parts.useName && parts.name) out.name = parts.name;
  if (parts.useSelector && parts.selector.trim()) out.selector = parts.selector.trim();
  if (parts.useText && parts.text) out.text = { op: parts.textOp, value: parts.text };
  if (parts.usePath && parts.path.trim()) out.path = parts.path.trim();
  return out;
}

function CriteriaEditor({ parts, onChange, uid }) {
  const set = (patch) => onChange({ ...parts, ...patch });
  const element = ELEMENT_KINDS.has(parts.kind);
  return (
    <fieldset class="criteria" data-testid="define-criteria">
      <legend>Matches <strong>{parts.kind || "any"}</strong> events</legend>
      {(parts.kind === "custom" || parts.kind === "screen") && (
        <label class="check"><input type="checkbox" checked={parts.useName} onChange={(e) => set({ useName: e.target.checked })} />
          named <input value={parts.name} aria-label="Event name to match" onInput={(e) => set({ name: e.target.value })} data-testid="criteria-name" /></label>
      )}
      {element && (
        <label class="check"><input type="checkbox" checked={parts.useSelector} onChange={(e) => set({ useSelector: e.target.checked })}
          data-testid="criteria-use-selector" />
          on element <input value={parts.selector} aria-label="CSS selector" onInput={(e) => set({ selector: e.target.value })} data-testid="criteria-selector" /></label>
      )}
      {element && (
        <label class="check"><input type="checkbox" checked={parts.useText} onChange={(e) => set({ useText: e.target.checked })} data-testid="criteria-use-text" />
          with text
          <select value={parts.textOp} aria-label="Text operator" onChange={(e) => set({ textOp: e.target.value })}>
            {TEXT_OPS.map(([op, label]) => <option value={op}>{label}</option>)}
          </select>
          <input value={parts.text} aria-label="Element text" onInput={(e) => set({ text: e.target.value })} data-testid="criteria-text" /></label>
      )}
      <div class="scope" role="radiogroup" aria-label="Pages">
        <label><input type="radio" name={`scope-${uid}`} checked={parts.usePath} disabled={!parts.path} onChange={() => set({ usePath: true })}
          data-testid="scope-page" /> This page only{parts.path ? "" : " (no path)"}</label>
        {parts.usePath && <input value={parts.path} aria-label="Path (* matches anything)" onInput={(e) => set({ path: e.target.value })} data-testid="criteria-path" />}
        <label><input type="radio" name={`scope-${uid}`} checked={!parts.usePath} onChange={() => set({ usePath: false })} data-testid="scope-any" /> Any page</label>
      </div>
    </fieldset>
  );
}

// "Matches 12 events from 3 users in the window", recounted as the criteria change.
export function Preview({ criteria }) {
  const { api, viewWindow } = useContext(EnvContext);
  const key = useDebounced(JSON.stringify(criteria), 350);
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api.preview({ criteria: JSON.parse(key), ...viewWindow() })
      .then((p) => live && setState({ preview: p }))
      .catch((err) => live && setState({ error: err.message }));
    return () => { live = false; };
  }, [key, api]);
  let body;
  if (state.error) body = <span class="error-text">{state.error}</span>;
  else if (!state.preview) body = <span class="muted">Counting matches…</span>;
  else {
    const p = state.preview;
    body = (
      <span>Matches {p.events_exact ? "" : "at least "}<strong>{count(p.events, "event")}</strong> from{" "}
        <strong>{p.users_exact ? count(p.users, "user") : `${p.users.toLocaleString()}+ users`}</strong> in the window</span>
    );
  }
  return <div class={`preview ${state.loading ? "stale" : ""}`} aria-live="polite" data-testid="define-preview">{body}</div>;
}

export function DefineForm({ api, event, definitions, onDefined }) {
  const [suggestion, setSuggestion] = useState(null);
  const [parts, setParts] = useState(null);
  const [name, setName] = useState("");
  const [color, setColor] = useState(COLORS[0]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    api.suggest(event.event_id).then((s) => {
      if (!live) return;
      setSuggestion(s);
      setParts(partsOf(s.criteria));
      setName(s.name || event.raw_name);
    }).catch((err) => live && setError(err.message));
    return () => { live = false; };
  }, [event.event_id]);
  const criteria = useMemo(() => (parts ? criteriaOf(parts) : null), [parts]);
  const twin = nameTaken(name, definitions || []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.define({ name: name.trim(), color, category: "Users & Sessions", criteria });
      onDefined(created);
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <form class="define" onSubmit={submit} data-testid="define-form" aria-label="Define this event">
      <div class="define-title">Define this event</div>
      <p class="muted small">It will be labelled everywhere, including past sessions.</p>
      <label class="field">Name
        <input name="definition-name" value={name} onInput={(e) => setName(e.target.value)} placeholder="Event name"
          disabled={!suggestion} data-testid="define-name" aria-invalid={twin ? "true" : "false"} aria-describedby={twin ? `dup-${event.event_id}` : undefined} />
      </label>
      {twin && <div class="warn-text" id={`dup-${event.event_id}`} role="alert" data-testid="define-duplicate">
        A definition named “{twin.name}” already exists. Pick another name.</div>}
      {parts && <CriteriaEditor parts={parts} onChange={setParts} uid={event.event_id} />}
      {criteria && Object.keys(criteria).length > 0 && <Preview criteria={criteria} />}
      <Swatches color={color} onChange={setColor} />
      {error && <div class="error-text" role="alert">{error}</div>}
      <button class="btn primary small" type="submit" disabled={!suggestion || !name.trim() || busy || !!twin} data-testid="define-submit">
        {busy ? "Defining…" : "Define"}
      </button>
    </form>
  );
}
