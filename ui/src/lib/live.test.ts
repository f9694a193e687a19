import { describe, expect, it } from "vitest";
import { backoffMs, LiveSocket, SILENCE_MS, wsUrl, type LiveStatus, type SocketLike } from "./live";
import { statusLabel } from "./livelabel";

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  closed = false;
  sent: string[] = [];
  close() {
    this.closed = true;
  }
  send(d: string) {
    this.sent.push(d);
  }
  msg(type: string, data: unknown = {}) {
    this.onmessage?.({ data: JSON.stringify({ type, data }) });
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: { f: () => void; ms: number; id: number; done: boolean }[] = [];
  const states: unknown[] = [];
  const statuses: LiveStatus[] = [];
  let id = 0;
  const live = new LiveSocket("ws://x/ws", (d) => states.push(d), (s) => statuses.push(s), {
    create: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    setTimeout: (f, ms) => {
      const t = { f, ms, id: ++id, done: false };
      timers.push(t);
      return t.id;
    },
    clearTimeout: (h) => timers.filter((t) => t.id === h).forEach((t) => (t.done = true)),
    random: () => 0.5,
  });
  const fire = (pred: (ms: number) => boolean) => {
    const t = timers.find((t) => !t.done && pred(t.ms));
    if (!t) throw new Error("no such timer");
    t.done = true;
    t.f();
  };
  return { live, sockets, timers, states, statuses, fire };
}

describe("backoff", () => {
  it("doubles from 0.5 s and caps at 15 s, with ±20 % jitter", () => {
    expect([0, 1, 2, 3].map((n) => backoffMs(n, () => 0.5))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffMs(20, () => 0.5)).toBe(15000);
    expect(backoffMs(0, () => 0)).toBe(400);
    expect(backoffMs(0, () => 1)).toBe(600);
  });
});

describe("LiveSocket", () => {
  it("opens, delivers initialState and rawData, ignores bad frames", () => {
    const h = harness();
    h.live.start();
    expect(h.statuses).toEqual(["connecting"]);
    h.sockets[0].onopen?.({});
    h.sockets[0].msg("welcome");
    expect(h.live.status).toBe("open");
    h.sockets[0].msg("initialState", { n: 1 });
    h.sockets[0].onmessage?.({ data: "{not json" });
    h.sockets[0].msg("rawData", { n: 2 });
    expect(h.states).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("reconnects with growing delays after drops and resets after success", () => {
    const h = harness();
    h.live.start();
    h.sockets[0].onclose?.({});
    expect(h.live.status).toBe("reconnecting");
    h.fire((ms) => ms === 500);
    expect(h.sockets.length).toBe(2);
    h.sockets[1].onclose?.({});
    h.fire((ms) => ms === 1000);
    expect(h.sockets.length).toBe(3);
    h.sockets[2].msg("rawData", { ok: true });
    expect(h.live.status).toBe("open");
    expect(h.live.attempt).toBe(0);
    h.sockets[2].onclose?.({});
    h.fire((ms) => ms === 500); // back to the first delay
    expect(h.sockets.length).toBe(4);
  });

  it("a silent server is dropped after the watchdog and retried", () => {
    const h = harness();
    h.live.start();
    h.sockets[0].onopen?.({});
    h.fire((ms) => ms === SILENCE_MS);
    expect(h.sockets[0].closed).toBe(true);
    expect(h.live.status).toBe("reconnecting");
    h.fire((ms) => ms === 500);
    expect(h.sockets.length).toBe(2);
  });

  it("stop closes and never reconnects; late events of old sockets are ignored", () => {
    const h = harness();
    h.live.start();
    const old = h.sockets[0];
    h.live.stop();
    expect(old.closed).toBe(true);
    expect(h.live.status).toBe("closed");
    old.onclose?.({});
    old.msg("rawData", { stale: true });
    expect(h.states).toEqual([]);
    expect(h.timers.filter((t) => !t.done)).toEqual([]);
  });

  it("reconnectNow replaces the socket at once", () => {
    const h = harness();
    h.live.start();
    h.live.reconnectNow();
    expect(h.sockets.length).toBe(2);
    expect(h.sockets[0].closed).toBe(true);
  });
});

describe("indicator words and URL", () => {
  it("labels", () => {
    expect(statusLabel("open", 0)).toBe("Live");
    expect(statusLabel("reconnecting", 3)).toBe("Reconnecting (try 3)…");
    expect(statusLabel("closed", 0)).toBe("Offline");
  });
  it("ws URL follows the page scheme", () => {
    expect(wsUrl({ protocol: "https:", host: "p:1" })).toBe("wss://p:1/ws");
    expect(wsUrl({ protocol: "http:", host: "p" })).toBe("ws://p/ws");
  });
});
