// An event's properties, and for a raw event the form that defines it (define.jsx).
import { CloseIcon, FilterIcon, sourceLabel } from "./icons.jsx";
import { DefineForm } from "./define.jsx";
import { linkTo, navigate, useRoute } from "./router.jsx";
import { fmtFull } from "./time.js";
import { parseFilters } from "./view.js";

// Ingest keeps a client time that cannot have happened yet (a clock running ahead, no sentAt)
// under this property and files the event at its receipt time instead.
export const ORIGINAL_TIME = "$original_time";
// Frustration signals (the SDK's rage and dead clicks) are shown in red, like Heap's rage clicks.
export const FRUSTRATION = new Set(["rage_click", "dead_click"]);

const text = (v) => (typeof v === "object" ? JSON.stringify(v) : String(v));

// The feed filter "users who did this" for a shown field: the property the feed filters on (`$…`
// for autocaptured ones) and the value; null for what cannot be filtered on (ids, time).
const FILTERABLE = {
  Path: "$path", Domain: "$domain", URL: "$url", Referrer: "$referrer", "Target text": "$text",
  Browser: "$browser", OS: "$os", "Device type": "$device_type", Country: "$country", Source: "$source",
  utm_source: "$utm_source", utm_medium: "$utm_medium", utm_campaign: "$utm_campaign", utm_term: "$utm_term",
  utm_content: "$utm_content",
};

export function filterFor(event, label, value) {
  if (label === "Event") {
    if (event.definition) return { type: "did_event", event: { definition_id: String(event.definition.id) } };
    const target = event.target || {};
    if (["click", "change", "submit"].includes(event.kind) && target.text) return { type: "did_event", event: { kind: event.kind, text: { op: "equals", value: target.text } } };
    if (event.kind === "pageview" && (event.page || {}).path) return { type: "did_event", event: { kind: "pageview", path: event.page.path } };
    return event.name ? { type: "did_event", event: { kind: event.kind, name: event.name } } : { type: "did_event", event: { kind: event.kind } };
  }
  if (label === "Kind") return { type: "did_event", event: { kind: event.kind } };
  if (label === "Browser") return { type: "event_property", property: "$browser", op: "equals", value: (event.device || {}).browser };
  if (label === "Source") return { type: "event_property", property: "$source", op: "equals", value };
  if (FILTERABLE[label]) return { type: "event_property", property: FILTERABLE[label], op: "equals", value };
  const props = event.properties || {};
  if (label in props && label !== ORIGINAL_TIME && (typeof props[label] !== "object" || props[label] === null)) {
    return { type: "event_property", property: label, op: "equals", value: text(props[label]) };
  }
  return null;
}

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

// "Filter users who did this": the feed, in the same window, filtered on this field.
function FilterThis({ event, label, value }) {
  const route = useRoute();
  const filter = filterFor(event, label, value);
  if (!filter) return null;
  const go = () => {
    const kept = parseFilters(route.query.f).filter((f) => f.type === "seen");
    navigate(linkTo(route, "feed", null, { f: JSON.stringify([...kept, filter]) }));
  };
  return (
    <button class="icon-btn filter-this" title="Filter users who did this" aria-label={`Filter users who did this: ${label} ${value}`}
      data-testid="filter-this" onClick={go}><FilterIcon /></button>
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
        {eventProperties(event).map(([k, v]) => (<><dt>{k}</dt><dd>{v}<FilterThis event={event} label={k} value={v} /></dd></>))}
      </dl>
      {!event.definition && <DefineForm api={api} event={event} definitions={definitions} onDefined={onDefined} />}
    </section>
  );
}
