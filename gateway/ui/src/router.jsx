// The whole view lives in the URL, so a reload, Back, a bookmark or a shared link shows it again.
// The path picks the page (/, /users/<id>, /sessions/<id>, /definitions, /ingestion); the query holds the rest.
import { useEffect, useState } from "preact/hooks";

const PAGES = [[/^\/users\/(.+)$/, "user"], [/^\/sessions\/(.+)$/, "session"], [/^\/definitions\/?$/, "definitions"],
  [/^\/ingestion\/?$/, "ingestion"]];
const NO_ID = new Set(["definitions", "ingestion"]);

// What a view carries to the next page: environment, window, filters, time zone and list mode.
export const SHARED = ["env", "range", "from", "to", "f", "tz", "view"];

export function parseLocation(loc = window.location) {
  for (const [pattern, page] of PAGES) {
    const match = loc.pathname.match(pattern);
    if (match) return { page, id: NO_ID.has(page) ? null : decodeURIComponent(match[1]), query: queryOf(loc.search) };
  }
  return { page: "feed", id: null, query: queryOf(loc.search) };
}

function queryOf(search) {
  return Object.fromEntries(new URLSearchParams(search));
}

export function pathOf(page, id) {
  if (page === "user") return `/users/${encodeURIComponent(id)}`;
  if (page === "session") return `/sessions/${encodeURIComponent(id)}`;
  if (page === "definitions") return "/definitions";
  if (page === "ingestion") return "/ingestion";
  return "/";
}

export function hrefOf(page, id, query) {
  const search = new URLSearchParams();
  Object.entries(query).forEach(([k, v]) => v !== undefined && v !== null && v !== "" && search.set(k, v));
  const s = search.toString();
  return pathOf(page, id) + (s ? `?${s}` : "");
}

// A link to another page that keeps the shared part of the current view's query.
export function linkTo(route, page, id, extra = {}) {
  const kept = Object.fromEntries(SHARED.filter((k) => route.query[k] !== undefined).map((k) => [k, route.query[k]]));
  return hrefOf(page, id, { ...kept, ...extra });
}

const listeners = new Set();

// state.overlay marks an entry pushed to open a dialog, so closing it can go Back instead.
export function navigate(href, { replace = false, overlay = false } = {}) {
  if (href === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](overlay ? { overlay: true } : null, "", href);
  listeners.forEach((notify) => notify());
}

// The same page with some query keys changed (null removes one).
export function patchQuery(route, patch, options) {
  navigate(hrefOf(route.page, route.id, { ...route.query, ...patch }), options);
}

// Closes a dialog: Back when opening it pushed the entry, otherwise the same view without it.
export function closeOverlay(route, keys) {
  if (history.state && history.state.overlay) return history.back();
  patchQuery(route, Object.fromEntries(keys.map((k) => [k, null])), { replace: true });
}

export function useRoute() {
  const [route, setRoute] = useState(parseLocation);
  useEffect(() => {
    const update = () => setRoute(parseLocation());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

// An <a> that navigates in place on a plain click and leaves every other click (new tab, new
// window, copy link) to the browser.
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={onClick} {...rest}>{children}</a>;
}
