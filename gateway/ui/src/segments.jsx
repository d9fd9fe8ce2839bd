// Segments: the feed's current view (timeline, filters, search) saved under a name for everyone of
// the environment; the menu lists them with live counts and opens, renames or deletes them.
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { useDismiss } from "./hooks.js";
import { BROWSER_ZONE, currentZone } from "./time.js";
import { ChevronIcon } from "./icons.jsx";
import { searchOf } from "./search.jsx";

// The API's view of the feed's view (the segment body without its name).
export function viewBody(view, search) {
  const { id, from, to } = view.timeline;
  return {
    timeline: id === "custom" ? { range: id, from, to } : { range: id },
    zone: currentZone(), filters: view.filters, q: searchOf(search) || null,
  };
}

// The feed's URL query of a saved view, in the zone its days were days of.
export function queryOfSegment(segment) {
  const { range, from, to } = segment.timeline;
  return {
    range: range === "7d" ? null : range, from: range === "custom" ? from : null, to: range === "custom" ? to : null,
    f: segment.filters.length ? JSON.stringify(segment.filters) : null, q: segment.q || null,
    tz: segment.zone && segment.zone !== BROWSER_ZONE ? segment.zone : null,
  };
}

function SegmentRow({ segment, onOpen, onChanged }) {
  const { api } = useContext(EnvContext);
  const [count, setCount] = useState(null);
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(segment.name);
  const [error, setError] = useState(null);
  // Each count is asked on its own, so a slow one (a rare event filter) holds no other up.
  useEffect(() => {
    let live = true;
    api.segmentCount(segment.id).then((c) => live && setCount(c.count), () => live && setCount("?"));
    return () => { live = false; };
  }, [segment.id, segment.updated_at]);
  const rename = async (e) => {
    e.preventDefault();
    try {
      await api.updateSegment(segment.id, { name });
      setRenaming(false);
      onChanged();
    } catch (err) { setError(err.message); }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the segment "${segment.name}" for everyone?`)) return;
    try { await api.deleteSegment(segment.id); onChanged(); } catch (err) { setError(err.message); }
  };
  return (
    <div class="segment-row" data-testid="segment-row" data-segment={segment.name}>
      {renaming ? (
        <form class="segment-rename" onSubmit={rename}>
          <input value={name} maxLength={200} aria-label="Segment name" data-testid="segment-rename-input"
            onInput={(e) => setName(e.target.value)} required />
          <button class="btn small primary" type="submit">Save</button>
          <button class="btn small" type="button" onClick={() => setRenaming(false)}>Cancel</button>
        </form>
      ) : (
        <button class="menu-item segment-open" role="menuitem" onClick={() => onOpen(segment)} data-testid="segment-open">
          <strong>{segment.name}</strong>
          <span class="muted small" data-testid="segment-count">
            {count === null ? "counting…" : typeof count === "number" ? `${count.toLocaleString()} ${count === 1 ? "user" : "users"}` : "count unavailable"}
          </span>
        </button>
      )}
      {!renaming && (
        <span class="segment-actions">
          <button class="btn small ghost" onClick={() => setRenaming(true)} data-testid="segment-rename">Rename</button>
          <button class="btn small ghost" onClick={remove} data-testid="segment-delete">Delete</button>
        </span>
      )}
      {error && <div class="error-text" role="alert">{error}</div>}
    </div>
  );
}

export function SegmentsMenu({ view, search, onOpen }) {
  const { api } = useContext(EnvContext);
  const [open, setOpen] = useState(false);
  const [list, setList] = useState({ segments: null, error: null });
  const [name, setName] = useState("");
  const [saveError, setSaveError] = useState(null);
  const box = useRef(null);
  useDismiss(box, open, () => setOpen(false));
  const load = () => api.segments().then((d) => setList({ segments: d.segments, error: null }),
    (err) => setList({ segments: null, error: err.message }));
  const toggle = () => {
    if (!open) load();
    setOpen(!open);
  };
  const save = async (e) => {
    e.preventDefault();
    setSaveError(null);
    try {
      await api.createSegment({ name, ...viewBody(view, search) });
      setName("");
      load();
    } catch (err) { setSaveError(err.message); }
  };
  return (
    <div class="dropdown" ref={box} data-testid="segments">
      <button class="btn" onClick={toggle} aria-haspopup="true" aria-expanded={open ? "true" : "false"} data-testid="segments-button">
        Segments <ChevronIcon />
      </button>
      {open && (
        <div class="menu wide segments-menu" role="menu">
          <form class="segment-save" onSubmit={save}>
            <input value={name} maxLength={200} placeholder="Name this view" aria-label="New segment name"
              onInput={(e) => setName(e.target.value)} required data-testid="segment-name" />
            <button class="btn small primary" type="submit" data-testid="segment-save">Save view</button>
          </form>
          {saveError && <div class="error-text" role="alert" data-testid="segment-error">{saveError}</div>}
          {list.error && <div class="error-text" role="alert">{list.error}</div>}
          {list.segments && list.segments.length === 0 && <p class="muted small">No segment yet: save the view above.</p>}
          {list.segments && list.segments.map((s) => (
            <SegmentRow key={`${s.id}-${s.updated_at}`} segment={s} onChanged={load}
              onOpen={(seg) => { setOpen(false); onOpen(seg); }} />
          ))}
        </div>
      )}
    </div>
  );
}
