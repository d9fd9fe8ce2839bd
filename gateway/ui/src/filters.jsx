// Add Filter: time, user property (identity included), did / did not do an event, event property
// (custom, or autocaptured `$path`, `$browser`…). Conditions AND; a time filter sets the window
// instead (view.js). Text operators ignore case unless "Exact case" is ticked.
//
// Property and value inputs take suggestions through `suggest` ({ properties(scope, text),
// values(scope, property, text) }, each answering a promise of strings), so a catalogue of
// properties and values can plug in without touching the editor. Without one, user properties
// come from the users on screen.
import { useEffect, useRef, useState } from "preact/hooks";
import { CloseIcon, FilterIcon } from "./icons.jsx";
import { useDebounced, useDismiss, useLatest } from "./hooks.js";
import { addDays, dayOf, fmtDays } from "./time.js";

export const OPERATORS = [
  ["equals", "equals"], ["not_equals", "does not equal"], ["contains", "contains"],
  ["not_contains", "does not contain"], ["starts_with", "starts with"], ["ends_with", "ends with"],
  ["wildcard", "matches (*)"], ["is_set", "is set"], ["is_not_set", "is not set"],
  ["gt", "greater than"], ["lt", "less than"],
];
const NO_VALUE = new Set(["is_set", "is_not_set"]);
const opLabel = (op) => (OPERATORS.find(([k]) => k === op) || [op, op])[1];
const KINDS = [["pageview", "Pageview"], ["click", "Click"], ["change", "Change"], ["submit", "Submit"],
  ["rage_click", "Rage click"], ["dead_click", "Dead click"], ["custom", "Custom event"], ["screen", "Screen view"]];
const kindLabel = (kind) => (KINDS.find(([k]) => k === kind) || [kind, String(kind || "event")])[1].toLowerCase();

// Autocaptured event properties, as the feed names them, and how the editor shows them.
export const AUTOCAPTURED = [
  ["$path", "Path"], ["$domain", "Domain"], ["$url", "URL"], ["$text", "Target text"], ["$name", "Event name"],
  ["$referrer", "Referrer"], ["$landing_page", "Landing page"], ["$utm_source", "UTM source"],
  ["$utm_medium", "UTM medium"], ["$utm_campaign", "UTM campaign"], ["$utm_term", "UTM term"],
  ["$utm_content", "UTM content"], ["$browser", "Browser"], ["$os", "OS"], ["$device_type", "Device type"],
  ["$country", "Country"], ["$source", "Source"], ["$kind", "Kind"],
];
const propLabel = (p) => (AUTOCAPTURED.find(([k]) => k === p) || [p, p])[1];
// What a raw event of a kind is named by: the target's text, the page's path, or its name.
const NAMED_BY = { click: "text", change: "text", submit: "text", pageview: "path" };

function eventLabel(event, definitions) {
  if (!event) return "any event";
  if (event.definition_id) {
    const d = definitions.find((x) => String(x.id) === String(event.definition_id));
    return d ? d.name : `definition ${event.definition_id}`;
  }
  // A raw kind on a page ("rage click on /checkout") is sent as criteria.
  const c = event.criteria;
  if (c && !Array.isArray(c) && typeof c === "object") {
    return [c.kind ? kindLabel(c.kind) : "event", c.name && `“${c.name}”`, c.path && `on ${c.path}`].filter(Boolean).join(" ");
  }
  const kind = event.kind || "event";
  if (event.text) return `${kind} on “${event.text.value}”`;
  if (event.path) return `${kind} of “${event.path}”`;
  return event.name ? `${kind} “${event.name}”` : `any ${kind}`;
}

const conditionText = (c) => `${propLabel(c.property)} ${opLabel(c.op)}${NO_VALUE.has(c.op) ? "" : ` “${c.value}”`}${c.exact_case ? " (exact case)" : ""}`;

export function describe(condition, definitions) {
  switch (condition.type) {
    case "seen": return `Seen ${fmtDays(condition.from, condition.to)}`;
    case "user_property": return conditionText(condition);
    case "event_property": return `Did any event where ${conditionText(condition)}`;
    case "did_event":
    case "did_not_event": {
      const where = (condition.where || []).map((w) => ` where ${conditionText(w)}`).join("");
      return `${condition.type === "did_event" ? "Did" : "Did not do"} ${eventLabel(condition.event, definitions)}${where}`;
    }
    default: return JSON.stringify(condition);
  }
}

