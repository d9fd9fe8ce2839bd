// Small inline SVG icons: platforms (web, mobile web, iOS, Android, server), browsers, actions.
const Svg = ({ children, size = 16, ...rest }) => (
  <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" {...rest}>
    {children}
  </svg>
);

export const PlatformIcons = {
  web: () => <Svg><rect x="3" y="4" width="18" height="12" rx="2" /><path d="M8 20h8M12 16v4" /></Svg>,
  mobile_web: () => <Svg><rect x="7" y="2" width="10" height="20" rx="2" /><circle cx="12" cy="11" r="3" /><path d="M9 11h6" /></Svg>,
  ios: () => <Svg><path d="M16 3c-1 .1-2.2.8-2.9 1.6-.6.7-1.1 1.8-.9 2.8 1.1 0 2.2-.6 2.9-1.5.6-.8 1-1.8.9-2.9zM12.2 8c-1 0-1.9-.6-3-.6C7 7.4 5 9.2 5 12.6c0 3.4 2.3 8.4 4.4 8.4 1.1 0 1.6-.7 2.9-.7s1.6.7 2.8.7c2 0 3.4-3.3 3.9-4.7-2.6-1-3-4.9-.4-6.3-.9-1.2-2.2-1.6-3.2-1.6-1.3 0-2.1.6-3.2.6z" /></Svg>,
  android: () => <Svg><path d="M5 10h14v7a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2zM7 10a5 5 0 0 1 10 0M8 4l1.5 2.5M16 4l-1.5 2.5" /><circle cx="9.5" cy="7.8" r=".4" /><circle cx="14.5" cy="7.8" r=".4" /></Svg>,
  server: () => <Svg><rect x="4" y="4" width="16" height="7" rx="1.5" /><rect x="4" y="13" width="16" height="7" rx="1.5" /><path d="M8 7.5h.01M8 16.5h.01" /></Svg>,
};

export const PLATFORM_LABELS = { web: "Web", mobile_web: "Mobile web", ios: "iOS app", android: "Android app", server: "Server" };

// Heap names sources "Web", "iOS", "Android", "Server".
const SOURCE_LABELS = { web: "Web", ios: "iOS", android: "Android", server: "Server" };
export const sourceLabel = (source) => SOURCE_LABELS[(source || "").toLowerCase()] || source || "—";

// Which of the Heap platform icons a session gets.
export function platformOf(session) {
  const source = (session.source || "web").toLowerCase();
  if (source === "ios" || source === "android" || source === "server") return source;
  const type = (session.device_type || "").toLowerCase();
  return type === "mobile" || type === "tablet" ? "mobile_web" : "web";
}

// One glyph per browser family, recognisable by shape as well as colour.
const BROWSERS = {
  chrome: { label: "Chrome", glyph: () => (
    <>
      <circle cx="12" cy="12" r="9" stroke="#db4437" />
      <path d="M12 8.2h8.3" stroke="#db4437" /><path d="M8.7 13.9 4.6 6.8" stroke="#f4b400" /><path d="M15.3 13.9 11 21" stroke="#0f9d58" />
      <circle cx="12" cy="12" r="3.4" fill="#4285f4" stroke="#fff" stroke-width="1.2" />
    </>
  ) },
  safari: { label: "Safari", glyph: () => (
    <>
      <circle cx="12" cy="12" r="9" stroke="#1b8cf0" />
      <path d="M12 3.5v2M12 18.5v2M3.5 12h2M18.5 12h2" stroke="#1b8cf0" stroke-width="1.2" />
      <path d="m15.6 8.4-2.1 5.1-5.1 2.1 2.1-5.1z" fill="#e0443e" stroke="#e0443e" stroke-width="1" />
    </>
  ) },
  firefox: { label: "Firefox", glyph: () => (
    <>
      <circle cx="12" cy="12.5" r="8.5" stroke="#7542e5" />
      <path d="M4.6 8.6C6 4.8 10 3 13.5 3.6c-1.3.9-1.6 2.1-1.3 3 2.7-.6 6 1.4 6.3 5.2.3 4-3 7-6.7 6.8A6.3 6.3 0 0 1 6 12.4" stroke="#ff7139" stroke-width="2" />
    </>
  ) },
  edge: { label: "Edge", glyph: () => (
    <>
      <path d="M20.5 13.5c0 4-3.8 7-8.3 7A8.6 8.6 0 0 1 3.5 12c0-4.8 3.9-8.5 8.8-8.5 4.6 0 8.2 3.1 8.2 7 0 2.2-1.8 3.6-4.2 3.6-2.1 0-3.3-.9-3.3-2.1" stroke="#0c7ad6" stroke-width="2" />
      <path d="M7.5 15.5c1 1.8 3 2.8 5.3 2.6" stroke="#36c06b" stroke-width="2" />
    </>
  ) },
  opera: { label: "Opera", glyph: () => <ellipse cx="12" cy="12" rx="5.2" ry="8.4" stroke="#ff1b2d" stroke-width="2.6" /> },
  samsung: { label: "Samsung Internet", glyph: () => (
    <>
      <circle cx="12" cy="12" r="6.5" stroke="#6c4fdd" stroke-width="2" />
      <ellipse cx="12" cy="12" rx="10" ry="3.6" transform="rotate(-25 12 12)" stroke="#6c4fdd" stroke-width="1.4" />
    </>
  ) },
  other: { label: "Browser", glyph: () => (
    <>
      <circle cx="12" cy="12" r="9" stroke="#6b7185" />
      <path d="M3 12h18M12 3c2.6 2.6 2.6 15.4 0 18M12 3c-2.6 2.6-2.6 15.4 0 18" stroke="#6b7185" stroke-width="1.4" />
    </>
  ) },
};

export function browserKey(browser) {
  const name = (browser || "").toLowerCase();
  if (name.includes("samsung")) return "samsung";
  if (name.includes("edge")) return "edge";
  if (name.includes("opera") || name.includes("opr")) return "opera";
  if (name.includes("firefox")) return "firefox";
  if (name.includes("chrom")) return "chrome"; // Chrome, Chrome Mobile, Chromium
  if (name.includes("safari")) return "safari"; // Safari, Mobile Safari
  return "other";
}

export function BrowserIcon({ browser }) {
  const key = browserKey(browser);
  const Glyph = BROWSERS[key].glyph;
  return <Svg data-browser={key}><Glyph /></Svg>;
}

export const PlayIcon = () => <Svg size={14}><path d="M7 4.5v15l12-7.5z" fill="currentColor" /></Svg>;
export const ChevronIcon = () => <Svg size={14}><path d="m6 9 6 6 6-6" /></Svg>;
export const CloseIcon = () => <Svg size={16}><path d="M6 6l12 12M18 6 6 18" /></Svg>;
export const FilterIcon = () => <Svg size={14}><path d="M3 5h18l-7 8v6l-4-2v-4z" /></Svg>;
export const CalendarIcon = () => <Svg size={14}><rect x="3" y="5" width="18" height="16" rx="2" /><path d="M3 10h18M8 3v4M16 3v4" /></Svg>;
export const LinkIcon = () => <Svg size={14}><path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1" /></Svg>;
export const ListIcon = () => <Svg size={14}><path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01" /></Svg>;
export const CardsIcon = () => <Svg size={14}><rect x="3" y="4" width="18" height="7" rx="1.5" /><rect x="3" y="13" width="18" height="7" rx="1.5" /></Svg>;
export const ClockIcon = () => <Svg size={14}><circle cx="12" cy="12" r="9" /><path d="M12 7v5l3 2" /></Svg>;
