import { describe, expect, it } from "vitest";
import { cleanIdentity, identify, resetIdentity } from "../src/identity";
import { random53 } from "../src/ids";

let n = 0;
const newId = () => `u${++n}`;
const anonymous = { userId: "u0", identity: null };

describe("identify (R12–R14)", () => {
  it("attaches the identity to the same user when anonymous (R12)", () => {
    expect(identify(anonymous, "ada@example.com", newId)).toEqual({
      kind: "attached",
      user: { userId: "u0", identity: "ada@example.com" },
    });
  });

  it("is a no-op for the identity already held (R13)", () => {
    const ada = { userId: "u0", identity: "ada" };
    expect(identify(ada, "ada", newId)).toEqual({ kind: "unchanged", user: ada });
  });

  it("ignores empty, blank, non-string and 255+ character identities (R13, R16)", () => {
    for (const bad of ["", "   ", null, undefined, {}, true, "x".repeat(255)]) {
      expect(identify(anonymous, bad, newId).kind).toBe("ignored");
    }
    expect(cleanIdentity("x".repeat(254))).toHaveLength(254);
    expect(cleanIdentity(42)).toBe("42");
  });

  it("is case-sensitive: Ada and ada are different people", () => {
    expect(identify({ userId: "u0", identity: "ada" }, "Ada", newId).kind).toBe("new_user");
  });

  it("gives a new user id when identified as someone else, the old user untouched (R14)", () => {
    const ada = { userId: "u0", identity: "ada" };
    const outcome = identify(ada, "bob", newId);
    expect(outcome.kind).toBe("new_user");
    expect(outcome.user.identity).toBe("bob");
    expect(outcome.user.userId).not.toBe("u0");
    expect(ada).toEqual({ userId: "u0", identity: "ada" });
  });
});

describe("resetIdentity (R15)", () => {
  it("makes an identified user a new anonymous one", () => {
    const { user, changed } = resetIdentity({ userId: "u0", identity: "ada" }, newId);
    expect(changed).toBe(true);
    expect(user.identity).toBeNull();
    expect(user.userId).not.toBe("u0");
  });

  it("does nothing for an anonymous user", () => {
    expect(resetIdentity(anonymous, newId)).toEqual({ user: anonymous, changed: false });
  });
});

describe("ids (R11)", () => {
  it("draws decimal integers in [0, 2^53)", () => {
    const ids = Array.from({ length: 2000 }, random53);
    for (const id of ids) {
      expect(id).toMatch(/^\d{1,16}$/);
      expect(Number(id)).toBeLessThan(2 ** 53);
      expect(String(Number(id))).toBe(id); // exact in a JS number
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Spread over the range, not stuck in the low 32 bits.
    expect(ids.some((id) => Number(id) > 2 ** 40)).toBe(true);
  });
});
