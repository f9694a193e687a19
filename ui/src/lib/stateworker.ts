// Web worker that owns the live connection: it fetches /api/state for the first screen, then
// opens /ws for updates, parses the large JSON frames off the
// main thread (a 10,000-guest state is ~50 MB and takes ~0.4 s to parse), keeps the full
// state, and posts the page a trimmed copy (see trim.ts).
import { LiveSocket, type SocketLike } from "./live";
import { trimState } from "./trim";

type In = { kind: "start"; ws: string; http: string } | { kind: "reconnect" } | { kind: "stop" } | { kind: "backups" };

let full: Record<string, unknown> | null = null;
let fromWs = false;
let live: LiveSocket | null = null;
const post = (m: unknown) => (self as unknown as Worker).postMessage(m);

function deliver(d: unknown, parsedAt: number) {
  if (!d || typeof d !== "object") return;
  full = d as Record<string, unknown>;
  // Times (ms since the page started) for diagnosing a slow first screen.
  post({ kind: "state", json: JSON.stringify(trimState(full)), timing: { parsedAt: performance.timeOrigin + parsedAt, postedAt: performance.timeOrigin + performance.now() } });
}

self.onmessage = (e: MessageEvent<In>) => {
  const m = e.data;
  if (m.kind === "start") {
    live?.stop();
    fromWs = false;
    live = new LiveSocket(
      m.ws,
      (d) => {
        fromWs = true;
        deliver(d, performance.now());
      },
      (status, attempt) => post({ kind: "status", status, attempt }),
      {
        create: (u) => new WebSocket(u) as unknown as SocketLike,
        setTimeout: (f, ms) => setTimeout(f, ms),
        clearTimeout: (h) => clearTimeout(h as number),
        random: Math.random,
      },
    );
    // The first screen comes from one plain GET; the socket opens once that is in, so the
    // server is not serialising and sending the (on big fleets, ~50 MB) state twice at once.
    const t = { headers: 0 };
    const started = live;
    post({ kind: "status", status: "connecting", attempt: 0 });
    fetch(m.http, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => {
        t.headers = performance.now();
        return r.ok ? r.json() : null;
      })
      .then((d) => {
        if (!fromWs) deliver(d, performance.now());
      })
      .catch(() => {
        /* the socket delivers instead */
      })
      .finally(() => {
        if (live === started) started.start();
      });
  } else if (m.kind === "reconnect") {
    live?.reconnectNow();
  } else if (m.kind === "stop") {
    live?.stop();
    live = null;
    full = null;
  } else if (m.kind === "backups") {
    const pve = (full?.pveBackups ?? {}) as Record<string, unknown>;
    post({ kind: "backups", storageBackups: pve.storageBackups ?? [], pbsBackups: full?.pbsBackups ?? [] });
  }
};
