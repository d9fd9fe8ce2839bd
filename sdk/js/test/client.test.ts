import { beforeEach, describe, expect, it } from "vitest";
import { Footfall } from "../src/client";
import type { Transport } from "../src/queue";

/** Collects every message the client sends. */
class Recorder implements Transport {
  bodies: any[] = [];
  async post(_url: string, body: string) {
    this.bodies.push(JSON.parse(body));
    return 200;
  }
  beacon() {
    return false;
  }
  get messages(): any[] {
    return this.bodies.flatMap((b) => b.batch);
  }
}

let clock = Date.parse("2025-01-01T12:00:00Z");
let keyCounter = 0;

/** One page load: a client on the shared cookies and localStorage, like a new tab or navigation. */
async function page(key: string, options = {}) {
  const transport = new Recorder();
  const ff = new Footfall(transport, () => clock);
  ff.init(key, { ingestHost: "https://ingest.test", flushDelayMs: 10_000, ...options });
  return { ff, transport, send: async () => (await ff.flush(), transport.messages) };
}

function freshKey() {
  return `wk-${++keyCounter}`;
}

beforeEach(() => {
  document.body.innerHTML = "";
  history.replaceState(null, "", "/");
  localStorage.clear();
  clock += 24 * 3600 * 1000;
});

