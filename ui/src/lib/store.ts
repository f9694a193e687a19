// App-wide reactive state: the live monitoring state from /ws, the connection status,
// and the security status (who is signed in, whether setup is needed).
import { createSignal } from "solid-js";
import { wsUrl, type LiveStatus } from "./live";
import type { TrimmedState } from "./trim";
import type { PbsBackup, StorageBackup } from "./types";
import { api } from "./api";

export const [state, setState] = createSignal<TrimmedState | null>(null, { equals: false });
export const [live, setLive] = createSignal<{ status: LiveStatus; attempt: number }>({ status: "closed", attempt: 0 });

export interface SecurityStatus {
  hasAuthentication: boolean;
  passwordConfigured: boolean;
  apiOnlyMode: boolean;
  authUsername: string;
  authMethod: string;
  bootstrapTokenPath?: string;
  hasProxyAuth: boolean;
  proxyAuthLogoutURL?: string;
  clientIP?: string;
}

export const [security, setSecurity] = createSignal<SecurityStatus | null>(null);

export async function refreshSecurity(): Promise<SecurityStatus> {
  const s = await api<SecurityStatus>("GET", "/api/security/status");
  setSecurity(s);
  return s;
}

/** The dashboard needs to sign in when a password exists and this browser is not signed in. */
export function needsLogin(s: SecurityStatus | null): boolean {
  return !!s && s.passwordConfigured && !s.authUsername && s.authMethod !== "proxy";
}

/** First run: nothing configured yet. */
export function needsSetup(s: SecurityStatus | null): boolean {
  return !!s && !s.hasAuthentication;
}

let worker: Worker | null = null;
const backupWaiters: ((b: FullBackups) => void)[] = [];

export interface FullBackups { storageBackups: StorageBackup[]; pbsBackups: PbsBackup[] }

// The state arrives as JSON text (copying a string between threads is cheap; cloning 10,000
// guest objects is not). While the user scrolls a big list, updates wait until the scrolling
// pauses: re-rendering the list under the user's finger would stutter and move the rows.
let pending: { json: string; timing: Record<string, number> } | null = null;
let scrolling = false;
let scrollTimer = 0;

function applyPending() {
  const p = pending;
  pending = null;
  if (!p) return;
  const got = performance.timeOrigin + performance.now();
  setState(JSON.parse(p.json) as TrimmedState);
  const w = window as unknown as { __pulseTimings?: unknown[] };
  (w.__pulseTimings ??= []).push({ ...p.timing, receivedAt: got, renderedAt: performance.timeOrigin + performance.now(), origin: performance.timeOrigin });
}

/** Called by scrolling lists: hold live updates until 300 ms after the last scroll event. */
export function noteScrolling(): void {
  scrolling = true;
  clearTimeout(scrollTimer);
  scrollTimer = window.setTimeout(() => {
    scrolling = false;
    applyPending();
  }, 300);
}

/** Start (or restart) the live connection; it runs in a worker (see stateworker.ts). */
export function startLive(): void {
  if (!worker) {
    worker = new Worker(new URL("./stateworker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data;
      if (m.kind === "state") {
        pending = { json: m.json as string, timing: m.timing };
        if (!scrolling) applyPending();
      }
      else if (m.kind === "status") setLive({ status: m.status as LiveStatus, attempt: m.attempt });
      else if (m.kind === "backups") backupWaiters.splice(0).forEach((f) => f(m as FullBackups));
    };
  }
  worker.postMessage({ kind: "start", ws: wsUrl(location), http: "/api/state" });
}

export function stopLive(): void {
  worker?.postMessage({ kind: "stop" });
  pending = null;
  setLive({ status: "closed", attempt: 0 });
  setState(null);
}

export function reconnectLive(): void {
  worker?.postMessage({ kind: "reconnect" });
}

/** The full backup lists, kept in the worker (large on big fleets). */
export function fetchBackups(): Promise<FullBackups> {
  return new Promise((ok) => {
    if (!worker) return ok({ storageBackups: [], pbsBackups: [] });
    backupWaiters.push(ok);
    worker.postMessage({ kind: "backups" });
  });
}
