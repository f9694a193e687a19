import { describe, expect, it } from "vitest";
import { clampPct, formatAge, formatBytes, formatPct, formatRate, formatUptime, levelClass } from "./format";

describe("format", () => {
  it("bytes use binary units and one decimal below 10", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(20 * 1024 ** 3)).toBe("20 GiB");
    expect(formatBytes(-1)).toBe("–");
    expect(formatBytes(NaN)).toBe("–");
    expect(formatBytes(undefined)).toBe("–");
  });
  it("rates append /s", () => {
    expect(formatRate(2 * 1024 * 1024)).toBe("2.0 MiB/s");
    expect(formatRate(null)).toBe("–");
  });
  it("uptime shows the two largest units", () => {
    expect(formatUptime(0)).toBe("–");
    expect(formatUptime(42)).toBe("42s");
    expect(formatUptime(125)).toBe("2m");
    expect(formatUptime(3 * 3600 + 5 * 60)).toBe("3h 5m");
    expect(formatUptime(2 * 86400 + 7 * 3600)).toBe("2d 7h");
  });
  it("percent: unknown (-1) is a dash; bars clamp", () => {
    expect(formatPct(42.04)).toBe("42.0%");
    expect(formatPct(100)).toBe("100%");
    expect(formatPct(-1)).toBe("–");
    expect(clampPct(140)).toBe(100);
    expect(clampPct(-1)).toBe(0);
    expect(levelClass(79.9)).toBe("ok");
    expect(levelClass(85)).toBe("warn");
    expect(levelClass(95)).toBe("crit");
  });
  it("age understands ms, RFC3339 and Go's zero time", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAge(now - 3 * 3600 * 1000, now)).toBe("3h 0m ago");
    expect(formatAge("2026-01-01T11:55:00Z", now)).toBe("5m ago");
    expect(formatAge("0001-01-01T00:00:00Z", now)).toBe("–");
    expect(formatAge(undefined, now)).toBe("–");
    expect(formatAge(now, now)).toBe("just now");
  });
});
