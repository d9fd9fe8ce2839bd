/** HTTP for the browser: JSON as text/plain (a CORS "simple" request: no preflight round trip). */
import type { Transport } from "./queue";

export const browserTransport: Transport = {
  async post(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        headers: { "Content-Type": "text/plain" },
        credentials: "omit",
        keepalive: body.length < 60_000, // lets a flush started during unload finish
      });
      return response.status;
    } catch {
      return 0;
    }
  },
  beacon(url, body) {
    try {
      return typeof navigator.sendBeacon === "function" && navigator.sendBeacon(url, body);
    } catch {
      return false;
    }
  },
};
