// Guest metadata (console URL + notes) kept by Pulse: request paths, the browser-side checks
// (the server checks again; its field errors are shown beside the same inputs), and the
// href guard used when rendering a stored URL as a link.

export interface GuestMeta {
  id: string;
  consoleUrl: string;
  notes: string;
  tags: string[];
}

/** Limits shared with the server (src/guest_metadata.rs). */
export const MAX_URL = 2048;
export const MAX_NOTES = 10 * 1024;

export const metaPath = (guestId: string) => `/api/guests/metadata/${encodeURIComponent(guestId)}`;

/** Normalises a server answer (either field-name family) into the UI's shape. */
export function fromServer(id: string, v: Record<string, unknown> | null | undefined): GuestMeta {
  const s = (x: unknown) => (typeof x === "string" ? x : "");
  const tags = Array.isArray(v?.tags) ? (v!.tags as unknown[]).filter((t): t is string => typeof t === "string") : [];
  return { id, consoleUrl: s(v?.consoleUrl ?? v?.customUrl), notes: s(v?.notes ?? v?.description), tags };
}

/** True for an absolute http(s) URL with a host: the only kind rendered as a link. */
export function isHttpUrl(raw: string): boolean {
  if (/[\s\u0000-\u001f]/.test(raw)) return false;
  try {
    const u = new URL(raw);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && !u.hostname.endsWith(".");
  } catch {
    return false;
  }
}

/** Field errors for the edit form; empty when it may be sent. An empty URL clears it. */
export function validateGuestMeta(v: { consoleUrl: string; notes: string }): Record<string, string> {
  const e: Record<string, string> = {};
  const url = v.consoleUrl.trim();
  if (url.length > MAX_URL) e.consoleUrl = `At most ${MAX_URL} characters.`;
  else if (url && !isHttpUrl(url)) e.consoleUrl = "Use an http:// or https:// address, e.g. https://192.168.1.10:8006.";
  if (new TextEncoder().encode(v.notes).length > MAX_NOTES) e.notes = `At most ${MAX_NOTES / 1024} KiB of notes.`;
  return e;
}

/** The PUT body: both fields always sent, so clearing one is explicit. */
export const metaBody = (v: { consoleUrl: string; notes: string }) => ({ consoleUrl: v.consoleUrl.trim(), notes: v.notes });
