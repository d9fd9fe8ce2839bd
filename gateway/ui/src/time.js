// Dates and times in one named time zone: the browser's, unless the view picks another (?tz=).
// The API speaks ISO 8601 UTC; days ("2024-11-20") are days of the chosen zone.
const DAY = 86400000;

export const PRESETS = [
  { id: "today", label: "Today" },
  { id: "yesterday", label: "Yesterday" },
  { id: "7d", label: "Past 7 days" },
  { id: "30d", label: "Past 30 days" },
  { id: "90d", label: "Past 90 days" },
  { id: "custom", label: "Custom range…" },
];

export const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export function isZone(tz) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function formatsFor(timeZone) {
  const f = (options) => new Intl.DateTimeFormat(undefined, { timeZone, ...options });
  return {
    dateTime: f({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
    full: f({ year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" }),
    time: f({ hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    date: f({ year: "numeric", month: "short", day: "numeric" }),
    parts: new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    offset: new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "shortOffset" }),
  };
}

let zone = BROWSER_ZONE;
let formats = formatsFor(zone);

// Every formatter below follows the zone set here (the App sets it from the URL on each render).
export function setZone(tz) {
  const next = tz && isZone(tz) ? tz : BROWSER_ZONE;
  if (next !== zone) {
    zone = next;
    formats = formatsFor(zone);
  }
  return zone;
}

export const currentZone = () => zone;

export function zoneOffset(tz = zone, at = Date.now()) {
  const f = tz === zone ? formats.offset : new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: "shortOffset" });
  return (f.formatToParts(new Date(at)).find((p) => p.type === "timeZoneName") || {}).value || "GMT";
}

export const zoneLabel = (tz = zone) => `${tz.replaceAll("_", " ")} (${zoneOffset(tz)})`;

export function zoneChoices() {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([BROWSER_ZONE, "UTC", ...all])];
}

// The zone's wall clock at an instant.
function wall(ms) {
  const p = {};
  formats.parts.formatToParts(new Date(ms)).forEach(({ type, value }) => { p[type] = Number(value); });
  return { y: p.year, m: p.month, d: p.day, h: p.hour % 24, mi: p.minute, s: p.second };
}

function offsetAt(ms) {
  const w = wall(ms);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

// The instant a day begins in the zone: "2024-11-20" in Berlin is 2024-11-19T23:00:00Z.
export function startOfDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  // Twice: the offset at the guess can differ from the offset at the answer across a DST change.
  return guess - offsetAt(guess - offsetAt(guess));
}

const pad = (n) => String(n).padStart(2, "0");

// The zone's day of an instant, as "YYYY-MM-DD".
export function dayOf(ms = Date.now()) {
  const w = wall(ms);
  return `${w.y}-${pad(w.m)}-${pad(w.d)}`;
}

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d) + n * DAY).toISOString().slice(0, 10);
}

export const isDay = (s) => typeof s === "string" && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s));

// Whole days [from, to] of the zone as an API window: from the first midnight to the one after `to`.
export const daysWindow = (from, to) => ({ from: new Date(startOfDay(from)).toISOString(), to: new Date(startOfDay(addDays(to, 1))).toISOString() });

// The [from, to] window of a timeline choice; no `to` means "now" (so polling sees new activity).
export function windowOf(timeline, now = Date.now()) {
  switch (timeline.id) {
    case "today": return { from: new Date(startOfDay(dayOf(now))).toISOString() };
    case "yesterday": {
      const today = dayOf(now);
      return daysWindow(addDays(today, -1), addDays(today, -1));
    }
    case "30d": return { from: new Date(now - 30 * DAY).toISOString() };
    case "90d": return { from: new Date(now - 90 * DAY).toISOString() };
    case "custom": return daysWindow(timeline.from, timeline.to);
    default: return { from: new Date(now - 7 * DAY).toISOString() };
  }
}

// A day as people read it, without any zone shift: "Nov 20, 2024".
const dayFormat = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", year: "numeric", month: "short", day: "numeric" });
export const fmtDay = (day) => dayFormat.format(new Date(`${day}T00:00:00Z`));
export const fmtDays = (from, to) => (from === to ? fmtDay(from) : `${fmtDay(from)} – ${fmtDay(to)}`);

export function timelineLabel(timeline) {
  if (timeline.id === "custom") return fmtDays(timeline.from, timeline.to);
  return (PRESETS.find((p) => p.id === timeline.id) || PRESETS[2]).label;
}

export const fmtDateTime = (iso) => (iso ? formats.dateTime.format(new Date(iso)) : "—");
export const fmtFull = (iso) => (iso ? formats.full.format(new Date(iso)) : "—");
export const fmtTime = (iso) => (iso ? formats.time.format(new Date(iso)) : "—");
export const fmtDate = (iso) => (iso ? formats.date.format(new Date(iso)) : "—");

// "1 session", "2 sessions": a count with its noun.
export const count = (n, one, many = `${one}s`) => `${(n ?? 0).toLocaleString()} ${n === 1 ? one : many}`;

export function fmtDuration(seconds) {
  const s = Math.round(seconds || 0);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const diff = (now - new Date(iso).getTime()) / 1000;
  if (diff < -120) return "in the future";
  if (diff < 60) return "just now";
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return `${Math.floor(diff / 86400)} d ago`;
}
