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

export const PLATFORM_LABELS = { web: "Web", mobile_web: "Mobile web", ios: "iOS", android: "Android", server: "Server" };

// Which of the four Heap platform icons a session gets.
export function platformOf(session) {
  const source = (session.source || "web").toLowerCase();
  if (source === "ios" || source === "android" || source === "server") return source;
  const type = (session.device_type || "").toLowerCase();
  return type === "mobile" || type === "tablet" ? "mobile_web" : "web";
}

const BROWSER_COLORS = { chrome: "#1a73e8", firefox: "#e66000", safari: "#0a84ff", edge: "#0f7bbf", opera: "#ff1b2d" };

export function BrowserIcon({ browser }) {
  const name = (browser || "").toLowerCase();
  const key = Object.keys(BROWSER_COLORS).find((k) => name.includes(k));
  const color = key ? BROWSER_COLORS[key] : "#8a8f98";
  return (
    <Svg>
      <circle cx="12" cy="12" r="9" stroke={color} />
      <circle cx="12" cy="12" r="3.2" stroke={color} />
      <path d="M12 8.8h8.2M9.2 13.6 5 6.6M14.8 13.6 10.6 20.9" stroke={color} />
    </Svg>
  );
}

export const PlayIcon = () => <Svg size={14}><path d="M7 4.5v15l12-7.5z" fill="currentColor" /></Svg>;
export const ChevronIcon = () => <Svg size={14}><path d="m6 9 6 6 6-6" /></Svg>;
export const CloseIcon = () => <Svg size={16}><path d="M6 6l12 12M18 6 6 18" /></Svg>;
export const FilterIcon = () => <Svg size={14}><path d="M3 5h18l-7 8v6l-4-2v-4z" /></Svg>;
export const CalendarIcon = () => <Svg size={14}><rect x="3" y="5" width="18" height="16" rx="2" /><path d="M3 10h18M8 3v4M16 3v4" /></Svg>;
