import { describe, expect, it } from "vitest";
import { cleanProperties, cleanUserProperties } from "../src/properties";

describe("property cleaning (R18, R21)", () => {
  it("drops blank and over-long keys and empty values, truncates strings to 1024", () => {
    const cleaned = cleanProperties({
      plan: "pro",
      seats: 3,
      trial: false,
      "": "x",
      "  ": "x",
      ["k".repeat(513)]: "x",
      ["k".repeat(512)]: "kept",
      empty: "",
      blank: "  ",
      none: null,
      nested: { a: 1 },
      long: "v".repeat(2000),
      tags: ["a", "b"],
    });
    expect(cleaned).toEqual({
      plan: "pro",
      seats: 3,
      trial: false,
      ["k".repeat(512)]: "kept",
      long: "v".repeat(1024),
      tags: "a||b",
    });
  });

  it("caps user property values at 255 and refuses id and user_id in any casing", () => {
    expect(cleanUserProperties({ email: "a@b.c", ID: 1, user_id: "2", name: "n".repeat(300) })).toEqual({
      email: "a@b.c",
      name: "n".repeat(255),
    });
  });

  it("accepts nothing that is not an object", () => {
    expect(cleanProperties("nope")).toEqual({});
    expect(cleanProperties(undefined)).toEqual({});
  });
});