// A text input offering suggestions (a <datalist>): a fixed list, or answers to what is typed.
// `lookupKey` says when answers must be asked again (the property a value belongs to).
function SuggestInput({ value, onInput, options, lookup, lookupKey, listId, ...rest }) {
  const typed = useDebounced(value, 200);
  const [found, setFound] = useState([]);
  const ask = useLatest(lookup);
  useEffect(() => {
    if (!ask.current) return undefined;
    let live = true;
    ask.current(typed).then((list) => live && setFound(list || [])).catch(() => live && setFound([]));
    return () => { live = false; };
  }, [typed, lookupKey, !!lookup]);
  const shown = lookup ? found : options || [];
  return (
    <>
      <input list={listId} value={value} onInput={(e) => onInput(e.target.value)} autoComplete="off" {...rest} />
      <datalist id={listId}>{shown.slice(0, 200).map((p) => <option value={p} />)}</datalist>
    </>
  );
}

function PropertyCondition({ value, onChange, scope, properties, suggest, testid }) {
  const propertyLookup = suggest && suggest.properties ? (text) => suggest.properties(scope, text) : null;
  const valueLookup = suggest && suggest.values && value.property ? (text) => suggest.values(scope, value.property, text) : null;
  return (
    <div class="row wrap">
      <SuggestInput listId={`${scope}-props`} options={properties} lookup={propertyLookup} lookupKey={scope} placeholder="property"
        aria-label="Property" value={value.property} data-testid={`${testid}-property`}
        onInput={(property) => onChange({ ...value, property })} />
      <select value={value.op} onChange={(e) => onChange({ ...value, op: e.target.value })} aria-label="Operator" data-testid={`${testid}-op`}>
        {OPERATORS.map(([k, label]) => <option value={k}>{label}</option>)}
      </select>
      {!NO_VALUE.has(value.op) && (
        <SuggestInput listId={`${scope}-values`} lookup={valueLookup} lookupKey={`${scope}:${value.property}`} placeholder="value" aria-label="Value"
          value={value.value} data-testid={`${testid}-value`} onInput={(v) => onChange({ ...value, value: v })} />
      )}
      {!NO_VALUE.has(value.op) && !["gt", "lt"].includes(value.op) && (
        <label class="small check"><input type="checkbox" checked={!!value.exact_case} data-testid={`${testid}-exact-case`}
          onChange={(e) => onChange({ ...value, exact_case: e.target.checked })} /> Exact case</label>
      )}
    </div>
  );
}

function EventChooser({ value, onChange, definitions, suggest, anyEvent }) {
  const kind = value.ref.startsWith("kind:") ? value.ref.slice(5) : null;
  const named = { text: "button text (optional)", path: "page path, * wildcard (optional)" }[NAMED_BY[kind]] || "name (optional)";
  const lookup = suggest && suggest.events && kind ? (text) => suggest.events(kind, text) : null;
  return (
    <div class="row wrap">
      <select value={value.ref} onChange={(e) => onChange({ ...value, ref: e.target.value })} aria-label="Event" data-testid="filter-event">
        {anyEvent && <option value="any">Any event</option>}
        <optgroup label="Defined events">
          {definitions.filter((d) => !d.archived).map((d) => <option value={`def:${d.id}`}>{d.name}</option>)}
        </optgroup>
        <optgroup label="Raw events">
          {KINDS.map(([k, label]) => <option value={`kind:${k}`}>{label}</option>)}
        </optgroup>
      </select>
      {kind && (
        <SuggestInput listId="filter-event-names" lookup={lookup} lookupKey={kind} placeholder={named} aria-label="Event name (optional)"
          value={value.name} data-testid="filter-event-name" onInput={(name) => onChange({ ...value, name })} />
      )}
      {value.ref.startsWith("kind:") && (
        <input placeholder="on page, e.g. /checkout (optional)" aria-label="On page path (optional, * wildcard)" value={value.path}
          data-testid="filter-event-path" onInput={(e) => onChange({ ...value, path: e.target.value })} />
      )}
    </div>
  );
}

// A raw event of a kind named as typed: by its target's text, its page's path or its name.
export function rawEvent(kind, name) {
  if (!name) return { kind };
  if (NAMED_BY[kind] === "text") return { kind, text: { op: "equals", value: name } };
  if (NAMED_BY[kind] === "path") return { kind, path: name };
  return { kind, name };
}

