/**
 * The replay bundle (/sdk-replay.js), loaded by the core only when replay is on: rrweb records the
 * page with every input masked and password fields blocked; chunks of events are gzipped with
 * CompressionStream and uploaded with the token the gateway gave for this session.
 *
 * Flow: POST {gateway}/replay/v1/start {write_key, session_id, device_id} → {token, upload_url};
 * 402 (trial over) or 403 (replay off) stop recording for this page. Each chunk goes to
 * `upload_url?seq=N&session_id=…` with `Authorization: Bearer <token>` (services/replay/api.py);
 * seq counts up per session across page loads (first-party storage),
 * so chunks of one session from several pages never overwrite each other. A new analytics session
 * (timeout, reset, identify-as-someone-else) flushes, stops and starts again with a new token.
 * On page hide the unsent tail cannot be gzipped in time (CompressionStream is async), so it is
 * kept in localStorage with its token and the next page load uploads it first.
 */
import { record } from "rrweb";
import type { ReplayHost } from "./client";
import { localKV, type KV } from "./storage";

const FLUSH_EVERY_MS = 5_000;
const FLUSH_AT_EVENTS = 300;
const START_RETRIES = 3;
const LEFTOVERS_KEY = "_ff_replay_leftovers";
const LEFTOVERS_MAX_CHARS = 2_000_000;

interface Grant {
  token: string;
  upload_url: string;
}

type Recorded = { type: number; timestamp: number; [k: string]: unknown };
type Leftover = { session: string; grant: Grant; events: Recorded[] };

export const RECORD_OPTIONS = {
  maskAllInputs: true,
  maskInputOptions: { password: true },
  // Password fields are not even drawn; ignored elements are blocked like in autocapture.
  blockSelector: '[data-footfall-ignore], input[type="password"]',
  maskTextSelector: "[data-footfall-redact-text]",
  recordCanvas: false,
  collectFonts: false,
  sampling: { mousemove: 50, scroll: 150, input: "last" as const },
};

export async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/** The next chunk number of a session, shared by every page and tab of this browser. */
export function nextSeq(kv: KV, sessionId: string): number {
  const key = "_ff_replay_seq";
  let stored: { s?: string; n?: number } = {};
  try {
    stored = JSON.parse(kv.get(key) || "{}");
  } catch {
    /* start over */
  }
  const seq = stored.s === sessionId && typeof stored.n === "number" ? stored.n : 0;
  kv.set(key, JSON.stringify({ s: sessionId, n: seq + 1 }));
  return seq;
}

class Recorder {
  private buffer: Recorded[] = [];
  private stopRecording: (() => void) | undefined;
  private grant: Grant | null = null;
  private sessionId = "";
  private stopped = false; // 402/403: nothing more on this page
  private timer: ReturnType<typeof setInterval> | undefined;
  private kv = localKV();
  private starting: Promise<void> = Promise.resolve();

  constructor(private host: ReplayHost) {}

  start(): Promise<void> {
    this.starting = this.begin();
    return this.starting;
  }

  private async begin(): Promise<void> {
    await this.uploadLeftovers();
    this.sessionId = this.host.sessionId();
    this.grant = await this.admit(this.sessionId);
    if (!this.grant) return;
    this.stopRecording = record({ ...RECORD_OPTIONS, emit: (event) => this.push(event as Recorded) }) ?? undefined;
    this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
  }

  private async admit(sessionId: string): Promise<Grant | null> {
    for (let attempt = 0; attempt < START_RETRIES && !this.stopped; attempt++) {
      try {
        const response = await fetch(`${this.host.gatewayHost}/replay/v1/start`, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },
          credentials: "omit",
          body: JSON.stringify({ write_key: this.host.writeKey, session_id: sessionId, device_id: this.host.deviceId }),
        });
        if (response.ok) return (await response.json()) as Grant;
        if (response.status === 402 || response.status === 403 || response.status === 401) {
          this.stopped = true; // trial over, replay off, or a wrong key: asking again will not help
          return null;
        }
      } catch {
        /* network: try again */
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    }
    return null;
  }

  private push(event: Recorded): void {
    this.buffer.push(event);
    if (this.buffer.length >= FLUSH_AT_EVENTS) void this.flush();
  }

  /** Upload what was recorded since the last chunk. */
  async flush(): Promise<void> {
    await this.starting; // the first chunk waits for admission rather than being dropped
    const grant = this.grant;
    if (!grant || !this.buffer.length) return;
    const events = this.buffer;
    this.buffer = [];
    const status = await this.upload(grant, this.sessionId, events);
    if (status === 402 || status === 403) this.stop();
    else if (status === 401) await this.renew(); // token expired: ask again, keep recording
  }

  private async upload(grant: Grant, sessionId: string, events: Recorded[]): Promise<number> {
    const seq = nextSeq(this.kv, sessionId);
    const body = await gzip(JSON.stringify(events));
    const url = `${grant.upload_url}?seq=${seq}&session_id=${encodeURIComponent(sessionId)}`;
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/gzip", Authorization: `Bearer ${grant.token}` },
        credentials: "omit",
        keepalive: body.byteLength < 60_000,
      });
      return response.status;
    } catch {
      return 0; // a lost chunk leaves a gap in the replay; the next one goes on
    }
  }

  /** The page is going away: keep the unsent tail for the next page load to upload. */
  keepLeftovers(): void {
    if (!this.grant || !this.buffer.length) return;
    const leftovers = readLeftovers(this.kv);
    leftovers.push({ session: this.sessionId, grant: this.grant, events: this.buffer });
    this.buffer = [];
    const text = JSON.stringify(leftovers);
    if (text.length <= LEFTOVERS_MAX_CHARS) this.kv.set(LEFTOVERS_KEY, text);
  }

  private async uploadLeftovers(): Promise<void> {
    const leftovers = readLeftovers(this.kv);
    this.kv.remove(LEFTOVERS_KEY);
    for (const left of leftovers) await this.upload(left.grant, left.session, left.events);
  }

  private async renew(): Promise<void> {
    this.grant = await this.admit(this.sessionId);
    if (!this.grant) this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.grant = null;
    this.buffer = [];
    this.stopRecording?.();
    this.stopRecording = undefined;
    clearInterval(this.timer);
  }

  /** A new analytics session: the old recording ends, a new one starts with its own token. */
  async restart(): Promise<void> {
    if (this.stopped) return;
    await this.flush();
    this.stopRecording?.();
    clearInterval(this.timer);
    this.grant = null;
    await this.start();
  }
}

function readLeftovers(kv: KV): Leftover[] {
  try {
    const parsed = JSON.parse(kv.get(LEFTOVERS_KEY) || "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

export function start(host: ReplayHost): void {
  if (typeof CompressionStream === "undefined") return; // chunks must be gzip; old browsers skip replay
  const recorder = new Recorder(host);
  host.onSession(() => void recorder.restart());
  host.onFlush(() => recorder.flush());
  addEventListener("pagehide", () => recorder.keepLeftovers());
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && void recorder.flush());
  void recorder.start();
}

(window as unknown as { FootfallReplay: { start: typeof start } }).FootfallReplay = { start };
