// Pure formatting helpers (unit-tested in format.test.ts).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; negative/NaN → "–". */
export function formatBytes(n: number | undefined | null): string {
  if (n == null || !Number.isFinite(n) || n < 0) return "–";
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v < 10 ? v.toFixed(1) : v.toFixed(0)} ${UNITS[i]}`;
}

/** Bytes per second → "1.5 MiB/s"; 0 → "0 B/s". */
export function formatRate(n: number | undefined | null): string {
  const b = formatBytes(n);
  return b === "–" ? b : `${b}/s`;
}

/** Seconds → "3d 4h", "5h 2m", "12m", "40s"; 0 or less → "–". */
export function formatUptime(s: number | undefined | null): string {
  if (s == null || !Number.isFinite(s) || s <= 0) return "–";
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m`;
  return `${Math.floor(s)}s`;
}

/** Percent (0..100) → "42.0%"; unknown (<0, NaN) → "–". */
export function formatPct(p: number | undefined | null): string {
  if (p == null || !Number.isFinite(p) || p < 0) return "–";
  return `${p.toFixed(p >= 100 ? 0 : 1)}%`;
}

/** Clamp a percentage for a bar width. */
export function clampPct(p: number | undefined | null): number {
  if (p == null || !Number.isFinite(p) || p < 0) return 0;
  return Math.min(100, p);
}

/** Time since `t` (ms or RFC3339) relative to `now` ms → "5m ago". */
export function formatAge(t: number | string | undefined | null, now = Date.now()): string {
  if (t == null || t === "") return "–";
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms) || ms <= 0 || String(t).startsWith("0001-")) return "–";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 5 ? "just now" : `${formatUptime(s)} ago`;
}

/** Bar colour class by level: warn ≥ 80, crit ≥ 90. */
export function levelClass(p: number): string {
  return p >= 90 ? "crit" : p >= 80 ? "warn" : "ok";
}