function FilterEditor({ type, definitions, properties, suggest, onAdd, onCancel }) {
  const [prop, setProp] = useState({ property: type === "user_property" ? "identity" : "", op: "contains", value: "", exact_case: false });
  const live = definitions.filter((d) => !d.archived);
  const first = type === "event_property" ? "any" : live.length ? `def:${live[0].id}` : "kind:pageview";
  const [evt, setEvt] = useState({ ref: first, name: "", path: "" });
  const [to, setTo] = useState(dayOf());
  const [from, setFrom] = useState(addDays(dayOf(), -6));

  const build = () => {
    // Days of the chosen time zone, kept as days: the chip shows them as picked, never UTC-shifted.
    if (type === "seen") return { type, from: from <= to ? from : to, to: from <= to ? to : from };
    // The value goes as typed: the feed compares text, and gt/lt read numbers and dates from it.
    // (Turning "850780e9" into 8.5078e14 once made `identity contains 850780e9` match nobody.)
    const condition = { property: prop.property.trim(), op: prop.op, ...(NO_VALUE.has(prop.op) ? {} : { value: prop.value }),
      ...(prop.exact_case ? { exact_case: true } : {}) };
    if (type === "user_property") return { type, ...condition };
    if (type === "event_property" && evt.ref === "any") return { type, ...condition };
    const path = evt.path.trim();
    const kind = evt.ref.slice(5);
    const event = evt.ref.startsWith("def:") ? { definition_id: evt.ref.slice(4) }
      : path ? { criteria: { kind, ...(evt.name.trim() ? { name: evt.name.trim() } : {}), path } }
      : rawEvent(kind, evt.name.trim());
    return { type: type === "did_not_event" ? type : "did_event", event, where: type === "event_property" ? [condition] : [] };
  };
  const valid = type === "seen" ? Boolean(from && to) : type === "did_event" || type === "did_not_event" || prop.property.trim();
  return (
    <form class="filter-editor" data-testid="filter-editor" aria-label="New filter" onSubmit={(e) => { e.preventDefault(); if (valid) onAdd(build()); }}>
      {type === "seen" && (
        <div class="row wrap">
          <label>Seen from<input type="date" value={from} onInput={(e) => setFrom(e.target.value)} data-testid="filter-from" /></label>
          <label>to<input type="date" value={to} onInput={(e) => setTo(e.target.value)} data-testid="filter-to" /></label>
        </div>
      )}
      {type === "seen" && <p class="muted small">The time filter sets the window: it replaces the timeline.</p>}
      {type === "user_property" && <PropertyCondition value={prop} onChange={setProp} scope="user" properties={properties} suggest={suggest} testid="filter" />}
      {(type === "did_event" || type === "did_not_event" || type === "event_property") && (
        <EventChooser value={evt} onChange={setEvt} definitions={definitions} suggest={suggest} anyEvent={type === "event_property"} />
      )}
      {type === "event_property" && (<><div class="muted small">where event property</div>
        <PropertyCondition value={prop} onChange={setProp} scope="event" suggest={suggest} testid="filter" /></>)}
      <div class="row end">
        <button type="button" class="btn ghost small" onClick={onCancel}>Cancel</button>
        <button type="submit" class="btn primary small" disabled={!valid} data-testid="filter-apply">Apply filter</button>
      </div>
    </form>
  );
}

const TYPES = [["seen", "Time", "Users seen between two dates"], ["user_property", "User property", "Identity, email, plan…"],
  ["did_event", "Did event", "Users that did an event"], ["did_not_event", "Did not do event", "Users that never did an event in the window"],
  ["event_property", "Event property", "Did an event where a property matches: path, browser, UTM…"]];

export function FilterBar({ filters, onChange, definitions, properties, suggest }) {
  const [menu, setMenu] = useState(false);
  const [editing, setEditing] = useState(null);
  const box = useRef(null);
  const close = () => { setMenu(false); setEditing(null); };
  useDismiss(box, menu, close);
  const add = (f) => {
    // One time filter at a time: a new one replaces the old (it is the window).
    onChange([...filters.filter((x) => f.type !== "seen" || x.type !== "seen"), f]);
    close();
  };
  return (
    <div class="filters">
      {filters.map((f, i) => (
        <span class="chip" data-testid="filter-chip">
          {describe(f, definitions)}
          <button class="chip-x" aria-label={`Remove filter ${describe(f, definitions)}`} onClick={() => onChange(filters.filter((_, j) => j !== i))}><CloseIcon /></button>
        </span>
      ))}
      <div class="dropdown" ref={box}>
        <button class="btn" onClick={() => (menu ? close() : setMenu(true))} aria-expanded={menu ? "true" : "false"} aria-haspopup="true"
          data-testid="add-filter"><FilterIcon /> Add Filter</button>
        {menu && !editing && (
          <div class="menu" role="menu">
            {TYPES.map(([id, label, hint]) => (
              <button role="menuitem" class="menu-item" onClick={() => setEditing(id)} data-testid={`filter-type-${id}`}>
                <strong>{label}</strong><span class="muted small">{hint}</span>
              </button>
            ))}
          </div>
        )}
        {menu && editing && (
          <div class="menu wide sheet">
            <FilterEditor type={editing} definitions={definitions} properties={properties} suggest={suggest}
              onCancel={() => setEditing(null)} onAdd={add} />
          </div>
        )}
      </div>
      {filters.length > 0 && <button class="btn ghost small" onClick={() => onChange([])}>Clear all</button>}
    </div>
  );
}
