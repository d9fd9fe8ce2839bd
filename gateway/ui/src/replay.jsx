// A session replay beside the session's events: the event playing now is highlighted, a click on
// an event jumps there; a phone's recording plays inside a device frame.
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { FRUSTRATION } from "./event.jsx";
import { platformOf } from "./icons.jsx";
import { fmtTime } from "./time.js";

// rrweb's meta event (type 4) carries the recorded viewport.
function recordedSize(events) {
  const meta = events.find((e) => e.type === 4 && e.data && e.data.width);
  return meta ? { width: meta.data.width, height: meta.data.height } : { width: 1280, height: 720 };
}

// How big the player is drawn: phones upright in a frame, desktops as wide as the room allows.
export function playerSize(recorded, phone, room) {
  if (phone) {
    const width = Math.min(320, room);
    return { width, height: Math.round(width * Math.min(2.2, Math.max(1.3, recorded.height / recorded.width))) };
  }
  const width = Math.max(280, Math.min(820, room));
  return { width, height: Math.round(width * Math.min(0.75, recorded.height / recorded.width)) };
}

// The controls rrweb-player draws without names get one, so screen readers can say what they do.
function nameControls(root) {
  root.querySelectorAll(".rr-controller__btns button").forEach((b, i, all) => {
    if (b.textContent.trim() || b.getAttribute("aria-label")) return;
    b.setAttribute("aria-label", i === 0 ? "Play or pause" : i === all.length - 1 ? "Full screen" : "Player control");
  });
  root.querySelectorAll("input[type=checkbox]").forEach((input) => {
    const text = (input.closest(".switch") || input.parentElement).textContent.trim();
    if (!input.getAttribute("aria-label")) input.setAttribute("aria-label", text || "Skip inactive periods");
  });
  root.querySelectorAll("iframe").forEach((frame) => frame.setAttribute("title", "Replayed page (recorded, not live)"));
}

export function ReplayView({ sessionId }) {
  const { api, labelsVersion } = useContext(EnvContext);
  const target = useRef(null);
  const player = useRef(null);
  const [state, setState] = useState({ loading: true, error: null, events: [], start: 0, phone: false });
  const [now, setNow] = useState(0);
  useEffect(() => {
    let live = true;
    // The player is loaded on demand so the feed's first render stays small and fast.
    Promise.all([api.session(sessionId), api.replay(sessionId), api.sessionEvents(sessionId).catch(() => ({ events: [] })),
      import("rrweb-player"), import("rrweb-player/dist/style.css")])
      .then(([session, manifest, listed, mod]) => {
        if (!live) return;
        const recording = manifest.events || [];
        if (recording.length < 2) throw new Error("This recording has too few events to play.");
        const phone = platformOf(session) === "mobile_web";
        const room = Math.min(window.innerWidth - 48, phone ? 320 : 820);
        const size = playerSize(recordedSize(recording), phone, room);
        const Player = mod.default;
        // rrweb rebuilds the page in a sandboxed iframe without scripts: recorded scripts never run.
        player.current = new Player({ target: target.current, props: { events: recording, ...size, autoPlay: true, showWarning: false } });
        const start = player.current.getMetaData().startTime;
        player.current.addEventListener("ui-update-current-time", (e) => setNow(start + (e.payload || 0)));
        nameControls(target.current);
        setNow(start);
        setState({ loading: false, error: null, events: listed.events || [], start, phone });
      })
      .catch((err) => live && setState((s) => ({ ...s, loading: false, error: err.message })));
    return () => {
      live = false;
      if (player.current && player.current.$destroy) player.current.$destroy();
      player.current = null;
    };
  }, [sessionId]);
  useEffect(() => {
    if (state.loading || state.error) return;
    api.sessionEvents(sessionId).then((d) => setState((s) => ({ ...s, events: d.events || [] }))).catch(() => {});
  }, [labelsVersion]);
  const times = state.events.map((e) => new Date(e.time).getTime());
  let current = -1;
  times.forEach((t, i) => { if (t <= now + 250) current = i; });
  const jump = (i) => {
    if (!player.current) return;
    // The highlight follows the player's own clock (ui-update-current-time), not this click.
    player.current.goto(Math.max(0, times[i] - state.start), true);
  };
  return (
    <div class="replay-layout" data-testid="replay-view">
      <div class={`replay-stage ${state.phone ? "phone" : ""}`} data-testid="replay-stage" data-device={state.phone ? "phone" : "desktop"}>
        {state.loading && <div class="loading-state"><span class="spinner" /> Loading replay…</div>}
        {state.error && <div class="error-state" role="alert">{state.error}</div>}
        <div class={state.phone ? "device-frame" : ""} data-testid="device-frame-box">
          <div ref={target} class="replay-target" data-testid="replay-player" />
        </div>
      </div>
      {!state.loading && !state.error && (
        <ol class="replay-events" aria-label="Events of this session" data-testid="replay-events">
          {state.events.map((event, i) => (
            <li class={`${i === current ? "current" : ""} ${event.definition ? "defined" : "raw"} ${FRUSTRATION.has(event.kind) ? "frustration" : ""}`}
              data-testid="replay-event" data-current={i === current ? "true" : "false"}>
              <button onClick={() => jump(i)} aria-current={i === current ? "step" : undefined}>
                <span class="marker" style={event.definition ? { background: event.definition.color } : undefined} />
                <span class="event-name">{event.display_name}</span>
                <span class="event-time">{fmtTime(event.time)}</span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
