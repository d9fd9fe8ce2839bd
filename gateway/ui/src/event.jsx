// An event's properties, and for a raw event the form that defines it (define.jsx).
import { CloseIcon, sourceLabel } from "./icons.jsx";
import { DefineForm } from "./define.jsx";
import { fmtFull } from "./time.js";

// Ingest keeps a client time that cannot have happened yet (a clock running ahead, no sentAt)
// under this property and files the event at its receipt time instead.
export const ORIGINAL_TIME = "$original_time";
// Frustration signals (the SDK's rage and dead clicks) are shown in red, like Heap's rage clicks.
export const FRUSTRATION = new Set(["rage_click", "dead_click"]);

const text = (v) => (typeof v === "object" ? JSON.stringify(v) : String(v));

// Every field worth showing, flattened: "Path", "Domain", "Browser", then custom properties. Text only.
export function eventProperties(event) {
  const props = event.properties || {};
  const rows = [["Event", event.display_name], ["Kind", event.kind], ["Source", sourceLabel(event.source)], ["Time", fmtFull(event.time)]];
  const add = (label, value) => value !== undefined && value !== null && value !== "" && rows.push([label, text(value)]);
  const page = event.page || {};
  add("Path", page.path); add("Domain", page.domain); add("URL", page.url); add("Title", page.title);
  add("Query", page.query); add("Hash", page.hash); add("Referrer", page.referrer);
  const target = event.target || {};
  add("Target text", target.text); add("Href", target.href);
  if (target.hierarchy && target.hierarchy.length) {
    add("Target", target.hierarchy.slice(0, 4).map((n) => n.tag + (n.id ? `#${n.id}` : "") + (n.classes || []).map((c) => `.${c}`).join("")).reverse().join(" > "));
  }
  const device = event.device || {};
  add("App version", device.app_version); add("Device model", device.model);
  add("Browser", [device.browser, device.browser_version].filter(Boolean).join(" "));
  add("OS", device.os); add("OS version", device.os_version);
  add("Device type", device.device_type); add("Screen", device.screen);
  const geo = event.geo || {};
  add("Country", geo.country); add("Region", geo.region); add("City", geo.city);
  Object.entries(event.campaign || {}).forEach(([k, v]) => add(k, v));
  add("Session ID", event.session_id); add("Event ID", event.event_id);
  Object.entries(props).filter(([k]) => k !== ORIGINAL_TIME).forEach(([k, v]) => add(k, v));
  return rows;
}

function ClampedNote({ event }) {
  const original = (event.properties || {})[ORIGINAL_TIME];
  if (!original) return null;
  return (
    <p class="note warn" role="note" data-testid="clamped-note">
      The device's clock said {fmtFull(original)}, which had not happened yet when the event arrived;
      it is shown at the time Footfall received it.
    </p>
  );
}

export function EventPanel({ api, event, definitions, onClose, onDefined }) {
  return (
    <section class="event-panel" data-testid="event-panel" aria-label={`Event ${event.display_name}`}>
      <div class="panel-head">
        {event.definition ? <span class="marker" style={{ background: event.definition.color }} /> : <span class="marker hollow" />}
        <strong class="panel-title" data-testid="event-panel-name">{event.display_name}</strong>
        <span class="muted small">{event.definition ? "Defined event" : "Raw event"}</span>
        <button class="icon-btn" aria-label="Close event properties" onClick={onClose}><CloseIcon /></button>
      </div>
      <ClampedNote event={event} />
      <dl class="props" data-testid="event-properties">
        {eventProperties(event).map(([k, v]) => (<><dt>{k}</dt><dd>{v}</dd></>))}
      </dl>
      {!event.definition && <DefineForm api={api} event={event} definitions={definitions} onDefined={onDefined} />}
    </section>
  );
}
