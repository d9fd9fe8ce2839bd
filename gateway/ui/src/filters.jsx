// Add Filter: time, user property (identity included), did event, event property. Conditions AND.
import { useState } from "preact/hooks";
import { CloseIcon, FilterIcon } from "./icons.jsx";

export const OPERATORS = [
  ["equals", "equals"], ["not_equals", "does not equal"], ["contains", "contains"],
  ["not_contains", "does not contain"], ["starts_with", "starts with"], ["ends_with", "ends with"],
  ["wildcard", "matches (*)"], ["is_set", "is set"], ["is_not_set", "is not set"],
  ["gt", "greater than"], ["lt", "less than"],
];
const NO_VALUE = new Set(["is_set", "is_not_set"]);
const opLabel = (op) => (OPERATORS.find(([k]) => k === op) || [op, op])[1];
const KINDS = [["pageview", "Pageview"], ["click", "Click"], ["change", "Change"], ["submit", "Submit"], ["custom", "Custom event"], ["screen", "Screen view"]];

function eventLabel(event, definitions) {
  if (event.definition_id) {
    const d = definitions.find((x) => String(x.id) === String(event.definition_id));
    return d ? d.name : `definition ${event.definition_id}`;
  }
  return event.name ? `${event.kind || "event"} “${event.name}”` : `any ${event.kind}`;
}

export function describe(condition, definitions) {
  switch (condition.type) {
    case "seen": return `Seen ${condition.from ? condition.from.slice(0, 10) : "…"} → ${condition.to ? condition.to.slice(0, 10) : "now"}`;
    case "user_property": return `${condition.property} ${opLabel(condition.op)}${NO_VALUE.has(condition.op) ? "" : ` “${condition.value}”`}`;
    case "did_event": {
      const where = (condition.where || []).map((w) => ` where ${w.property} ${opLabel(w.op)}${NO_VALUE.has(w.op) ? "" : ` “${w.value}”`}`).join("");
      return `Did ${eventLabel(condition.event, definitions)}${where}`;
    }
    default: return JSON.stringify(condition);
  }
}

function PropertyCondition({ value, onChange, properties, listId, testid }) {
  return (
    <div class="row">
      <input list={listId} placeholder="property" value={value.property} data-testid={`${testid}-property`}
        onInput={(e) => onChange({ ...value, property: e.target.value })} />
      {properties && <datalist id={listId}>{properties.map((p) => <option value={p} />)}</datalist>}
      <select value={value.op} onChange={(e) => onChange({ ...value, op: e.target.value })} data-testid={`${testid}-op`}>
        {OPERATORS.map(([k, label]) => <option value={k}>{label}</option>)}
      </select>
      {!NO_VALUE.has(value.op) && (
        <input placeholder="value" value={value.value} data-testid={`${testid}-value`}
          onInput={(e) => onChange({ ...value, value: e.target.value })} />
      )}
    </div>
  );
}

function EventChooser({ value, onChange, definitions }) {
  return (
    <div class="row">
      <select value={value.ref} onChange={(e) => onChange({ ...value, ref: e.target.value })} data-testid="filter-event">
        <optgroup label="Defined events">
          {definitions.filter((d) => !d.archived).map((d) => <option value={`def:${d.id}`}>{d.name}</option>)}
        </optgroup>
        <optgroup label="Raw events">
          {KINDS.map(([k, label]) => <option value={`kind:${k}`}>{label}</option>)}
        </optgroup>
      </select>
      {value.ref.startsWith("kind:") && (
        <input placeholder="name (optional)" value={value.name} data-testid="filter-event-name"
          onInput={(e) => onChange({ ...value, name: e.target.value })} />
      )}
    </div>
  );
}

function FilterEditor({ type, definitions, properties, onAdd, onCancel }) {
  const [prop, setProp] = useState({ property: type === "user_property" ? "identity" : "", op: "contains", value: "" });
  const [evt, setEvt] = useState({ ref: definitions.length ? `def:${definitions[0].id}` : "kind:pageview", name: "" });
  const [from, setFrom] = useState(new Date(Date.now() - 7 * 86400000).toISOString().slice(0, 10));
  const [to, setTo] = useState(new Date().toISOString().slice(0, 10));

  const build = () => {
    if (type === "seen") return { type, from: new Date(from + "T00:00:00").toISOString(), to: new Date(new Date(to + "T00:00:00").getTime() + 86400000).toISOString() };
    // The value goes as typed: the feed compares text, and gt/lt read numbers and dates from it.
    // (Turning "850780e9" into 8.5078e14 once made `identity contains 850780e9` match nobody.)
    const condition = { property: prop.property.trim(), op: prop.op, ...(NO_VALUE.has(prop.op) ? {} : { value: prop.value }) };
    if (type === "user_property") return { type, ...condition };
    const event = evt.ref.startsWith("def:") ? { definition_id: evt.ref.slice(4) }
      : { kind: evt.ref.slice(5), ...(evt.name ? { name: evt.name } : {}) };
    return { type: "did_event", event, where: type === "event_property" ? [condition] : [] };
  };
  const valid = type === "seen" || type === "did_event" || prop.property.trim();
  return (
    <form class="filter-editor" data-testid="filter-editor" onSubmit={(e) => { e.preventDefault(); if (valid) onAdd(build()); }}>
      {type === "seen" && (
        <div class="row">
          <label>Seen from<input type="date" value={from} onInput={(e) => setFrom(e.target.value)} data-testid="filter-from" /></label>
          <label>to<input type="date" value={to} onInput={(e) => setTo(e.target.value)} data-testid="filter-to" /></label>
        </div>
      )}
      {type === "user_property" && <PropertyCondition value={prop} onChange={setProp} properties={properties} listId="user-props" testid="filter" />}
      {(type === "did_event" || type === "event_property") && <EventChooser value={evt} onChange={setEvt} definitions={definitions} />}
      {type === "event_property" && (<><div class="muted small">where event property</div>
        <PropertyCondition value={prop} onChange={setProp} testid="filter" /></>)}
      <div class="row end">
        <button type="button" class="btn ghost small" onClick={onCancel}>Cancel</button>
        <button type="submit" class="btn primary small" disabled={!valid} data-testid="filter-apply">Apply filter</button>
      </div>
    </form>
  );
}

const TYPES = [["seen", "Time", "Users seen between two dates"], ["user_property", "User property", "Identity, email, plan…"],
  ["did_event", "Did event", "Users that did an event"], ["event_property", "Event property", "Did an event where a property matches"]];

export function FilterBar({ filters, onChange, definitions, properties }) {
  const [menu, setMenu] = useState(false);
  const [editing, setEditing] = useState(null);
  return (
    <div class="filters">
      {filters.map((f, i) => (
        <span class="chip" data-testid="filter-chip">
          {describe(f, definitions)}
          <button class="chip-x" aria-label="Remove filter" onClick={() => onChange(filters.filter((_, j) => j !== i))}><CloseIcon /></button>
        </span>
      ))}
      <div class="dropdown">
        <button class="btn" onClick={() => { setMenu(!menu); setEditing(null); }} data-testid="add-filter"><FilterIcon /> Add Filter</button>
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
          <div class="menu wide">
            <FilterEditor type={editing} definitions={definitions} properties={properties}
              onCancel={() => setEditing(null)}
              onAdd={(f) => { onChange([...filters, f]); setMenu(false); setEditing(null); }} />
          </div>
        )}
      </div>
      {filters.length > 0 && <button class="btn ghost small" onClick={() => onChange([])}>Clear all</button>}
    </div>
  );
}
