// Helpers for the generic settings form (pure; tested).

/** Only the edited keys whose value differs from the original. */
export function changedKeys(orig: Record<string, unknown>, edits: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(edits)) if (orig[k] !== v && !(typeof v === "number" && Number.isNaN(v))) out[k] = v;
  return out;
}

/** "pvePollingInterval" → "Pve polling interval". */
export function humanKey(k: string): string {
  const s = k.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
