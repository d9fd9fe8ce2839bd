/**
 * The Footfall browser client: identity, sessions and event properties in first-party storage,
 * Segment-shaped messages with Footfall's extensions, delivered by the queue.
 *
 * Wire shape: ingest's `/v1/batch` (services/ingest/browser.py documents the extension), JSON sent
 * as text/plain with the write key in the body:
 *   {"writeKey", "sentAt", "batch": [{"type": "page"|"track"|"identify", "messageId", "timestamp",
 *    "anonymousId": <user id>, "userId": <identity, when identified>, "event"?, "properties"?,
 *    "traits"?, "context": {"library", "page", "userAgent", "locale", "timezone", "screen",
 *    "campaign"?, "footfall": {"device_id", "session_id", "source": "web", "kind"?,
 *    "target"?: {"hierarchy", "text"?, "href"?}}}}]}
 * `anonymousId` is the client's 53-bit user id (new on reset / identify-as-someone-else) and
 * `footfall.device_id` the device cookie's: both random integers below 2^53 as decimal strings.
 * `kind` is sent for pageviews and autocaptured interactions; custom events and identify omit it.
 */
import { installAutocapture, type InteractionKind } from "./autocapture";
import { hierarchy, targetHref, targetText } from "./dom";
import { watchClicks, type DeadRule, type RageRule } from "./frustration";
import { identify as identifyState, resetIdentity as resetState, type UserState } from "./identity";
import { random53, uuid, keyTag } from "./ids";
import { campaignFrom, pageContext } from "./page";
import { cleanProperties, cleanUserProperties, type Properties } from "./properties";
import { DEFAULT_QUEUE_OPTIONS, Queue, type Message, type Transport } from "./queue";
import { SESSION_TIMEOUT_MS, touchSession, type SessionState } from "./session";
import { CookieJar, localKV, type KV } from "./storage";
import { browserTransport } from "./transport";

export const VERSION = "0.1.0";
const MAX_EVENT_NAME = 512;

export interface Options {
  ingestHost?: string; // where /v1/batch and /sdk-replay.js live; default: where this script came from
  gatewayHost?: string; // where /replay/v1/start lives; default: ingestHost
  replay?: boolean; // record the session with rrweb (lazily loaded); default false
  autocapture?: boolean; // pageviews, clicks, changes, submits; default true
  disableTextCapture?: boolean; // never send target text
  rageClicks?: RageRule | false; // { clicks: 3, withinMs: 1000 } by default; false: not detected
  deadClicks?: DeadRule | false; // { withinMs: 1000 } by default; false: not detected
  flushDelayMs?: number;
}

type Kind = "pageview" | InteractionKind | "custom" | "identify";

/** What the replay bundle may ask of the core (see replay.ts). */
export interface ReplayHost {
  writeKey: string;
  gatewayHost: string;
  deviceId: string;
  sessionId(): string;
  onSession(listener: (sessionId: string) => void): void;
  /** Called by footfall.flush(): upload what was recorded so far. */
  onFlush(listener: () => Promise<void>): void;
}

export class Footfall {
  private writeKey = "";
  private opts: Required<Pick<Options, "ingestHost" | "gatewayHost">> & Options = { ingestHost: "", gatewayHost: "" };
  private cookies!: CookieJar;
  private kv!: KV;
  private queue!: Queue;
  private names = { device: "", user: "", session: "", props: "", queue: "" };
  private sessionListeners: ((sessionId: string) => void)[] = [];
  private flushListeners: (() => Promise<void>)[] = [];
  private early: [string, unknown[]][] = [];
  deviceId = "";

  constructor(
    private transport: Transport = browserTransport,
    private now: () => number = Date.now,
  ) {}

  get initialised(): boolean {
    return this.writeKey !== "";
  }

  init(writeKey: string, options: Options = {}): void {
    if (this.initialised || typeof writeKey !== "string" || !writeKey) return;
    const host = (options.ingestHost || defaultHost()).replace(/\/+$/, "");
    this.opts = { ...options, ingestHost: host, gatewayHost: (options.gatewayHost || host).replace(/\/+$/, "") };
    this.writeKey = writeKey;
    const tag = keyTag(writeKey);
    this.names = {
      device: `_ff_dev_${tag}`,
      user: `_ff_user_${tag}`,
      session: `_ff_ses_${tag}`,
      props: `_ff_props_${tag}`,
      queue: `_ff_queue_${tag}`,
    };
    this.cookies = new CookieJar();
    this.kv = localKV();
    this.deviceId = this.cookies.get<string>(this.names.device) || random53();
    this.cookies.set(this.names.device, this.deviceId); // refreshes the 13-month lifetime
    this.queue = new Queue(this.kv, this.names.queue, this.transport, `${host}/v1/batch`,
      () => ({ writeKey }), { ...DEFAULT_QUEUE_OPTIONS, flushDelayMs: options.flushDelayMs ?? DEFAULT_QUEUE_OPTIONS.flushDelayMs });
    void this.queue.flush(); // whatever an earlier page left undelivered

    const hide = () => this.queue.flushOnHide();
    window.addEventListener("pagehide", hide);
    document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && hide());
    window.addEventListener("online", () => this.queue.retryNow());

