import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_OPTIONS, Queue, backoffDelay, isRetryable, type Transport } from "../src/queue";
import { MemoryKV } from "../src/storage";

class FakeTransport implements Transport {
  posts: { url: string; body: any }[] = [];
  beacons: any[] = [];
  statuses: number[] = []; // answered in order; then 200
  beaconOk = true;
  async post(url: string, body: string) {
    this.posts.push({ url, body: JSON.parse(body) });
    return this.statuses.shift() ?? 200;
  }
  beacon(_url: string, body: string) {
    if (this.beaconOk) this.beacons.push(JSON.parse(body));
    return this.beaconOk;
  }
  sentIds() {
    return this.posts.flatMap((p) => p.body.batch.map((m: any) => m.messageId));
  }
}

const opts = { ...DEFAULT_QUEUE_OPTIONS, batchSize: 3, maxItems: 5, flushDelayMs: 100 };
const msg = (id: string, extra = {}) => ({ messageId: id, type: "track", ...extra });

function makeQueue(kv = new MemoryKV(), transport = new FakeTransport(), options = opts) {
  const queue = new Queue(kv, "q", transport, "https://ingest/v1/batch", () => ({ writeKey: "wk" }), options);
  return { queue, kv, transport };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("delivery queue", () => {
  it("sends batches of batchSize with the write key and sentAt in the body", async () => {
    const { queue, transport } = makeQueue();
    for (const id of ["a", "b", "c", "d"]) queue.push(msg(id));
    await queue.flush();
    expect(transport.posts.map((p) => p.body.batch.map((m: any) => m.messageId))).toEqual([["a", "b", "c"], ["d"]]);
    expect(transport.posts[0].url).toBe("https://ingest/v1/batch");
    expect(transport.posts[0].body.writeKey).toBe("wk");
    expect(Date.parse(transport.posts[0].body.sentAt)).not.toBeNaN();
    expect(queue.pending()).toEqual([]);
  });

  it("flushes by itself after the delay", async () => {
    const { queue, transport } = makeQueue();
    queue.push(msg("a"));
    expect(transport.posts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.sentIds()).toEqual(["a"]);
  });

  it("keeps a failed batch and retries it with backoff, same message ids", async () => {
    const { queue, transport } = makeQueue();
    transport.statuses = [503, 0, 200];
    queue.push(msg("a"));
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.posts).toHaveLength(1);
    expect(queue.pending()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000); // first retry within base delay (jitter ≤ 100%)
    expect(transport.posts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(transport.sentIds()).toEqual(["a", "a", "a"]);
    expect(queue.pending()).toEqual([]);
  });

  it("drops a batch the server refuses for good (400) instead of blocking the queue", async () => {
    const { queue, transport } = makeQueue();
    transport.statuses = [400];
    queue.push(msg("bad"));
    await queue.flush();
    queue.push(msg("good"));
    await queue.flush();
    expect(transport.sentIds()).toEqual(["bad", "good"]);
    expect(queue.pending()).toEqual([]);
  });

  it("bounds the offline queue, dropping the oldest", () => {
    const { queue } = makeQueue(new MemoryKV(), Object.assign(new FakeTransport(), { statuses: Array(99).fill(0) }));
    for (let i = 0; i < 8; i++) queue.push(msg(`m${i}`));
    expect(queue.pending().map((m) => m.messageId)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
  });

  it("survives the page: a new queue on the same storage sends what the old one could not", async () => {
    const kv = new MemoryKV();
    const offline = makeQueue(kv);
    offline.transport.statuses = [0];
    offline.queue.push(msg("a"));
    await offline.queue.flush();
    const nextPage = makeQueue(kv);
    await nextPage.queue.flush();
    expect(nextPage.transport.sentIds()).toEqual(["a"]);
  });

  it("keeps messages another tab pushed while a batch was in flight", async () => {
    const kv = new MemoryKV();
    const tabA = makeQueue(kv);
    const tabB = makeQueue(kv);
    let pushed = false;
    tabA.transport.post = async (url, body) => {
      if (!pushed) tabB.queue.push(msg("from-b"));
      pushed = true;
      return FakeTransport.prototype.post.call(tabA.transport, url, body);
    };
    tabA.queue.push(msg("from-a"));
    await tabA.queue.flush();
    // Not lost when A removed its delivered batch: A's next round sends it.
    expect(tabA.transport.sentIds()).toEqual(["from-a", "from-b"]);
    expect(tabA.queue.pending()).toEqual([]);
  });

  it("hands pending messages to sendBeacon on page hide, in slices under the size limit", () => {
    const { queue, transport } = makeQueue(new MemoryKV(), new FakeTransport(), { ...opts, maxItems: 100, beaconMaxBytes: 300 });
    for (let i = 0; i < 6; i++) queue.push(msg(`m${i}`, { pad: "x".repeat(100) }));
    queue.flushOnHide();
    expect(transport.beacons.length).toBeGreaterThan(1);
    expect(transport.beacons.flatMap((b) => b.batch.map((m: any) => m.messageId))).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    expect(queue.pending()).toEqual([]);
  });

  it("does not beacon a batch whose request is still in flight (it completes with keepalive)", async () => {
    const { queue, transport } = makeQueue();
    let answer!: (status: number) => void;
    transport.post = (url, body) => {
      FakeTransport.prototype.post.call(transport, url, body);
      return new Promise((resolve) => (answer = resolve));
    };
    queue.push(msg("a"));
    const flushing = queue.flush();
    await vi.advanceTimersByTimeAsync(0);
    queue.push(msg("b"));
    queue.flushOnHide();
    expect(transport.beacons.flatMap((b) => b.batch.map((m: any) => m.messageId))).toEqual(["b"]);
    answer(200);
    await flushing;
    expect(queue.pending()).toEqual([]);
  });

  it("leaves messages stored when the browser refuses the beacon", () => {
    const { queue, transport } = makeQueue();
    transport.beaconOk = false;
    queue.push(msg("a"));
    queue.flushOnHide();
    expect(queue.pending().map((m) => m.messageId)).toEqual(["a"]);
  });

  it("retries now when the browser comes back online", async () => {
    const { queue, transport } = makeQueue();
    transport.statuses = [0];
    queue.push(msg("a"));
    await queue.flush();
    queue.retryNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.sentIds()).toEqual(["a", "a"]);
  });
});

describe("backoff", () => {
  it("doubles from the base with jitter and stops at the cap", () => {
    const o = DEFAULT_QUEUE_OPTIONS;
    expect(backoffDelay(1, o, () => 1)).toBe(1000);
    expect(backoffDelay(1, o, () => 0)).toBe(500);
    expect(backoffDelay(3, o, () => 1)).toBe(4000);
    expect(backoffDelay(30, o, () => 1)).toBe(60_000);
  });

  it("retries network errors, timeouts, throttling and server errors only", () => {
    expect([0, 408, 429, 500, 503].every(isRetryable)).toBe(true);
    expect([200, 202, 400, 401, 413].some(isRetryable)).toBe(false);
  });
});
