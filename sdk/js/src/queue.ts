/**
 * Delivery: a bounded queue persisted in first-party storage, flushed in batches to ingest's
 * Segment-shaped `/v1/batch`, retried with exponential backoff, and handed to sendBeacon on page hide.
 *
 * The queue lives in storage, not in the tab, so events captured offline or just before a
 * navigation are sent by the next page. Every message carries a `messageId`: a batch sent twice
 * (two tabs flushing together, a beacon whose answer was lost) is deduplicated by the server.
 */
import type { KV } from "./storage";

export interface Message {
  messageId: string;
  [field: string]: unknown;
}

export interface Transport {
  /** POST the body; resolves to the HTTP status, or 0 when the network failed. */
  post(url: string, body: string): Promise<number>;
  /** Queue the body with the browser for delivery after the page is gone; false if refused. */
  beacon(url: string, body: string): boolean;
}

export interface QueueOptions {
  maxItems: number; // the offline bound: beyond it the oldest messages are dropped
  batchSize: number;
  flushDelayMs: number; // wait this long after a push, collecting more messages into the batch
  backoffBaseMs: number;
  backoffMaxMs: number;
  beaconMaxBytes: number; // browsers refuse beacons much over 64 KB
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  maxItems: 1000,
  batchSize: 50,
  flushDelayMs: 1000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  beaconMaxBytes: 60_000,
};

/** Delay before retry number `attempt` (1-based): doubling from base, capped, with ±50% jitter. */
export function backoffDelay(attempt: number, opts: QueueOptions, random = Math.random): number {
  const ceiling = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Whether a response means "try the same batch again later" (vs. delivered, or refused for good). */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

export class Queue {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private chain: Promise<void> = Promise.resolve(); // flushes run one after another, never together
  private attempts = 0;
  private inFlight = new Set<string>(); // sent with keepalive: they finish even if the page goes

  constructor(
    private store: KV,
    private key: string,
    private transport: Transport,
    private url: string,
    private envelope: () => Record<string, unknown>,
    private opts: QueueOptions = DEFAULT_QUEUE_OPTIONS,
  ) {}

  /** Messages waiting, oldest first. */
  pending(): Message[] {
    try {
      const parsed = JSON.parse(this.store.get(this.key) || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  private save(items: Message[]): void {
    if (items.length) this.store.set(this.key, JSON.stringify(items));
    else this.store.remove(this.key);
  }

  private drop(ids: Set<string>): void {
    // Re-read: another tab may have pushed while this batch was in flight.
    this.save(this.pending().filter((m) => !ids.has(m.messageId)));
  }

  push(message: Message): void {
    const items = this.pending();
    items.push(message);
    this.save(items.slice(-this.opts.maxItems));
    if (this.attempts === 0) this.schedule(items.length >= this.opts.batchSize ? 0 : this.opts.flushDelayMs);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) {
      if (delayMs > 0) return; // a flush is already on its way
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
  }

  private body(batch: Message[]): string {
    return JSON.stringify({ ...this.envelope(), sentAt: new Date().toISOString(), batch });
  }

  /** Send everything pending, batch by batch; on a retryable failure wait and try again. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.drain());
    return this.chain;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.pending().slice(0, this.opts.batchSize);
      if (!batch.length) return;
      for (const m of batch) this.inFlight.add(m.messageId);
      const status = await this.transport.post(this.url, this.body(batch)).finally(() => this.inFlight.clear());
      if (isRetryable(status)) {
        this.attempts += 1;
        this.schedule(backoffDelay(this.attempts, this.opts));
        return;
      }
      // Delivered, or refused for good (400: a bad batch must not block the queue forever).
      this.attempts = 0;
      this.drop(new Set(batch.map((m) => m.messageId)));
    }
  }

  /** Now, without waiting for a backoff timer (the browser came back online). */
  retryNow(): void {
    this.attempts = 0;
    this.schedule(0);
  }

  /** The page is going away: hand what is pending to sendBeacon in slices it accepts. */
  flushOnHide(): void {
    const sent = new Set<string>();
    let slice: Message[] = [];
    let bytes = 0;
    const send = () => {
      if (slice.length && this.transport.beacon(this.url, this.body(slice))) {
        for (const m of slice) sent.add(m.messageId);
      }
      slice = [];
      bytes = 0;
    };
    for (const message of this.pending()) {
      if (this.inFlight.has(message.messageId)) continue;
      const size = JSON.stringify(message).length + 1;
      if (slice.length && bytes + size > this.opts.beaconMaxBytes) send();
      slice.push(message);
      bytes += size;
    }
    send();
    // A refused beacon leaves its messages stored: the next page load sends them.
    if (sent.size) this.drop(sent);
  }
}
