// The feed's view as the URL keeps it: ?range=7d|…|custom&from=&to=, ?f=<filters JSON>, ?view=compact.
// Whatever a hand-edited or stale URL holds, the view read from it is valid.
import { PRESETS, daysWindow, isDay, windowOf } from "./time.js";

const TYPES = new Set(["seen", "user_property", "did_event", "did_not_event", "event_property"]);

export function parseFilters(raw) {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw);
    return Array.isArray(list) ? list.filter((f) => f && typeof f === "object" && TYPES.has(f.type)
      && (f.type !== "seen" || (isDay(f.from) && isDay(f.to)))) : [];
  } catch {
    return [];
  }
}

export function viewOf(query) {
  const range = PRESETS.some((p) => p.id === query.range) ? query.range : "7d";
  const timeline = range !== "custom" ? { id: range }
    : isDay(query.from) && isDay(query.to) ? { id: "custom", from: query.from, to: query.to } : { id: "7d" };
  const filters = parseFilters(query.f);
  return { timeline, filters, seen: filters.find((f) => f.type === "seen") || null, compact: query.view === "compact" };
}

// The query keys of a timeline choice (a preset drops any time filter: the window is one thing).
export function timelineQuery(timeline, filters) {
  const rest = filters.filter((f) => f.type !== "seen");
  return {
    range: timeline.id === "7d" ? null : timeline.id,
    from: timeline.id === "custom" ? timeline.from : null,
    to: timeline.id === "custom" ? timeline.to : null,
    f: rest.length ? JSON.stringify(rest) : null,
  };
}

export const filtersQuery = (filters) => ({ f: filters.length ? JSON.stringify(filters) : null });

// The feed window. A time filter ("seen between two days") IS the window rather than a condition
// ANDed with the timeline: "Nov 20–26" must find the people seen then, whatever the timeline said.
export function windowFor(view, now = Date.now()) {
  return view.seen ? daysWindow(view.seen.from, view.seen.to) : windowOf(view.timeline, now);
}

// What the API filters on: every condition but the time filter, which became the window.
export const apiFilters = (filters) => filters.filter((f) => f.type !== "seen");
