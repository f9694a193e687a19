import { describe, expect, it } from "vitest";
import { errorText, readCookie } from "./api";
import { matchRoute } from "./routematch";
import { visibleRange } from "./virtual";
import { toUplotData } from "./chartdata";
import { validateNode, validatePassword, validateSetup } from "./validate";
import { changedKeys, humanKey } from "./settings";
import { unifiedBackups } from "./backups";
import { effectiveThemeFor } from "./themepure";
import type { PulseState } from "./types";

describe("api helpers", () => {
  it("error text prefers the server's message, then its code, then the status", () => {
    expect(errorText(400, { error: "host: is required" })).toBe("host: is required");
    expect(errorText(403, { error: "account_locked", message: "Locked for 5 more minutes" })).toBe("Locked for 5 more minutes");
    expect(errorText(403, { error: "missing_scope", requiredScope: "settings:write" })).toBe("missing_scope: this needs the scope settings:write");
    expect(errorText(502, null, "Bad gateway")).toBe("Server error (502): Bad gateway");
    expect(errorText(0, null)).toMatch(/Cannot reach/);
  });
  it("reads the CSRF cookie", () => {
    expect(readCookie("pulse_csrf", "a=1; pulse_csrf=abc%3D; b=2")).toBe("abc=");
    expect(readCookie("pulse_csrf", "a=1")).toBe("");
  });
});

describe("routes", () => {
  const routes = [{ path: "/" }, { path: "/settings/nodes" }, { path: "/settings" }];
  it("longest prefix wins; query strings ignored; unknown is undefined", () => {
    expect(matchRoute(routes, "/")?.path).toBe("/");
    expect(matchRoute(routes, "/settings/nodes?x=1")?.path).toBe("/settings/nodes");
    expect(matchRoute(routes, "/settings/nodes/abc")?.path).toBe("/settings/nodes");
    expect(matchRoute(routes, "/settings/")?.path).toBe("/settings");
    expect(matchRoute(routes, "/nope")).toBeUndefined();
  });
});

describe("virtual range", () => {
  it("covers the view plus overscan, clamped to the list", () => {
    expect(visibleRange(10000, 34, 0, 680, 8)).toEqual([0, 28]);
    expect(visibleRange(10000, 34, 34 * 5000, 680, 8)).toEqual([4992, 5028]);
    expect(visibleRange(10000, 34, 34 * 10000, 680, 8)).toEqual([9992, 10000]);
    expect(visibleRange(0, 34, 0, 680, 8)).toEqual([0, 0]);
  });
});

describe("chart data", () => {
  it("merges series onto one time axis in seconds with gaps as null", () => {
    const d = toUplotData([
      [{ timestamp: 2000, value: 2 }, { timestamp: 1000, value: 1 }],
      [{ timestamp: 3000, value: 9 }, { timestamp: 1000, value: NaN }],
    ]);
    expect(d).toEqual([[1, 2, 3], [1, 2, null], [null, null, 9]]);
  });
});

describe("form validation", () => {
  it("setup and passwords", () => {
    expect(validateSetup({ username: "", password: "x", confirm: "y" })).toEqual({
      username: "A user name is required.",
      password: "The password needs at least 12 characters.",
      confirm: "The passwords do not match.",
    });
    expect(validateSetup({ username: "admin", password: "123456789012", confirm: "123456789012" })).toEqual({});
    expect(validatePassword("é".repeat(40), "é".repeat(40)).password).toMatch(/72 bytes/);
  });
  it("nodes need a name, host and one credential (not when editing)", () => {
    const base = { type: "pve", name: "pve1", host: "https://h:8006", tokenName: "", tokenValue: "", user: "", password: "" };
    expect(Object.keys(validateNode(base, false))).toEqual(["auth"]);
    expect(validateNode(base, true)).toEqual({});
    expect(validateNode({ ...base, tokenName: "root@pam!x", tokenValue: "s" }, false)).toEqual({});
    expect(Object.keys(validateNode({ ...base, tokenName: "nobang", tokenValue: "s" }, false))).toEqual(["tokenName"]);
    expect(Object.keys(validateNode({ ...base, type: "x", name: " ", host: "" }, true))).toEqual(["type", "name", "host"]);
  });
});

describe("settings form", () => {
  it("sends only changed keys", () => {
    expect(changedKeys({ a: 1, b: true, c: "x" }, { a: 1, b: false, c: "y", d: NaN })).toEqual({ b: false, c: "y" });
    expect(humanKey("pvePollingInterval")).toBe("Pve polling interval");
  });
});

describe("backups", () => {
  it("PVE and PBS in one list, newest first, PBS-backed PVE entries not doubled", () => {
    const s = {
      pveBackups: {
        backupTasks: [],
        guestSnapshots: [],
        storageBackups: [
          { id: "a", vmid: 100, node: "n", storage: "local", time: "2026-01-01T00:00:00Z", size: 1, isPBS: false, verified: false },
          { id: "b", vmid: 101, node: "n", storage: "pbs", time: "2026-01-03T00:00:00Z", size: 1, isPBS: true, verified: true },
        ],
      },
      pbsBackups: [{ id: "c", vmid: "101", instance: "pbs1", datastore: "ds", backupTime: "2026-01-02T00:00:00Z", size: 2, verified: true }],
    } as unknown as PulseState;
    expect(unifiedBackups(s).map((b) => [b.id, b.source])).toEqual([["c", "PBS"], ["a", "PVE"]]);
    expect(unifiedBackups(null)).toEqual([]);
  });
});

describe("theme", () => {
  it("system follows the OS, a pick overrides it", () => {
    expect(effectiveThemeFor("system", true)).toBe("dark");
    expect(effectiveThemeFor("system", false)).toBe("light");
    expect(effectiveThemeFor("light", true)).toBe("light");
  });
});

import { trimState } from "./trim";
describe("trimmed state", () => {
  it("drops the duplicate and heavy backup lists and per-guest arrays, keeps counts", () => {
    const full = {
      nodes: [{ id: "n" }],
      vms: [{ id: "v", disks: [{}], networkInterfaces: [{}], name: "a" }],
      containers: [],
      backups: { pve: {}, pbs: [], pmg: [] },
      pveBackups: { backupTasks: [{ id: "t" }], guestSnapshots: [{ id: "s" }], storageBackups: [{}, {}] },
      pbsBackups: [{}],
      pmgBackups: [],
      activeAlerts: [],
    } as unknown as Parameters<typeof trimState>[0];
    const t = trimState(full) as unknown as Record<string, unknown> & ReturnType<typeof trimState>;
    expect(t.backups).toBeUndefined();
    expect(t.vms[0]).toEqual({ id: "v", name: "a" });
    expect(t.pveBackups).toEqual({ backupTasks: [{ id: "t" }], guestSnapshots: [{ id: "s" }], storageBackups: [] });
    expect(t.backupCounts).toEqual({ storageBackups: 2, pbsBackups: 1, pmgBackups: 0 });
    expect(t.nodes).toEqual([{ id: "n" }]);
  });
});
