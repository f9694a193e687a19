import { describe, expect, it } from "vitest";
import { emptyFilter, facets, filterGuests, guestRows, sortGuests, splitTags, toRow } from "./guests";
import type { Guest, PulseState } from "./types";

function g(p: Partial<Guest>): Guest {
  return { id: `i-n-${p.vmid}`, vmid: 100, name: "x", node: "n1", instance: "i", status: "running", type: "qemu", cpu: 0, ...p } as Guest;
}

const state = {
  vms: [
    g({ vmid: 101, name: "web-2", node: "pve1", cpu: 0.5, tags: "prod,web", memory: { total: 100, used: 25, free: 75, usage: 25 } }),
    g({ vmid: 100, name: "web-10", node: "pve2", cpu: 0.1, status: "stopped", ipAddresses: ["10.0.0.5"] }),
  ],
  containers: [g({ vmid: 200, name: "db", node: "pve1", type: "lxc", cpu: 0.9, tags: "prod;db", disk: { total: 10, used: 5, free: 5, usage: 50 } })],
} as unknown as PulseState;

describe("guest rows", () => {
  it("flatten VMs and containers with percentages", () => {
    const rows = guestRows(state);
    expect(rows.map((r) => r.vmid)).toEqual([101, 100, 200]);
    expect(rows[0].cpu).toBeCloseTo(50);
    expect(rows[0].mem).toBe(25);
    expect(rows[1].disk).toBe(-1); // unknown disk
    expect(rows[2].disk).toBe(50);
    expect(rows[2].type).toBe("lxc");
    expect(guestRows(null)).toEqual([]);
  });
  it("tags split on , and ; and arrays pass through", () => {
    expect(splitTags("a, b;c")).toEqual(["a", "b", "c"]);
    expect(splitTags(["x", " "])).toEqual(["x"]);
    expect(splitTags(undefined)).toEqual([]);
  });
  it("memory falls back to mem/maxmem", () => {
    expect(toRow(g({ vmid: 1, mem: 50, maxmem: 200 })).mem).toBe(25);
  });
});

describe("filter", () => {
  const rows = guestRows(state);
  it("free text matches every word across name, id, node, tags and IPs", () => {
    expect(filterGuests(rows, { ...emptyFilter, text: "web" }).map((r) => r.vmid)).toEqual([101, 100]);
    expect(filterGuests(rows, { ...emptyFilter, text: "WEB prod" }).map((r) => r.vmid)).toEqual([101]);
    expect(filterGuests(rows, { ...emptyFilter, text: "10.0.0.5" }).map((r) => r.vmid)).toEqual([100]);
    expect(filterGuests(rows, { ...emptyFilter, text: "200" }).map((r) => r.vmid)).toEqual([200]);
    expect(filterGuests(rows, { ...emptyFilter, text: "nothing" })).toEqual([]);
  });
  it("node, type, status and tag filters combine", () => {
    expect(filterGuests(rows, { ...emptyFilter, node: "pve1" }).map((r) => r.vmid)).toEqual([101, 200]);
    expect(filterGuests(rows, { ...emptyFilter, node: "pve1", type: "lxc" }).map((r) => r.vmid)).toEqual([200]);
    expect(filterGuests(rows, { ...emptyFilter, status: "stopped" }).map((r) => r.vmid)).toEqual([100]);
    expect(filterGuests(rows, { ...emptyFilter, tag: "prod" }).map((r) => r.vmid)).toEqual([101, 200]);
    expect(filterGuests(rows, emptyFilter)).toBe(rows);
  });
  it("facets list distinct sorted values", () => {
    expect(facets(rows)).toEqual({ nodes: ["pve1", "pve2"], statuses: ["running", "stopped"], tags: ["db", "prod", "web"] });
  });
});

describe("sort", () => {
  const rows = guestRows(state);
  it("names sort naturally (web-2 before web-10)", () => {
    expect(sortGuests(rows, "name", "asc").map((r) => r.name)).toEqual(["db", "web-2", "web-10"]);
    expect(sortGuests(rows, "name", "desc").map((r) => r.name)).toEqual(["web-10", "web-2", "db"]);
  });
  it("numbers sort numerically and do not mutate the input", () => {
    const before = rows.map((r) => r.vmid);
    expect(sortGuests(rows, "cpu", "desc").map((r) => r.vmid)).toEqual([200, 101, 100]);
    expect(sortGuests(rows, "vmid", "asc").map((r) => r.vmid)).toEqual([100, 101, 200]);
    expect(rows.map((r) => r.vmid)).toEqual(before);
  });
  it("ties fall back to name then vmid so the order is stable", () => {
    const same = guestRows({ vms: [g({ vmid: 3, name: "b" }), g({ vmid: 2, name: "a" }), g({ vmid: 1, name: "a" })], containers: [] } as unknown as PulseState);
    expect(sortGuests(same, "cpu", "asc").map((r) => r.vmid)).toEqual([1, 2, 3]);
  });
  it("sorts 10,000 rows quickly enough for a live table", () => {
    const many = guestRows({ vms: Array.from({ length: 10000 }, (_, i) => g({ vmid: i, name: `vm-${(i * 7919) % 10000}`, cpu: Math.random() })), containers: [] } as unknown as PulseState);
    const out = sortGuests(many, "name", "asc");
    expect(out[0].name).toBe("vm-0");
    expect(out[9999].name).toBe("vm-9999");
  });
});

import { naturalKey } from "./guests";
describe("natural keys", () => {
  it("order like a person reads numbers, case-insensitively", () => {
    const names = ["web-10", "Web-2", "web-1", "db", "web-2a"];
    expect(names.slice().sort((a, b) => (naturalKey(a) < naturalKey(b) ? -1 : 1))).toEqual(["db", "web-1", "Web-2", "web-2a", "web-10"]);
  });
});
