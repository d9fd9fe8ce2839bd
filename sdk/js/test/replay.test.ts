import { describe, expect, it } from "vitest";
import { RECORD_OPTIONS, nextSeq } from "../src/replay";
import { MemoryKV } from "../src/storage";

describe("replay", () => {
  it("numbers chunks per session across page loads, from 0 for a new session", () => {
    const kv = new MemoryKV();
    expect([nextSeq(kv, "s1"), nextSeq(kv, "s1"), nextSeq(kv, "s1")]).toEqual([0, 1, 2]);
    expect(nextSeq(kv, "s2")).toBe(0);
  });

  it("masks every input and never draws password fields (R33)", () => {
    expect(RECORD_OPTIONS.maskAllInputs).toBe(true);
    expect(RECORD_OPTIONS.blockSelector).toContain('input[type="password"]');
    expect(RECORD_OPTIONS.blockSelector).toContain("[data-footfall-ignore]");
    expect(RECORD_OPTIONS.maskTextSelector).toBe("[data-footfall-redact-text]");
  });
});
