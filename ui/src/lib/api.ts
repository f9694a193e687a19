// fetch wrapper: JSON in/out, CSRF header on changes, errors turned into words.
import { toast } from "./toast";

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public body: Record<string, unknown> | null,
  ) {
    super(message);
  }
  /** Field-level messages from the server (`fields: {name: msg}`). */
  get fields(): Record<string, string> {
    const f = this.body?.fields;
    return f && typeof f === "object" ? (f as Record<string, string>) : {};
  }
}

export function readCookie(name: string, cookie: string): string {
  for (const part of cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

/** Human sentence for an error answer: the server's message first, then a status fallback. */
export function errorText(status: number, body: unknown, fallback = ""): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const msg = b.message ?? b.error;
    if (typeof msg === "string" && msg) {
      // `error` is sometimes a code (e.g. "missing_scope"): add the detail the server gave.
      if (b.requiredScope) return `${msg}: this needs the scope ${b.requiredScope}`;
      return msg;
    }
  }
  if (status === 0) return "Cannot reach the Pulse server (network error)";
  if (status === 401) return "Not signed in (401)";
  if (status === 403) return "Not allowed (403)";
  if (status === 404) return "Not found (404)";
  if (status >= 500) return `Server error (${status})${fallback ? ": " + fallback : ""}`;
  return `Request failed (${status})${fallback ? ": " + fallback : ""}`;
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export interface ApiOptions {
  /** Show failures as a toast (default true). Forms that show errors inline pass false. */
  toast?: boolean;
  headers?: Record<string, string>;
}

async function once(method: string, path: string, body: unknown, opts: ApiOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers ?? {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") {
    const csrf = readCookie("pulse_csrf", document.cookie);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  return fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await once(method, path, body, opts);
    // A stale CSRF token gets a fresh cookie with the 403: retry once, as the server suggests.
    if (res.status === 403 && method !== "GET") {
      const peek = await res.clone().json().catch(() => null);
      if (peek && String(peek.error ?? "").includes("CSRF")) res = await once(method, path, body, opts);
    }
  } catch (e) {
    const err = new ApiError(errorText(0, null), 0, null);
    if (opts.toast !== false) toast(`${method} ${path}: ${err.message}`, "error");
    throw err;
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const err = new ApiError(errorText(res.status, parsed, text.slice(0, 120)), res.status, parsed as Record<string, unknown> | null);
    if (res.status === 401 && !path.startsWith("/api/login") && !path.includes("quick-setup")) onUnauthorized();
    if (opts.toast !== false) toast(err.message, "error");
    throw err;
  }
  return parsed as T;
}
