/** The bundle served at /sdk.js: replaces the snippet's stub with the client and replays its queue. */
import { Footfall, VERSION } from "./client";

const METHODS = [
  "init", "track", "identify", "resetIdentity", "addUserProperties", "addEventProperties",
  "removeEventProperty", "clearEventProperties", "getIds", "flush",
] as const;

type Stub = { q?: [string, ...unknown[]][]; loaded?: boolean };

const w = window as unknown as { footfall?: Stub & Record<string, unknown> };
const stub = w.footfall;
if (!stub?.loaded) {
  const client = new Footfall();
  const api: Record<string, unknown> = { loaded: true, version: VERSION };
  for (const method of METHODS) api[method] = (client[method] as (...args: unknown[]) => unknown).bind(client);
  w.footfall = api;
  for (const [method, ...args] of stub?.q ?? []) {
    if ((METHODS as readonly string[]).includes(method)) (api[method] as (...a: unknown[]) => unknown)(...args);
  }
}
