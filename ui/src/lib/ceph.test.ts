import { describe, expect, it } from "vitest";
import { cephLabel, cephLevel, clusterPct, healthChecks, osdSummary, poolPct, sortClusters } from "./ceph";

describe("ceph", () => {
  it("classifies Ceph health words, unknown ones are not green", () => {
    expect(cephLevel("HEALTH_OK")).toBe("ok");
    expect(cephLevel("HEALTH_WARN")).toBe("warn");
    expect(cephLevel("HEALTH_ERR")).toBe("crit");
    expect(cephLevel("health_warn")).toBe("warn");
    expect(cephLevel("ERR")).toBe("crit");
    expect(cephLevel("")).toBe("unknown");
    expect(cephLevel(undefined)).toBe("unknown");
    expect(cephLevel("HEALTH_BANANA")).toBe("unknown");
    expect(cephLabel("health_err")).toBe("HEALTH_ERR");
    expect(cephLabel("weird")).toBe("UNKNOWN");
  });

  it("splits the joined health messages into checks", () => {
    expect(healthChecks("OSD_DOWN: 1 osds down; PG_DEGRADED: Degraded data redundancy")).toEqual([
      { code: "OSD_DOWN", text: "1 osds down" },
      { code: "PG_DEGRADED", text: "Degraded data redundancy" },
    ]);
    expect(healthChecks("clock skew detected")).toEqual([{ code: "", text: "clock skew detected" }]);
    expect(healthChecks("")).toEqual([]);
    expect(healthChecks(undefined)).toEqual([]);
    expect(healthChecks(" ; ;")).toEqual([]);
  });

  it("sorts the worst cluster first", () => {
    const l = [
      { instance: "b", name: "Ceph", health: "HEALTH_OK" },
      { instance: "a", name: "Ceph", health: "HEALTH_OK" },
      { instance: "c", name: "Ceph", health: "HEALTH_ERR" },
      { instance: "d", name: "Ceph", health: "HEALTH_WARN" },
      { instance: "e", name: "Ceph", health: "" },
    ];
    expect(sortClusters(l).map((c) => c.instance)).toEqual(["c", "d", "e", "a", "b"]);
    expect(l[0].instance).toBe("b"); // input untouched
  });

  it("summarises OSDs with down/out counts and a level", () => {
    expect(osdSummary({ numOsds: 3, numOsdsUp: 3, numOsdsIn: 3 })).toMatchObject({ down: 0, out: 0, level: "ok", text: "3/3 up, 3/3 in" });
    expect(osdSummary({ numOsds: 3, numOsdsUp: 2, numOsdsIn: 3 })).toMatchObject({ down: 1, out: 0, level: "warn" });
    expect(osdSummary({ numOsds: 3, numOsdsUp: 3, numOsdsIn: 2 })).toMatchObject({ down: 0, out: 1, level: "warn" });
    expect(osdSummary({ numOsds: 4, numOsdsUp: 0, numOsdsIn: 0 })).toMatchObject({ down: 4, level: "crit" });
    expect(osdSummary({ numOsds: 0, numOsdsUp: 0, numOsdsIn: 0 }).level).toBe("unknown");
    // Inconsistent counts are clamped, never negative.
    expect(osdSummary({ numOsds: 2, numOsdsUp: 5, numOsdsIn: -1 })).toMatchObject({ up: 2, in: 0, down: 0, out: 2 });
  });

  it("pool and cluster percentages fall back to the byte counts", () => {
    expect(poolPct({ percentUsed: 21.5, storedBytes: 1, availableBytes: 1 })).toBe(21.5);
    expect(poolPct({ percentUsed: NaN, storedBytes: 25, availableBytes: 75 })).toBe(25);
    expect(poolPct({ percentUsed: -1, storedBytes: 0, availableBytes: 0 })).toBe(-1);
    expect(poolPct({ percentUsed: 250, storedBytes: 0, availableBytes: 0 })).toBe(100);
    expect(clusterPct({ usagePercent: 30, usedBytes: 0, totalBytes: 0 })).toBe(30);
    expect(clusterPct({ usagePercent: NaN, usedBytes: 40, totalBytes: 200 })).toBe(20);
    expect(clusterPct({ usagePercent: NaN, usedBytes: 40, totalBytes: 0 })).toBe(-1);
  });
});
