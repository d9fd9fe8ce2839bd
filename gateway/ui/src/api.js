// The gateway's JSON API: session cookie + CSRF header on writes; errors become ApiError.
let csrfToken = null;
let onSignedOut = null;

export class ApiError extends Error {
  constructor(status, message, details = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

// Called when the gateway stops knowing us (an expired or ended session): the App asks to sign
// in again instead of showing "authentication required" with a Retry that cannot help.
export function whenSignedOut(handler) {
  onSignedOut = handler;
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
  } catch {
    throw new ApiError(0, "The gateway cannot be reached. Check your connection.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && !path.startsWith("/auth/") && onSignedOut) {
      onSignedOut();
      throw new ApiError(401, "Your session has ended. Sign in again to continue.");
    }
    throw new ApiError(response.status, error.message || `Request failed (${response.status})`, error);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body === undefined ? {} : body);
export const put = (path, body) => request("PUT", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

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
  const defs = `${base}/definitions`;
  return {
    envId,
    feed: (params) => get(`${base}/users${q(params)}`),
    userCount: (params) => get(`${base}/user-count${q(params)}`),
    catalogEvents: (params) => get(`${base}/catalog/events${q(params)}`),
    catalogProperties: (params) => get(`${base}/catalog/properties${q(params)}`),
    catalogValues: (params) => get(`${base}/catalog/values${q(params)}`),
    user: (id) => get(`${base}/users/${seg(id)}`),
    userSessions: (id, filter, cursor) => get(`${base}/users/${seg(id)}/sessions${q({ filter: filter.length ? filter : undefined, cursor, limit: 100 })}`),
    session: (id) => get(`${base}/sessions/${seg(id)}`),
    sessionEvents: (id) => get(`${base}/sessions/${seg(id)}/events`),
    event: (id) => get(`${base}/events/${seg(id)}`),
    definitions: (archived = "false") => get(`${defs}${q({ archived })}`),
    suggest: (eventId) => get(`${defs}/suggest${q({ event_id: eventId })}`),
    preview: (body) => post(`${defs}/preview`, body),
    define: (body) => post(defs, body),
    updateDefinition: (id, body) => put(`${defs}/${seg(id)}`, body),
    archive: (id) => post(`${defs}/${seg(id)}/archive`),
    restore: (id) => post(`${defs}/${seg(id)}/restore`),
    replayStatus: () => get(`${base}/replay/status`),
    pipeline: () => get(`${base}/pipeline`),
    ingestion: () => get(`${base}/ingestion`),
    replay: (sessionId) => get(`${base}/replays/${seg(sessionId)}?inline=1`),
    segments: () => get(`${base}/segments`),
    createSegment: (body) => post(`${base}/segments`, body),
    updateSegment: (id, body) => patch(`${base}/segments/${seg(id)}`, body),
    deleteSegment: (id) => del(`${base}/segments/${seg(id)}`),
    segmentCount: (id) => get(`${base}/segments/${seg(id)}/count`),
    startExport: (body) => post(`${base}/exports`, body),
    exportStatus: (id) => get(`${base}/exports/${seg(id)}`),
  };
}
