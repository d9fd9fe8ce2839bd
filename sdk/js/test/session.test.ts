import { describe, expect, it } from "vitest";
import { SESSION_TIMEOUT_MS, isExpired, touchSession } from "../src/session";

let n = 0;
const newId = () => `s${++n}`;

describe("web sessions (R1)", () => {
  it("starts a session when there is none", () => {
    const { session, started } = touchSession(null, 1000, newId);
    expect(started).toBe(true);
    expect(session).toMatchObject({ start: 1000, last: 1000 });
  });

  it("extends the session on each event up to exactly 30 minutes of silence", () => {
    const first = touchSession(null, 0, newId).session;
    const later = touchSession(first, SESSION_TIMEOUT_MS, newId);
    expect(later.started).toBe(false);
    expect(later.session).toEqual({ id: first.id, start: 0, last: SESSION_TIMEOUT_MS });
    // The window slides: 30 minutes after the last event, not after the start.
    const again = touchSession(later.session, 2 * SESSION_TIMEOUT_MS, newId);
    expect(again.session.id).toBe(first.id);
  });

  it("starts a new session one millisecond past 30 minutes of inactivity", () => {
    const first = touchSession(null, 0, newId).session;
    const next = touchSession(first, SESSION_TIMEOUT_MS + 1, newId);
    expect(next.started).toBe(true);
    expect(next.session.id).not.toBe(first.id);
    expect(isExpired(first, SESSION_TIMEOUT_MS + 1)).toBe(true);
    expect(isExpired(first, SESSION_TIMEOUT_MS)).toBe(false);
  });

  it("never moves the last activity back (another tab wrote a later time)", () => {
    const session = { id: "x", start: 0, last: 5000 };
    expect(touchSession(session, 4000, newId).session.last).toBe(5000);
  });
});
