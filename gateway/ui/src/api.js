// The gateway's JSON API: session cookie + CSRF header on writes; errors become ApiError.
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "The gateway cannot be reached. Check your connection.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || `Request failed (${response.status})`;
    throw new ApiError(response.status, message);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body === undefined ? {} : body);

export function envApi(envId) {
  const base = `/api/v1/environments/${encodeURIComponent(envId)}`;
  const q = (params) => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") search.set(k, typeof v === "string" ? v : JSON.stringify(v));
    }
    const s = search.toString();
    return s ? `?${s}` : "";
  };
  const seg = encodeURIComponent;
  return {
    envId,
    feed: (params) => get(`${base}/users${q(params)}`),
    user: (id) => get(`${base}/users/${seg(id)}`),
    userSessions: (id, filter) => get(`${base}/users/${seg(id)}/sessions${q({ filter: filter.length ? filter : undefined, limit: 100 })}`),
    sessionEvents: (id) => get(`${base}/sessions/${seg(id)}/events`),
    event: (id) => get(`${base}/events/${seg(id)}`),
    definitions: () => get(`${base}/definitions`),
    suggest: (eventId) => get(`${base}/definitions/suggest${q({ event_id: eventId })}`),
    define: (body) => post(`${base}/definitions`, body),
    replayStatus: () => get(`${base}/replay/status`),
    replay: (sessionId) => get(`${base}/replays/${seg(sessionId)}?inline=1`),
  };
}
