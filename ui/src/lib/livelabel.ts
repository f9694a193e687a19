import type { LiveStatus } from "./live";

/** Words for the header's connection indicator (pure; tested). */
export function statusLabel(s: LiveStatus, attempt: number): string {
  switch (s) {
    case "open":
      return "Live";
    case "connecting":
      return "Connecting…";
    case "reconnecting":
      return attempt > 1 ? `Reconnecting (try ${attempt})…` : "Reconnecting…";
    default:
      return "Offline";
  }
}
