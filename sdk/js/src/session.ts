/** Web sessions (docs/semantics.md R1): 30 minutes of inactivity end one; every event extends it. */

export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

export interface SessionState {
  id: string;
  start: number; // ms since epoch
  last: number; // time of the latest event in the session
}

/** The session an event at `now` belongs to; `started` when a new one had to begin. */
export function touchSession(
  current: SessionState | null,
  now: number,
  newId: () => string,
): { session: SessionState; started: boolean } {
  if (!current || now - current.last > SESSION_TIMEOUT_MS) {
    return { session: { id: newId(), start: now, last: now }, started: true };
  }
  // Another tab may have written a later time; a clock step back must not shorten the session.
  return { session: { ...current, last: Math.max(current.last, now) }, started: false };
}

/** True when no event has touched the session for longer than the timeout. */
export function isExpired(current: SessionState | null, now: number): boolean {
  return !current || now - current.last > SESSION_TIMEOUT_MS;
}
