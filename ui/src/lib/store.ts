// App-wide reactive state: the live monitoring state from /ws, the connection status,
// and the security status (who is signed in, whether setup is needed).
import { createSignal } from "solid-js";
import { LiveSocket, wsUrl, type LiveStatus } from "./live";
import type { PulseState } from "./types";
import { api } from "./api";

export const [state, setState] = createSignal<PulseState | null>(null, { equals: false });
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

let socket: LiveSocket | null = null;

export function startLive(): void {
  if (socket) {
    socket.reconnectNow();
    return;
  }
  socket = new LiveSocket(
    wsUrl(location),
    (d) => setState(d as PulseState),
    (status, attempt) => setLive({ status, attempt }),
    {
      create: (u) => new WebSocket(u) as unknown as import("./live").SocketLike,
      setTimeout: (f, ms) => window.setTimeout(f, ms),
      clearTimeout: (h) => window.clearTimeout(h as number),
      random: Math.random,
    },
  );
  socket.start();
}

export function stopLive(): void {
  socket?.stop();
  socket = null;
  setState(null);
}

export function reconnectLive(): void {
  socket?.reconnectNow();
}
