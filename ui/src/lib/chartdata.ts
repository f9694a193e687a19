// Converting /api/charts point lists into uPlot's aligned columns (pure; tested).

export interface Point { timestamp: number; value: number; max?: number }

/** Merge several series onto one sorted time axis (seconds); missing values become null. */
export function toUplotData(series: Point[][]): (number | null)[][] {
  const times = new Set<number>();
  for (const s of series) for (const p of s ?? []) if (Number.isFinite(p.timestamp)) times.add(p.timestamp);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const cols: (number | null)[][] = [xs.map((t) => t / 1000)];
  for (const s of series) {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of s ?? []) {
      const i = index.get(p.timestamp);
      if (i !== undefined && Number.isFinite(p.value)) col[i] = p.value;
    }
    cols.push(col);
  }
  return cols;
}

export const RANGES = ["1h", "24h", "7d", "30d"] as const;
export type Range = (typeof RANGES)[number];
