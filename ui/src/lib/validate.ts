// Client-side form checks, run before sending (the server checks again and its message is shown).

export function validateSetup(v: { username: string; password: string; confirm: string }): Record<string, string> {
  const e: Record<string, string> = {};
  const u = v.username.trim();
  if (!u) e.username = "A user name is required.";
  else if (u.length > 64 || u.includes(":")) e.username = "1-64 characters, no ':'.";
  Object.assign(e, validatePassword(v.password, v.confirm));
  return e;
}

export function validatePassword(p: string, confirm: string): Record<string, string> {
  const e: Record<string, string> = {};
  if (p.length < 12) e.password = "The password needs at least 12 characters.";
  else if (new TextEncoder().encode(p).length > 72) e.password = "The password may be at most 72 bytes.";
  if (p !== confirm) e.confirm = "The passwords do not match.";
  return e;
}

export function validateNode(v: { type: string; name: string; host: string; tokenName: string; tokenValue: string; user: string; password: string }, editing: boolean): Record<string, string> {
  const e: Record<string, string> = {};
  if (!["pve", "pbs", "pmg"].includes(v.type)) e.type = "Choose PVE, PBS or PMG.";
  if (!v.name.trim()) e.name = "A name is required.";
  if (!v.host.trim()) e.host = "The host URL is required (e.g. https://pve.example:8006).";
  const hasToken = v.tokenName.trim() && v.tokenValue.trim();
  const hasPass = v.user.trim() && v.password;
  if (!editing && !hasToken && !hasPass) e.auth = "Give an API token (id + secret) or a user and password.";
  if (v.tokenName.trim() && !v.tokenName.includes("!")) e.tokenName = "Token id looks like user@realm!tokenname.";
  return e;
}
