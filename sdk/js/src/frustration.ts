/**
 * Frustration signals around clicks (docs/frustration-and-pipeline.md):
 * - a rage click: `clicks` clicks (3) on the same element within `withinMs` (1 s); one per burst
 *   (a burst ends when that long passes with fewer clicks), however long it lasts;
 * - a dead click: a click on a button or link after which, for `withinMs` (1 s), the page changed
 *   nothing: no DOM mutation, no navigation (URL change or unload), no request of its own.
 *
 * Nothing runs between clicks: the observers and the timer are armed by a click, for one second at
 * most, and disconnected as soon as the page answers.
 */

export interface RageRule {
  clicks?: number;
  withinMs?: number;
}

export interface DeadRule {
  withinMs?: number;
}

export type Signal = "rage_click" | "dead_click";

// What a click on it is for: acting (Sentry's rule). A link opening elsewhere acts off this page.
const ACTIVE = "a[href],button,[role=button],input[type=submit],input[type=button]";
const ELSEWHERE = "a[target=_blank],a[download]";

export function watchClicks(
  report: (signal: Signal, el: Element) => void,
  ours: (url: string) => boolean, // the SDK's own requests answer nothing
  rage: RageRule | false = {},
  dead: DeadRule | false = {},
  win: Window = window,
): { click(el: Element): void; settle(): void } {
  let last: Element | null = null;
  let times: number[] = [];
  let done = false;
  let disarm: (() => void) | null = null;
  const settle = () => {
    if (disarm) disarm();
    disarm = null;
  };

  const arm = (el: Element) => {
    settle();
    const mutations = new MutationObserver(settle);
    mutations.observe(win.document, { subtree: true, childList: true, attributes: true, characterData: true });
    let requests: PerformanceObserver | undefined;
    try {
      requests = new PerformanceObserver((list) => {
        if (list.getEntries().some((e) => !ours(e.name))) settle();
      });
      requests.observe({ type: "resource" });
    } catch {
      // No resource timing here: requests are not watched.
    }
    const timer = setTimeout(() => {
      settle();
      report("dead_click", el);
    }, (dead && dead.withinMs) || 1000);
    win.addEventListener("beforeunload", settle); // only while armed: it may keep a page out of bfcache
    disarm = () => {
      mutations.disconnect();
      requests?.disconnect();
      clearTimeout(timer);
      win.removeEventListener("beforeunload", settle);
    };
  };

  return {
    click(el) {
      if (rage) {
        const now = Date.now();
        const within = rage.withinMs || 1000;
        if (el !== last) {
          last = el;
          times = [];
        }
        times = times.filter((t) => now - t <= within);
        if (!times.length) done = false;
        times.push(now);
        if (!done && times.length >= (rage.clicks || 3)) {
          done = true;
          report("rage_click", el);
        }
      }
      if (dead && el.closest(ACTIVE) && !el.closest(ELSEWHERE)) arm(el);
      else settle();
    },
    settle,
  };
}
