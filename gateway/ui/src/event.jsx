// An event's properties, and for a raw event the inline form that defines it (pre-filled).
import { useEffect, useState } from "preact/hooks";
import { CloseIcon } from "./icons.jsx";
import { fmtDateTime } from "./time.js";

const COLORS = ["#6c5ce7", "#00a3a3", "#e17055", "#0984e3", "#d63384", "#2d9d5a", "#f0a500"];

// Every field worth showing, flattened: "Path", "Domain", "Browser", then custom properties. Text only.
export function eventProperties(event) {
  const rows = [["Event", event.display_name], ["Kind", event.kind], ["Source", event.source], ["Time", fmtDateTime(event.time)]];
  const add = (label, value) => value !== undefined && value !== null && value !== "" && rows.push([label, String(value)]);
  const page = event.page || {};
  add("Path", page.path); add("Domain", page.domain); add("URL", page.url); add("Title", page.title);
  add("Query", page.query); add("Hash", page.hash); add("Referrer", page.referrer);
  const target = event.target || {};
  add("Target text", target.text); add("Href", target.href);
  if (target.hierarchy && target.hierarchy.length) {
    add("Target", target.hierarchy.slice(0, 4).map((n) => n.tag + (n.id ? `#${n.id}` : "") + (n.classes || []).map((c) => `.${c}`).join("")).reverse().join(" > "));
  }
  const device = event.device || {};
  add("Browser", device.browser); add("OS", device.os); add("Device type", device.device_type); add("Screen", device.screen);
  const geo = event.geo || {};
  add("Country", geo.country); add("Region", geo.region); add("City", geo.city);
  Object.entries(event.campaign || {}).forEach(([k, v]) => add(k, v));
  add("Session ID", event.session_id); add("Event ID", event.event_id);
  Object.entries(event.properties || {}).forEach(([k, v]) => add(k, typeof v === "object" ? JSON.stringify(v) : v));
  return rows;
}

function DefineForm({ api, event, onDefined }) {
  const [suggestion, setSuggestion] = useState(null);
  const [name, setName] = useState("");
  const [color, setColor] = useState(COLORS[0]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    api.suggest(event.event_id).then((s) => { if (live) { setSuggestion(s); setName(s.name || event.raw_name); } })
      .catch((err) => live && setError(err.message));
    return () => { live = false; };
  }, [event.event_id]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.define({ name: name.trim(), color, category: "Users & Sessions", criteria: suggestion.criteria });
      onDefined();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="define" onSubmit={submit} data-testid="define-form">
      <div class="define-title">Define this event</div>
      <p class="muted small">It will be labelled everywhere, including past sessions.</p>
      <input name="definition-name" value={name} onInput={(e) => setName(e.target.value)} placeholder="Event name"
        disabled={!suggestion} data-testid="define-name" />
      <div class="swatches">
        {COLORS.map((c) => (
          <button type="button" class={`swatch ${c === color ? "on" : ""}`} style={{ background: c }}
            aria-label={`colour ${c}`} onClick={() => setColor(c)} />
        ))}
      </div>
      {error && <div class="error-text" role="alert">{error}</div>}
      <button class="btn primary small" type="submit" disabled={!suggestion || !name.trim() || busy} data-testid="define-submit">
        {busy ? "Defining…" : "Define"}
      </button>
    </form>
  );
}

export function EventPanel({ api, event, onClose, onDefined }) {
  return (
    <div class="event-panel" data-testid="event-panel">
      <div class="panel-head">
        {event.definition ? <span class="marker" style={{ background: event.definition.color }} /> : <span class="marker hollow" />}
        <strong data-testid="event-panel-name">{event.display_name}</strong>
        <span class="muted small">{event.definition ? "Defined event" : "Raw event"}</span>
        <button class="icon-btn" aria-label="Close" onClick={onClose}><CloseIcon /></button>
      </div>
      <dl class="props" data-testid="event-properties">
        {eventProperties(event).map(([k, v]) => (<><dt>{k}</dt><dd>{v}</dd></>))}
      </dl>
      {!event.definition && <DefineForm api={api} event={event} onDefined={onDefined} />}
    </div>
  );
}
