// Timeline presets and date formatting (the feed API speaks ISO 8601 UTC).
const DAY = 86400000;

export const PRESETS = [
  { id: "today", label: "Today" },
  { id: "yesterday", label: "Yesterday" },
  { id: "7d", label: "Past 7 days" },
  { id: "30d", label: "Past 30 days" },
  { id: "90d", label: "Past 90 days" },
  { id: "custom", label: "Custom range…" },
];

function startOfDay(d) {
  const x = new Date(d);
  x.setHours(0, 0, 0, 0);
  return x;
}

// The [from, to] window of a timeline choice; `to` undefined means "now" (so polling sees new activity).
export function windowOf(timeline, now = new Date()) {
  switch (timeline.id) {
    case "today": return { from: startOfDay(now).toISOString() };
    case "yesterday": {
      const today = startOfDay(now);
      return { from: new Date(today - DAY).toISOString(), to: today.toISOString() };
    }
    case "30d": return { from: new Date(now - 30 * DAY).toISOString() };
    case "90d": return { from: new Date(now - 90 * DAY).toISOString() };
    case "custom": return {
      from: new Date(timeline.from + "T00:00:00").toISOString(),
      to: new Date(new Date(timeline.to + "T00:00:00").getTime() + DAY).toISOString(),
    };
    default: return { from: new Date(now - 7 * DAY).toISOString() };
  }
}

export function timelineLabel(timeline) {
  if (timeline.id === "custom") return `${timeline.from} → ${timeline.to}`;
  return PRESETS.find((p) => p.id === timeline.id).label;
}

const dateTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateOnly = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

export const fmtDateTime = (iso) => (iso ? dateTime.format(new Date(iso)) : "—");
export const fmtTime = (iso) => (iso ? timeOnly.format(new Date(iso)) : "—");
export const fmtDate = (iso) => (iso ? dateOnly.format(new Date(iso)) : "—");

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
  if (diff < 60) return "just now";
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return `${Math.floor(diff / 86400)} d ago`;
}

export const todayISO = () => new Date().toISOString().slice(0, 10);
