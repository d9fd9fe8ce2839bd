/** Random ids: Heap-style 53-bit user/device/session ids and v4 UUID message ids. */

const cryptoObj: Crypto | undefined = (globalThis as { crypto?: Crypto }).crypto;

function randomWords(n: number): Uint32Array {
  const words = new Uint32Array(n);
  if (cryptoObj?.getRandomValues) return cryptoObj.getRandomValues(words);
  for (let i = 0; i < n; i++) words[i] = Math.floor(Math.random() * 2 ** 32);
  return words;
}

/** A random integer in [0, 2^53) as a decimal string (exact in JS numbers and in Python). */
export function random53(): string {
  const [hi, lo] = randomWords(2);
  return String((hi & 0x1fffff) * 2 ** 32 + lo);
}

/** A v4 UUID; crypto.randomUUID only exists in secure contexts, so build one when it is missing. */
export function uuid(): string {
  if (cryptoObj?.randomUUID) return cryptoObj.randomUUID();
  const bytes = new Uint8Array(randomWords(4).buffer);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A short stable tag of a write key, so two environments on one site keep separate cookies. */
export function keyTag(writeKey: string): string {
  let h = 5381;
  for (let i = 0; i < writeKey.length; i++) h = ((h * 33) ^ writeKey.charCodeAt(i)) >>> 0;
  return h.toString(36);
}
