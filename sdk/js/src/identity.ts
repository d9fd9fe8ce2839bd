/** The client identity state machine of Heap's SDK (docs/semantics.md R11–R15), as pure functions. */

export interface UserState {
  userId: string; // random 53-bit id; a new one on reset or identify-as-someone-else
  identity: string | null;
}

export type IdentifyOutcome =
  | { kind: "ignored"; user: UserState } // empty or invalid identity (R13)
  | { kind: "unchanged"; user: UserState } // already identified as this identity (R13)
  | { kind: "attached"; user: UserState } // anonymous → same user id, server merges history (R12)
  | { kind: "new_user"; user: UserState }; // identified as someone else → new user and session (R14)

const MAX_IDENTITY_LENGTH = 255;

/** The identity to use, or null: strings (numbers become strings), not blank, under 255 characters. */
export function cleanIdentity(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) value = String(value);
  if (typeof value !== "string" || value.trim() === "" || value.length >= MAX_IDENTITY_LENGTH) return null;
  return value;
}

export function identify(state: UserState, value: unknown, newUserId: () => string): IdentifyOutcome {
  const identity = cleanIdentity(value);
  if (identity === null) return { kind: "ignored", user: state };
  if (state.identity === identity) return { kind: "unchanged", user: state };
  if (state.identity === null) return { kind: "attached", user: { userId: state.userId, identity } };
  return { kind: "new_user", user: { userId: newUserId(), identity } };
}

/** resetIdentity (R15): an identified user becomes a new anonymous one; an anonymous one stays. */
export function resetIdentity(state: UserState, newUserId: () => string): { user: UserState; changed: boolean } {
  if (state.identity === null) return { user: state, changed: false };
  return { user: { userId: newUserId(), identity: null }, changed: true };
}
