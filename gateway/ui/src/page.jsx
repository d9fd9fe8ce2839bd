// The head of every page: its title, Copy link (the URL is the whole view), and the time zone
// every time on the page is shown in.
import { useContext, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { ClockIcon, LinkIcon } from "./icons.jsx";
import { patchQuery } from "./router.jsx";
import { BROWSER_ZONE, currentZone, zoneChoices, zoneLabel } from "./time.js";

export function CopyLink() {
  const [status, setStatus] = useState(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus("Link copied");
    } catch {
      // No clipboard (an insecure origin, a denied permission): show the link to copy by hand.
      window.prompt("Copy this link", location.href);
      setStatus(null);
    }
    setTimeout(() => setStatus(null), 2500);
  };
  return (
    <span class="copy-link">
      <button class="btn small" onClick={copy} data-testid="copy-link"><LinkIcon /> Copy link</button>
      <span class="muted small" role="status" data-testid="copy-status">{status || ""}</span>
    </span>
  );
}

let zones = null;

export function ZoneSwitch() {
  const { route } = useContext(EnvContext);
  const zone = currentZone();
  zones = zones || zoneChoices();
  return (
    <label class="zone" title="Every time on this page is shown in this time zone">
      <ClockIcon /><span class="small">Times in</span>
      <select value={zone} onChange={(e) => patchQuery(route, { tz: e.target.value === BROWSER_ZONE ? null : e.target.value })}
        aria-label="Time zone" data-testid="zone-select">
        {zones.map((z) => <option value={z}>{z === zone ? zoneLabel(z) : z.replaceAll("_", " ")}{z === BROWSER_ZONE ? " — this browser" : ""}</option>)}
      </select>
    </label>
  );
}

export function PageHead({ title, subtitle, children }) {
  return (
    <div class="title-row">
      <h1>{title}</h1>
      {subtitle && <span class="muted subtitle">{subtitle}</span>}
      {children}
      <div class="spacer" />
      <ZoneSwitch />
      <CopyLink />
    </div>
  );
}