    if (options.autocapture !== false) {
      // Replay chunks go to the replay service's own host, which the core does not know.
      const ours = (url: string) => url.startsWith(`${host}/v1/`) || url.includes("/replay/v1/");
      installAutocapture(this, window, watchClicks((signal, el) => this.interaction(signal, el), ours,
        options.rageClicks, options.deadClicks));
    }
    for (const [method, args] of this.early.splice(0)) (this as unknown as Record<string, (...a: unknown[]) => void>)[method](...args);
    if (options.replay) this.loadReplay();
  }

  /** Calls made before init wait for it (the bundle may be used without the snippet). */
  private ready(method: string, args: unknown[]): boolean {
    if (!this.initialised) this.early.push([method, args]);
    return this.initialised;
  }

  // --- state in first-party storage (read each time: another tab may have changed it) --------

  private user(): UserState {
    const stored = this.cookies.get<{ u: string; i: string | null }>(this.names.user);
    if (stored && typeof stored.u === "string") return { userId: stored.u, identity: stored.i ?? null };
    const fresh = { userId: random53(), identity: null };
    this.saveUser(fresh);
    return fresh;
  }

  private saveUser(user: UserState): void {
    this.cookies.set(this.names.user, { u: user.userId, i: user.identity });
  }

  private session(): SessionState | null {
    const s = this.cookies.get<{ s: string; b: number; t: number }>(this.names.session);
    return s && typeof s.s === "string" ? { id: s.s, start: s.b, last: s.t } : null;
  }

  private saveSession(session: SessionState): void {
    this.cookies.set(this.names.session, { s: session.id, b: session.start, t: session.last }, SESSION_TIMEOUT_MS / 1000);
  }

  private eventProperties(): Properties {
    try {
      return JSON.parse(this.kv.get(this.names.props) || "{}");
    } catch {
      return {};
    }
  }

  private saveEventProperties(props: Properties): void {
    if (Object.keys(props).length) this.kv.set(this.names.props, JSON.stringify(props));
    else this.kv.remove(this.names.props);
  }

  // --- sessions ------------------------------------------------------------------------------

  /** Extend the session with activity at `now`, starting a new one after 30 minutes of silence. */
  private touch(now: number): { session: SessionState; started: boolean } {
    const result = touchSession(this.session(), now, random53);
    this.saveSession(result.session);
    if (result.started) this.announce(result.session.id);
    return result;
  }

  private startSession(now: number): SessionState {
    const session = { id: random53(), start: now, last: now };
    this.saveSession(session);
    this.announce(session.id);
    return session;
  }

  private announce(sessionId: string): void {
    for (const listener of this.sessionListeners) listener(sessionId);
  }

  // --- messages ------------------------------------------------------------------------------

  private message(type: string, kind: Kind, session: SessionState, now: number, fields: Record<string, unknown> = {},
    target?: Record<string, unknown>): Message {
    const user = this.user();
    const page = pageContext();
    const footfall: Record<string, unknown> = { device_id: this.deviceId, session_id: session.id, source: "web" };
    if (kind !== "custom" && kind !== "identify") footfall.kind = kind;
    if (target) footfall.target = target;
    const context: Record<string, unknown> = {
      library: { name: "footfall.js", version: VERSION },
      page,
      userAgent: navigator.userAgent,
      locale: navigator.language,
      timezone: timezone(),
      screen: { width: screen.width, height: screen.height },
      footfall,
    };
    const campaign = campaignFrom(page.search);
    if (campaign) context.campaign = campaign;
    const message: Message = { type, messageId: uuid(), timestamp: new Date(now).toISOString(), anonymousId: user.userId, ...fields, context };
    if (user.identity !== null) message.userId = user.identity;
    return message;
  }

  /** Queue an event in the current session; a session started by a non-pageview gets a pageview first (R7). */
  private capture(type: string, kind: Kind, fields: Record<string, unknown> = {}, target?: Record<string, unknown>): void {
    const now = this.now();
    const { session, started } = this.touch(now);
    if (started && kind !== "pageview" && this.opts.autocapture !== false) this.queue.push(this.pageviewMessage(session, now));
    this.queue.push(this.message(type, kind, session, now, fields, target));
  }

  private pageviewMessage(session: SessionState, now: number): Message {
    return this.message("page", "pageview", session, now, { properties: this.eventProperties() });
  }

  /** A new session (identify-as-someone-else, reset) opens with a pageview of the current page. */
  private restartSession(): SessionState {
    const now = this.now();
    const session = this.startSession(now);
    if (this.opts.autocapture !== false) this.queue.push(this.pageviewMessage(session, now));
    return session;
  }

  // --- Capturer (autocapture calls these) -------------------------------------------------------

  pageview(): void {
    this.capture("page", "pageview", { properties: this.eventProperties() });
  }

  interaction(kind: InteractionKind, el: Element): void {
    const target: Record<string, unknown> = { hierarchy: hierarchy(el) };
    const text = this.opts.disableTextCapture ? undefined : targetText(el);
    if (text) target.text = text;
    const href = targetHref(el);
    if (href) target.href = href;
    this.capture("track", kind, { properties: this.eventProperties() }, target);
  }

  // --- public API (docs/semantics.md R11–R21) ---------------------------------------------------

  track(name: unknown, properties?: unknown): void {
    if (!this.ready("track", [name, properties])) return;
    if (typeof name !== "string" || name.trim() === "" || name.length > MAX_EVENT_NAME) return;
    const props = { ...this.eventProperties(), ...cleanProperties(properties) };
    this.capture("track", "custom", { event: name, properties: props });
  }

  identify(identity: unknown): void {
    if (!this.ready("identify", [identity])) return;
    const outcome = identifyState(this.user(), identity, random53);
    if (outcome.kind === "ignored" || outcome.kind === "unchanged") return;
    this.saveUser(outcome.user);
    if (outcome.kind === "new_user") this.restartSession();
    this.capture("identify", "identify");
  }

  resetIdentity(): void {
    if (!this.ready("resetIdentity", [])) return;
    const { user, changed } = resetState(this.user(), random53);
    if (!changed) return;
    this.saveUser(user);
    this.restartSession();
  }

  addUserProperties(properties: unknown): void {
    if (!this.ready("addUserProperties", [properties])) return;
    const traits = cleanUserProperties(properties);
    if (Object.keys(traits).length) this.capture("identify", "identify", { traits });
  }

  addEventProperties(properties: unknown): void {
    if (!this.ready("addEventProperties", [properties])) return;
    this.saveEventProperties({ ...this.eventProperties(), ...cleanProperties(properties) });
  }

  removeEventProperty(name: unknown): void {
    if (!this.ready("removeEventProperty", [name])) return;
    const props = this.eventProperties();
    if (typeof name === "string") delete props[name];
    this.saveEventProperties(props);
  }

  clearEventProperties(): void {
    if (!this.ready("clearEventProperties", [])) return;
    this.saveEventProperties({});
  }

  /** The ids this browser holds now (for debugging and for tests). */
  getIds(): { deviceId: string; userId: string; identity: string | null; sessionId: string | null } {
    const user = this.user();
    return { deviceId: this.deviceId, userId: user.userId, identity: user.identity, sessionId: this.session()?.id ?? null };
  }

  /** Send what is pending now, replay included (tests, and pages about to navigate on purpose). */
  async flush(): Promise<void> {
    if (!this.initialised) return;
    await Promise.all([this.queue.flush(), ...this.flushListeners.map((listener) => listener())]);
  }

  // --- replay ----------------------------------------------------------------------------------

  private replayHost(): ReplayHost {
    return {
      writeKey: this.writeKey,
      gatewayHost: this.opts.gatewayHost,
      deviceId: this.deviceId,
      sessionId: () => {
        const s = this.session();
        return s && this.now() - s.last <= SESSION_TIMEOUT_MS ? s.id : this.touch(this.now()).session.id;
      },
      onSession: (listener) => this.sessionListeners.push(listener),
      onFlush: (listener) => this.flushListeners.push(listener),
    };
  }

  private loadReplay(): void {
    const script = document.createElement("script");
    script.async = true;
    script.src = `${this.opts.ingestHost}/sdk-replay.js`;
    script.onload = () => {
      const replay = (window as unknown as { FootfallReplay?: { start(host: ReplayHost): void } }).FootfallReplay;
      replay?.start(this.replayHost());
    };
    document.head.appendChild(script);
  }
}

/** Where this bundle was loaded from: ingest serves it, so that is ingest's address. */
function defaultHost(): string {
  const script = document.currentScript as HTMLScriptElement | null;
  if (script?.src) return new URL(script.src).origin;
  const tagged = document.querySelector<HTMLScriptElement>('script[src$="/sdk.js"]');
  return tagged ? new URL(tagged.src).origin : location.origin;
}

function timezone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
