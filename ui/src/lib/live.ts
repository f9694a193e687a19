// The /ws connection: parses frames, hands state to the store, reconnects with capped
// exponential backoff, and exposes a status for the header's connection indicator.
// Timers and the socket constructor are injected so the state machine is unit-tested.

export type LiveStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  close(): void;
  send(data: string): void;
}

export interface LiveDeps {
  create: (url: string) => SocketLike;
  setTimeout: (f: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
  random: () => number;
}

/** Delay before reconnect attempt `n` (0-based): 0.5 s, 1 s, 2 s … capped at 15 s, ±20 % jitter. */
export function backoffMs(n: number, random: () => number = Math.random): number {
  const base = Math.min(15000, 500 * 2 ** Math.min(n, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A server that says nothing for this long is presumed gone (it pings every 30 s). */
export const SILENCE_MS = 75000;

export class LiveSocket {
  status: LiveStatus = "closed";
  attempt = 0;
  private sock: SocketLike | null = null;
  private retry: unknown = null;
  private watchdog: unknown = null;
  private stopped = true;

  constructor(
    private url: string,
    private onState: (data: unknown) => void,
    private onStatus: (s: LiveStatus, attempt: number) => void,
    private deps: LiveDeps,
    private onEvent: (type: string, data: unknown) => void = () => {},
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry != null) this.deps.clearTimeout(this.retry);
    if (this.watchdog != null) this.deps.clearTimeout(this.watchdog);
    this.retry = this.watchdog = null;
    const s = this.sock;
    this.sock = null;
    s?.close();
    this.set("closed");
  }

  /** Force an immediate reconnect (e.g. after login, or the user clicking the indicator). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.retry != null) this.deps.clearTimeout(this.retry);
    this.retry = null;
    const s = this.sock;
    this.sock = null;
    s?.close();
    this.connect();
  }

  private set(s: LiveStatus) {
    this.status = s;
    this.onStatus(s, this.attempt);
  }

  private connect() {
    this.set(this.attempt === 0 ? "connecting" : "reconnecting");
    let sock: SocketLike;
    try {
      sock = this.deps.create(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.sock = sock;
    sock.onopen = () => {
      if (this.sock !== sock) return;
      this.kick();
    };
    sock.onmessage = (ev) => {
      if (this.sock !== sock) return;
      this.kick();
      let msg: { type?: string; data?: unknown };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return; // a malformed frame is ignored, the next one replaces it
      }
      if (msg.type === "initialState" || msg.type === "rawData") {
        this.attempt = 0;
        if (this.status !== "open") this.set("open");
        this.onState(msg.data);
      } else if (msg.type === "welcome") {
        if (this.status !== "open") {
          this.attempt = 0;
          this.set("open");
        }
      } else if (msg.type) {
        this.onEvent(msg.type, msg.data);
      }
    };
    sock.onerror = () => {
      /* close follows */
    };
    sock.onclose = () => {
      if (this.sock !== sock) return;
      this.sock = null;
      if (this.watchdog != null) this.deps.clearTimeout(this.watchdog);
      this.watchdog = null;
      if (!this.stopped) this.scheduleRetry();
    };
  }

  private kick() {
    if (this.watchdog != null) this.deps.clearTimeout(this.watchdog);
    this.watchdog = this.deps.setTimeout(() => {
      // Silence: drop the socket; onclose schedules the retry.
      const s = this.sock;
      this.sock = null;
      s?.close();
      if (!this.stopped) this.scheduleRetry();
    }, SILENCE_MS);
  }

  private scheduleRetry() {
    const delay = backoffMs(this.attempt, this.deps.random);
    this.attempt++;
    this.set("reconnecting");
    this.retry = this.deps.setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}

export function wsUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws`;
}