describe("messages", () => {
  it("sends a pageview on load in ingest's Segment shape with Footfall's extension", async () => {
    document.title = "Home";
    const { ff, send } = await page(freshKey());
    const [view] = await send();
    const ids = ff.getIds();
    expect(view).toMatchObject({
      type: "page",
      anonymousId: ids.userId,
      timestamp: new Date(clock).toISOString(),
      context: {
        library: { name: "footfall.js" },
        page: { path: "/", title: "Home" },
        footfall: { device_id: ids.deviceId, session_id: ids.sessionId, kind: "pageview", source: "web" },
      },
    });
    expect(view.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(view.userId).toBeUndefined();
    expect(ids.deviceId).not.toBe(ids.userId);
  });

  it("sends custom events without a kind, with cleaned properties, and drops over-long names", async () => {
    const { ff, send } = await page(freshKey());
    ff.track("Checkout", { total: 12.5, empty: "" });
    ff.track("x".repeat(513));
    const custom = (await send()).filter((m) => m.type === "track");
    expect(custom).toHaveLength(1);
    expect(custom[0]).toMatchObject({ event: "Checkout", properties: { total: 12.5 } });
    expect(custom[0].context.footfall.kind).toBeUndefined();
  });

  it("reads UTM parameters into context.campaign", async () => {
    history.replaceState(null, "", "/?utm_source=news&utm_campaign=spring&other=1");
    const { send } = await page(freshKey());
    expect((await send())[0].context.campaign).toEqual({ source: "news", name: "spring" });
  });
});

describe("identity (R11–R15)", () => {
  it("identify on an anonymous user keeps the user id and the session (R12)", async () => {
    const { ff, send } = await page(freshKey());
    const before = ff.getIds();
    ff.identify("ada@example.com");
    ff.identify("ada@example.com"); // R13: no-op
    ff.identify(""); // R13: ignored
    const after = ff.getIds();
    expect(after).toMatchObject({ userId: before.userId, sessionId: before.sessionId, identity: "ada@example.com" });
    const identifies = (await send()).filter((m) => m.type === "identify");
    expect(identifies).toHaveLength(1);
    expect(identifies[0]).toMatchObject({ userId: "ada@example.com", anonymousId: before.userId });
  });

  it("identify as someone else starts a new user and a new session with a pageview (R14)", async () => {
    const { ff, send } = await page(freshKey());
    ff.identify("ada");
    const ada = ff.getIds();
    ff.identify("bob");
    const bob = ff.getIds();
    expect(bob.userId).not.toBe(ada.userId);
    expect(bob.sessionId).not.toBe(ada.sessionId);
    expect(bob.deviceId).toBe(ada.deviceId);
    const messages = await send();
    const tail = messages.slice(-2);
    expect(tail.map((m) => m.type)).toEqual(["page", "identify"]);
    for (const m of tail) {
      expect(m).toMatchObject({ anonymousId: bob.userId, userId: "bob" });
      expect(m.context.footfall.session_id).toBe(bob.sessionId);
    }
  });

  it("resetIdentity makes a new anonymous user and session when identified, nothing when anonymous (R15)", async () => {
    const { ff, send } = await page(freshKey());
    const anon = ff.getIds();
    ff.resetIdentity();
    expect(ff.getIds()).toEqual(anon);
    ff.identify("ada");
    ff.resetIdentity();
    const reset = ff.getIds();
    expect(reset.identity).toBeNull();
    expect(reset.userId).not.toBe(anon.userId);
    expect(reset.sessionId).not.toBe(anon.sessionId);
    const last = (await send()).at(-1);
    expect(last).toMatchObject({ type: "page", anonymousId: reset.userId });
    expect(last.userId).toBeUndefined();
  });

  it("keeps device, user and identity across page loads", async () => {
    const key = freshKey();
    const first = await page(key);
    first.ff.identify("ada");
    const second = await page(key);
    expect(second.ff.getIds()).toEqual(first.ff.getIds());
    const views = (await second.send()).filter((m) => m.type === "page");
    expect(views.at(-1).userId).toBe("ada");
  });

  it("sends addUserProperties as identify traits, without id / user_id (R18)", async () => {
    const { ff, send } = await page(freshKey());
    ff.addUserProperties({ plan: "pro", user_id: "x" });
    ff.addUserProperties({ id: 1 }); // nothing left: nothing sent
    const traits = (await send()).filter((m) => m.type === "identify");
    expect(traits).toHaveLength(1);
    expect(traits[0].traits).toEqual({ plan: "pro" });
  });
});

describe("event properties (R20)", () => {
  it("attach to every later event, persist across pages, and can be removed or cleared", async () => {
    const key = freshKey();
    const first = await page(key);
    first.ff.addEventProperties({ ab: "blue", tier: 2 });
    first.ff.addEventProperties({ ab: "green" }); // last write wins
    first.ff.track("One");
    const second = await page(key); // the next page's pageview carries them
    second.ff.removeEventProperty("tier");
    second.ff.track("Two", { ab: "explicit" }); // the call's own value wins
    second.ff.clearEventProperties();
    second.ff.track("Three");
    // Both pages share one stored queue: either may deliver the other's messages.
    const all = [...(await first.send()), ...(await second.send())];
    const one = all.find((m) => m.event === "One");
    const view = all.filter((m) => m.type === "page").at(-1);
    const rest = all;
    expect(one.properties).toEqual({ ab: "green", tier: 2 });
    expect(view.properties).toEqual({ ab: "green", tier: 2 });
    expect(rest.find((m) => m.event === "Two").properties).toEqual({ ab: "explicit" });
    expect(rest.find((m) => m.event === "Three").properties).toEqual({});
  });
});

describe("sessions (R1, R7)", () => {
  it("are shared by tabs and end after 30 minutes of inactivity, the new one opening with a pageview", async () => {
    const key = freshKey();
    const tabA = await page(key);
    const tabB = await page(key);
    expect(tabB.ff.getIds().sessionId).toBe(tabA.ff.getIds().sessionId);
    clock += 29 * 60 * 1000;
    tabA.ff.track("still here");
    clock += 29 * 60 * 1000; // 58 minutes after the start, 29 after the last event: same session
    tabB.ff.track("tab b");
    const first = tabA.ff.getIds().sessionId;
    clock += 31 * 60 * 1000;
    tabA.ff.track("back");
    const second = tabA.ff.getIds().sessionId;
    expect(second).not.toBe(first);
    const messages = await tabA.send();
    expect(messages.slice(-2).map((m) => [m.type, m.context.footfall.session_id])).toEqual([
      ["page", second],
      ["track", second],
    ]);
    expect((await tabB.send()).find((m) => m.event === "tab b").context.footfall.session_id).toBe(first);
  });
});

describe("autocapture (R8, R22)", () => {
  it("captures pushState, replaceState, popstate and hash changes once per URL change", async () => {
    const { send } = await page(freshKey());
    history.pushState(null, "", "/pricing");
    history.replaceState(null, "", "/pricing"); // same URL: no pageview
    history.replaceState(null, "", "/pricing?plan=pro");
    location.hash = "#faq";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    window.dispatchEvent(new PopStateEvent("popstate"));
    const urls = (await send()).filter((m) => m.type === "page").map((m) => m.context.page.url.replace(location.origin, ""));
    expect(urls).toEqual(["/", "/pricing", "/pricing?plan=pro", "/pricing?plan=pro#faq"]);
  });

  it("records clicks with the hierarchy (target first), text and href", async () => {
    document.body.innerHTML = `<nav id="top" class="bar main"><p>x</p><a href="/pricing" data-cta="nav">
      <span class="label">  See   pricing </span></a></nav>`;
    const { send } = await page(freshKey());
    (document.querySelector(".label") as HTMLElement).click();
    const click = (await send()).find((m) => m.context.footfall.kind === "click");
    expect(click.event).toBeUndefined();
    const target = click.context.footfall.target;
    expect(target.text).toBe("See pricing");
    expect(target.href).toBe(`${location.origin}/pricing`);
    expect(target.hierarchy.slice(0, 3)).toEqual([
      { tag: "span", classes: ["label"], attributes: {}, nth: 1 },
      { tag: "a", classes: [], attributes: { href: "/pricing", "data-cta": "nav" }, nth: 2 },
      { tag: "nav", id: "top", classes: ["bar", "main"], attributes: {}, nth: 1 },
    ]);
    expect(target.hierarchy.at(-1).tag).toBe("html");
  });

  it("never captures input values, honours redact-text and ignore", async () => {
    document.body.innerHTML = `<form id="signup"><input name="email" value="secret@x.io">
      <button type="button" data-footfall-redact-text>Pay 4242</button><div data-footfall-ignore><button type="button" id="hidden">Hidden</button></div></form>`;
    const { send } = await page(freshKey());
    const input = document.querySelector("input") as HTMLInputElement;
    input.value = "typed secret";
    input.dispatchEvent(new Event("change", { bubbles: true }));
    (document.querySelector("[data-footfall-redact-text]") as HTMLElement).click();
    (document.querySelector("#hidden") as HTMLElement).click();
    document.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    const messages = await send();
    const kinds = messages.map((m) => m.context.footfall.kind);
    expect(kinds).toEqual(["pageview", "change", "click", "submit"]);
    const text = JSON.stringify(messages);
    expect(text).not.toContain("secret");
    expect(text).not.toContain("4242");
    expect(text).not.toContain("hidden");
    const change = messages[1].context.footfall.target;
    expect(change.hierarchy[0]).toEqual({ tag: "input", classes: [], attributes: { name: "email" }, nth: 1 });
    expect(messages[3].context.footfall.target.hierarchy[0]).toMatchObject({ tag: "form", id: "signup" });
  });

  it("caps target text at 64 characters and leaves it out with disableTextCapture", async () => {
    document.body.innerHTML = `<button>${"word ".repeat(40)}</button>`;
    const capped = await page(freshKey());
    (document.querySelector("button") as HTMLElement).click();
    const off = await page(freshKey(), { disableTextCapture: true });
    (document.querySelector("button") as HTMLElement).click();
    const text = (ms: any[]) => ms.find((m) => m.context.footfall.kind === "click").context.footfall.target.text;
    expect(text(await capped.send())).toHaveLength(64);
    expect(text(await off.send())).toBeUndefined();
  });
});

describe("the snippet's queue", () => {
  it("replays calls made before the bundle loaded, in order", async () => {
    const key = freshKey();
    const transport = new Recorder();
    const ff = new Footfall(transport, () => clock);
    ff.track("Early"); // before init: kept until init
    ff.init(key, { ingestHost: "https://ingest.test" });
    await ff.flush();
    expect(transport.messages.map((m) => m.event ?? m.type)).toEqual(["page", "Early"]);
  });
});
