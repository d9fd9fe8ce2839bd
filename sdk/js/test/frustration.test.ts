import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { watchClicks, type Signal } from "../src/frustration";

let reported: [Signal, Element][];
const report = (signal: Signal, el: Element) => reported.push([signal, el]);
const signals = () => reported.map(([s]) => s);

function element(html: string): Element {
  document.body.innerHTML = html;
  return document.body.firstElementChild!.querySelector("[data-t]") ?? document.body.firstElementChild!;
}

beforeEach(() => {
  reported = [];
  vi.useFakeTimers({ now: Date.parse("2025-01-01T12:00:00Z") });
});
afterEach(() => vi.useRealTimers());

describe("rage clicks", () => {
  it("reports once per burst of 3 clicks on one element within a second", () => {
    const button = element("<div>text</div>");
    const w = watchClicks(report, () => false, {}, false);
    for (let i = 0; i < 6; i++) {
      w.click(button);
      vi.advanceTimersByTime(300);
    }
    expect(signals()).toEqual(["rage_click"]);
    vi.advanceTimersByTime(1500); // the burst ends; a new one reports again
    for (let i = 0; i < 3; i++) w.click(button);
    expect(signals()).toEqual(["rage_click", "rage_click"]);
  });

  it("does not report slow clicks, or fast clicks spread over elements", () => {
    document.body.innerHTML = "<p id=a>a</p><p id=b>b</p>";
    const [a, b] = [document.getElementById("a")!, document.getElementById("b")!];
    const w = watchClicks(report, () => false, {}, false);
    for (let i = 0; i < 5; i++) {
      w.click(a);
      vi.advanceTimersByTime(600);
    }
    w.click(a); w.click(b); w.click(a); w.click(b);
    expect(reported).toEqual([]);
  });

  it("follows its setting", () => {
    const el = element("<div>x</div>");
    const w = watchClicks(report, () => false, { clicks: 5, withinMs: 2000 }, false);
    for (let i = 0; i < 4; i++) {
      w.click(el);
      vi.advanceTimersByTime(450);
    }
    expect(reported).toEqual([]);
    w.click(el);
    expect(signals()).toEqual(["rage_click"]);
  });
});

describe("dead clicks", () => {
  it("reports a click on a button that changes nothing for a second", async () => {
    const button = element("<button>Buy</button>");
    const w = watchClicks(report, () => false, false, {});
    w.click(button);
    vi.advanceTimersByTime(999);
    expect(reported).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reported).toEqual([["dead_click", button]]);
  });

  it("does not report a click the page answers by changing the DOM", async () => {
    const button = element("<button>Buy</button>");
    const w = watchClicks(report, () => false, false, {});
    w.click(button);
    button.textContent = "Bought";
    await Promise.resolve(); // mutation records are delivered in a microtask
    vi.advanceTimersByTime(2000);
    expect(reported).toEqual([]);
  });

  it("does not report a click followed by a URL change", () => {
    const link = element('<a href="#next"><span data-t>Next</span></a>');
    const w = watchClicks(report, () => false, false, {});
    w.click(link);
    w.settle(); // autocapture calls it on every URL change
    vi.advanceTimersByTime(2000);
    expect(reported).toEqual([]);
  });

  it("watches buttons and links only, not text or links opening elsewhere", () => {
    document.body.innerHTML = '<p id=p>text</p><a id=x href="/f" target=_blank>f</a><a id=d href="/r" download>r</a>';
    const w = watchClicks(report, () => false, false, {});
    for (const id of ["p", "x", "d"]) w.click(document.getElementById(id)!);
    vi.advanceTimersByTime(2000);
    expect(reported).toEqual([]);
  });

  it("judges the latest click; an inner element of a button counts", () => {
    const inner = element('<button><span data-t>Go</span></button>');
    const w = watchClicks(report, () => false, false, { withinMs: 500 });
    w.click(inner);
    vi.advanceTimersByTime(300);
    w.click(inner);
    vi.advanceTimersByTime(499);
    expect(reported).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reported).toEqual([["dead_click", inner]]);
  });
});
