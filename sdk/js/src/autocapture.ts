/** Autocapture (docs/semantics.md R8, R22): pageviews on load and URL changes, clicks, changes, submits. */
import { eventElement, isIgnored } from "./dom";
import type { Signal } from "./frustration";

export type InteractionKind = "click" | "change" | "submit" | Signal;

export interface Capturer {
  pageview(): void;
  interaction(kind: InteractionKind, el: Element): void;
}

const CHANGEABLE = new Set(["input", "select", "textarea"]);

/** `clicks` hears every captured click and every URL change (frustration.ts). */
export function installAutocapture(capturer: Capturer, win: Window = window,
  clicks?: { click(el: Element): void; settle(): void }): void {
  const doc = win.document;
  let lastUrl = "";
  // popstate and hashchange both fire on a hash navigation; one URL change is one pageview.
  const onUrl = () => {
    if (win.location.href === lastUrl) return;
    lastUrl = win.location.href;
    clicks?.settle();
    capturer.pageview();
  };

  for (const method of ["pushState", "replaceState"] as const) {
    const original = win.history[method];
    win.history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      onUrl();
      return result;
    };
  }
  win.addEventListener("popstate", onUrl);
  win.addEventListener("hashchange", onUrl);

  const listen = (type: "click" | "change" | "submit", accept: (el: Element) => boolean) => {
    doc.addEventListener(
      type,
      (event) => {
        const el = eventElement(event.target);
        if (!el || !accept(el) || isIgnored(el)) return;
        capturer.interaction(type, el);
        if (type === "click") clicks?.click(el);
      },
      true, // capture phase: a handler calling stopPropagation cannot hide the event
    );
  };
  listen("click", () => true);
  listen("change", (el) => CHANGEABLE.has(el.tagName.toLowerCase()));
  listen("submit", (el) => el.tagName.toLowerCase() === "form");

  onUrl();
}
