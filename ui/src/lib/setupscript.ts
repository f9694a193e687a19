// Settings → Nodes "Set up with a script" (pure; tested in setupscript.test.ts): the answer
// of POST /api/setup-script-url, its expiry, and what the script does for each node type.

export type ScriptType = "pve" | "pbs" | "pmg";

/** What the server returns (extra keys are ignored). `expires` is in Unix seconds. */
export interface SetupScriptAnswer { url: string; command: string; expires: number; setupCode?: string; setupToken?: string; tokenHint?: string }

/** The request body: the type, and the host only when one was typed (the code is then bound to it). */
export function setupRequest(type: ScriptType, host: string, backupPerms: boolean): Record<string, unknown> {
  const b: Record<string, unknown> = { type };
  if (host.trim()) b.host = host.trim();
  if (type === "pve" && backupPerms) b.backupPerms = true;
  return b;
}

/** Checks an optional host before sending: empty is fine; otherwise a host name/IP with an
 *  optional http(s):// scheme and port, no path or spaces. Returns an error text or "". */
export function checkScriptHost(host: string): string {
  const h = host.trim();
  if (!h) return "";
  if (!/^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?\/?$/.test(h)) return "Enter a host name or address, e.g. pve1.example or https://10.0.0.5:8006";
  const port = /:(\d{1,5})\/?$/.exec(h.replace(/^\[[^\]]*\]/, "").replace(/^https?:\/\//, ""));
  if (port && (Number(port[1]) < 1 || Number(port[1]) > 65535)) return "Port must be 1 to 65535";
  return "";
}

/** The code the command carries (the server sends it under two names). */
export function scriptCode(a: SetupScriptAnswer): string {
  return a.setupCode ?? a.setupToken ?? "";
}

/** Seconds left until `expires` (Unix seconds) at `nowMs`; never negative. */
export function secondsLeft(expires: number, nowMs = Date.now()): number {
  return Math.max(0, Math.floor(expires - nowMs / 1000));
}

/** "expires in 4m 05s" / "expired — make a new one". */
export function expiryText(expires: number, nowMs = Date.now()): string {
  const s = secondsLeft(expires, nowMs);
  if (s <= 0) return "expired — make a new one";
  const m = Math.floor(s / 60);
  return `expires in ${m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`}`;
}

/** What running the script does on the host, in order. */
export function scriptSteps(type: ScriptType, backupPerms = false): string[] {
  if (type === "pmg")
    // Mail Gateway has no API tokens for this: the script gives the user a password instead.
    return [
      "creates the user pulse-monitor@pmg with the read-only audit role (re-running keeps the user)",
      "gives it a new random password (32 characters) on every run",
      "sends the user and password to this Pulse with the one-time code, which adds the gateway",
    ];
  return type === "pve"
    ? [
        "creates the user pulse-monitor@pam (no password, it cannot log in)",
        `gives it read-only rights: PVEAuditor plus a PulseMonitor role for guest agent and disk details${backupPerms ? ", and PVEDatastoreAdmin on /storage so it can list backups" : ""}`,
        "creates an API token for it (privilege-separated off, so the token has the user's rights)",
        "sends the token to this Pulse with the one-time code, which adds the node",
      ]
    : [
        "creates the user pulse-monitor@pbs",
        "gives it the read-only Audit role on /",
        "creates an API token for it",
        "sends the token to this Pulse with the one-time code, which adds the server",
      ];
}
