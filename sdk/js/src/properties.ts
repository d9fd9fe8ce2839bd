/** Property cleaning (docs/semantics.md R18, R20, R21) shared by event and user properties. */

export type Scalar = string | number | boolean;
export type Properties = Record<string, Scalar>;

const MAX_KEY_LENGTH = 512;
export const EVENT_VALUE_LIMIT = 1024;
export const USER_VALUE_LIMIT = 255;
const RESERVED_USER_KEYS = new Set(["id", "user_id"]);

function cleanValue(value: unknown, limit: number): Scalar | null {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) value = value.map(String).join("||");
  else if (value instanceof Date) value = value.toISOString();
  if (typeof value !== "string" || value.trim() === "") return null;
  return value.slice(0, limit);
}

/** Keys blank or over 512 UTF-16 units and empty or non-scalar values are dropped; strings truncated. */
export function cleanProperties(props: unknown, limit = EVENT_VALUE_LIMIT): Properties {
  const out: Properties = {};
  if (!props || typeof props !== "object") return out;
  for (const [key, raw] of Object.entries(props as Record<string, unknown>)) {
    if (key.trim() === "" || key.length > MAX_KEY_LENGTH) continue;
    const value = cleanValue(raw, limit);
    if (value !== null) out[key] = value;
  }
  return out;
}

/** User properties: values ≤255 characters, and `id` / `user_id` refused in any casing (R18). */
export function cleanUserProperties(props: unknown): Properties {
  const out = cleanProperties(props, USER_VALUE_LIMIT);
  for (const key of Object.keys(out)) if (RESERVED_USER_KEYS.has(key.toLowerCase())) delete out[key];
  return out;
}
