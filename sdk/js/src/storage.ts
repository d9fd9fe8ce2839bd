/** First-party storage: cookies (device, user, session: shared by every tab) and localStorage. */

export interface KV {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/** A KV in memory, for when the browser refuses storage (private modes, sandboxed frames). */
export class MemoryKV implements KV {
  private data = new Map<string, string>();
  get(key: string) {
    return this.data.has(key) ? (this.data.get(key) as string) : null;
  }
  set(key: string, value: string) {
    this.data.set(key, value);
  }
  remove(key: string) {
    this.data.delete(key);
  }
}

/** localStorage when it works, else memory (a throwing getter or a full quota must not break capture). */
export function localKV(): KV {
  try {
    const ls = window.localStorage;
    const probe = "_ff_probe";
    ls.setItem(probe, "1");
    ls.removeItem(probe);
    return {
      get: (k) => ls.getItem(k),
      set: (k, v) => {
        try {
          ls.setItem(k, v);
        } catch {
          /* quota: keep going without persistence */
        }
      },
      remove: (k) => ls.removeItem(k),
    };
  } catch {
    return new MemoryKV();
  }
}

const THIRTEEN_MONTHS_S = 396 * 24 * 3600;

/** Cookies on the page's own host; each entry is a JSON value with its own lifetime. */
export class CookieJar {
  constructor(private doc: Document = document, private secure = location.protocol === "https:") {}

  get<T>(name: string): T | null {
    const prefix = `${name}=`;
    for (const part of this.doc.cookie.split("; ")) {
      if (part.startsWith(prefix)) {
        try {
          return JSON.parse(decodeURIComponent(part.slice(prefix.length))) as T;
        } catch {
          return null;
        }
      }
    }
    return null;
  }

  set(name: string, value: unknown, maxAgeS = THIRTEEN_MONTHS_S): void {
    const secure = this.secure ? "; Secure" : "";
    this.doc.cookie = `${name}=${encodeURIComponent(JSON.stringify(value))}; Max-Age=${maxAgeS}; Path=/; SameSite=Lax${secure}`;
  }

  remove(name: string): void {
    this.doc.cookie = `${name}=; Max-Age=0; Path=/`;
  }
}
