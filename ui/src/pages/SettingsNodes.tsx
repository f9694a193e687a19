// Settings → Nodes: list, add (with test-connection), edit, delete PVE/PBS/PMG connections,
// and "Set up with a script" (a one-time setup code; the host registers itself).
import { createResource, createSignal, For, onCleanup, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { toast } from "../lib/toast";
import { validateNode } from "../lib/validate";
import { checkScriptHost, expiryText, scriptCode, scriptSteps, secondsLeft, setupRequest, type ScriptType, type SetupScriptAnswer } from "../lib/setupscript";

/** The setup-script panel: pick PVE/PBS/PMG (optionally bind to one host), get the one-line
 *  command with its one-time code, copy it, watch the expiry. While a code is valid the node
 *  list is re-read every few seconds, so a host that registers itself shows up. */
function ScriptSetup(props: { onClose: () => void; refresh: () => void }) {
  const [type, setType] = createSignal<ScriptType>("pve");
  const [host, setHost] = createSignal("");
  const [backupPerms, setBackupPerms] = createSignal(false);
  const [err, setErr] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [answer, setAnswer] = createSignal<SetupScriptAnswer | null>(null);
  const [now, setNow] = createSignal(Date.now());
  const [copied, setCopied] = createSignal(false);
  const tick = setInterval(() => {
    setNow(Date.now());
    const a = answer();
    if (a && secondsLeft(a.expires, Date.now()) > 0 && Math.floor(Date.now() / 1000) % 3 === 0) props.refresh();
  }, 1000);
  onCleanup(() => clearInterval(tick));

  const generate = async (e: Event) => {
    e.preventDefault();
    const h = checkScriptHost(host());
    setErr(h);
    if (h) return;
    setBusy(true);
    setAnswer(null);
    setCopied(false);
    try {
      setAnswer(await api<SetupScriptAnswer>("POST", "/api/setup-script-url", setupRequest(type(), host(), backupPerms()), { toast: false }));
      setNow(Date.now());
    } catch (x) {
      setErr((x as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const copy = async () => {
    const text = answer()!.command;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API (plain http on another host): select the text for Ctrl+C instead.
      const el = document.querySelector("[data-testid=script-command]");
      if (el) getSelection()?.selectAllChildren(el);
      toast("Press Ctrl+C to copy the selected command", "info");
      return;
    }
    setCopied(true);
  };
  const expired = () => !!answer() && secondsLeft(answer()!.expires, now()) <= 0;

  return (
    <form class="panel" data-testid="script-setup" onSubmit={generate} novalidate>
      <h2>Set up with a script</h2>
      <p class="muted small">Run one command as root on the Proxmox host. It makes a read-only monitoring user there (with an API token, or on a Mail Gateway a random password) and registers the host with this Pulse — no secret to copy by hand.</p>
      <div class="formgrid">
        <label>Type<select name="scriptType" value={type()} onChange={(e) => { setType(e.currentTarget.value as ScriptType); setAnswer(null); }}><option value="pve">Proxmox VE</option><option value="pbs">Proxmox Backup Server</option><option value="pmg">Proxmox Mail Gateway</option></select></label>
        <label>Only for host (optional)<input name="scriptHost" placeholder="pve1.example or https://10.0.0.5:8006" value={host()} onInput={(e) => { setHost(e.currentTarget.value); setErr(""); }} /></label>
        <Show when={type() === "pve"}><label class="row"><input name="backupPerms" type="checkbox" checked={backupPerms()} onChange={(e) => setBackupPerms(e.currentTarget.checked)} /> Also allow listing backups on storage</label></Show>
      </div>
      <Show when={err()}><p class="error" role="alert" data-testid="script-error">{err()}</p></Show>
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy()} data-testid="script-generate">{answer() ? "Make a new command" : "Get the command"}</button>
        <button type="button" class="ghost" onClick={props.onClose}>Close</button>
      </div>
      <Show when={answer()}>
        <div data-testid="script-result" data-code={scriptCode(answer()!)}>
          <div class="cmd"><code data-testid="script-command">{answer()!.command}</code><button type="button" onClick={copy} data-testid="script-copy" disabled={expired()}>{copied() ? "Copied ✓" : "Copy"}</button></div>
          <p class={expired() ? "error" : "small"} data-testid="script-expiry">Setup code {answer()!.tokenHint ?? ""} · single use · {expiryText(answer()!.expires, now())}</p>
          <p class="small">The script, run as root on the {{ pve: "Proxmox VE node", pbs: "Backup Server", pmg: "Mail Gateway" }[type()]}:</p>
          <ol class="small"><For each={scriptSteps(type(), backupPerms())}>{(s) => <li>{s}</li>}</For></ol>
          <p class="muted small">The code travels in the command's environment, not in the URL, and works once{host().trim() ? ` and only for ${host().trim()}` : ""}. The new node appears in the list above when the script has finished.</p>
        </div>
      </Show>
    </form>
  );
}

interface NodeView { id: string; type: string; name: string; host: string; user?: string; tokenName?: string; hasPassword: boolean; hasToken: boolean; verifySSL: boolean; fingerprint?: string; status: string }

const blank = { type: "pve", name: "", host: "", user: "", password: "", tokenName: "", tokenValue: "", fingerprint: "", verifySSL: true };
type Form = typeof blank;

export default function SettingsNodes() {
  const [nodes, { refetch }] = createResource(() => api<NodeView[]>("GET", "/api/config/nodes"));
  const [form, setForm] = createSignal<Form | null>(null);
  const [editing, setEditing] = createSignal<string | null>(null);
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [test, setTest] = createSignal<{ ok: boolean; text: string } | null>(null);
  const [script, setScript] = createSignal(false);
  const [busy, setBusy] = createSignal(false);

  const field = (k: keyof Form) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setForm({ ...form()!, [k]: t.type === "checkbox" ? t.checked : t.value });
  };
  const body = () => {
    const f = form()!;
    const b: Record<string, unknown> = { type: f.type, name: f.name.trim(), host: f.host.trim(), verifySSL: f.verifySSL };
    for (const k of ["user", "password", "tokenName", "tokenValue", "fingerprint"] as const) if (f[k].trim()) b[k] = f[k].trim();
    return b;
  };
  const check = () => {
    const e = validateNode(form()!, editing() != null);
    setErrs(e);
    return Object.keys(e).length === 0;
  };
  const serverErr = (x: unknown) => {
    const e = x as ApiError;
    setErrs({ ...e.fields, form: e.message });
  };
  const runTest = async () => {
    if (!check()) return;
    setBusy(true);
    setTest(null);
    try {
      const r = await api<Record<string, unknown>>("POST", "/api/config/nodes/test-connection", body(), { toast: false });
      setTest({ ok: true, text: String(r.message ?? "Connection works") });
    } catch (x) {
      setTest({ ok: false, text: (x as Error).message });
    } finally {
      setBusy(false);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!check()) return;
    setBusy(true);
    try {
      if (editing()) await api("PUT", `/api/config/nodes/${encodeURIComponent(editing()!)}`, body(), { toast: false });
      else await api("POST", "/api/config/nodes", body(), { toast: false });
      toast(`Node ${form()!.name} saved`, "ok");
      setForm(null);
      setEditing(null);
      refetch();
    } catch (x) {
      serverErr(x);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (n: NodeView) => {
    if (!confirm(`Remove ${n.name}? Pulse stops monitoring it.`)) return;
    await api("DELETE", `/api/config/nodes/${encodeURIComponent(n.id)}`);
    toast(`Node ${n.name} removed`, "ok");
    refetch();
  };
  const edit = (n: NodeView) => {
    setEditing(n.id);
    setErrs({});
    setTest(null);
    setForm({ ...blank, type: n.type, name: n.name, host: n.host, user: n.user ?? "", tokenName: n.tokenName ?? "", fingerprint: n.fingerprint ?? "", verifySSL: n.verifySSL });
  };

  return (
    <div class="page">
      <h1>Nodes</h1>
      <p class="muted">Proxmox VE, Backup Server and Mail Gateway connections. Secrets are stored sealed and never shown again.</p>
      <Show when={(nodes.latest ?? []).length} fallback={<p class="muted">{nodes.loading ? "Loading…" : nodes.error ? "Could not load the node list." : "No nodes configured yet."}</p>}>
        <div class="tablewrap"><table class="grid" data-testid="node-config">
          <thead><tr><th>Name</th><th>Type</th><th>Host</th><th>Auth</th><th>Status</th><th></th></tr></thead>
          <tbody><For each={nodes.latest}>{(n) => (
            <tr data-name={n.name}><td>{n.name}</td><td>{n.type.toUpperCase()}</td><td class="small">{n.host}</td><td class="small">{n.hasToken ? `token ${n.tokenName ?? ""}` : n.hasPassword ? `password (${n.user})` : "–"}</td>
              <td><span class={`pill ${n.status === "connected" ? "ok" : n.status === "error" ? "crit" : "warn"}`}>{n.status}</span></td>
              <td class="actions"><button onClick={() => edit(n)}>Edit</button><button class="danger" onClick={() => remove(n)}>Delete</button></td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
      <Show when={!form()}><div class="buttons">
        <button class="primary" data-testid="add-node" onClick={() => { setEditing(null); setErrs({}); setTest(null); setScript(false); setForm({ ...blank }); }}>Add node</button>
        <Show when={!script()}><button data-testid="script-open" onClick={() => setScript(true)}>Set up with a script</button></Show>
      </div></Show>
      <Show when={script() && !form()}><ScriptSetup onClose={() => setScript(false)} refresh={refetch} /></Show>
      <Show when={form()}>
        <form class="panel" onSubmit={save} data-testid="node-form" novalidate>
          <h2>{editing() ? `Edit ${form()!.name}` : "Add a node"}</h2>
          <div class="formgrid">
            <label>Type<select name="type" value={form()!.type} onChange={field("type")} disabled={!!editing()}><option value="pve">Proxmox VE</option><option value="pbs">Proxmox Backup Server</option><option value="pmg">Proxmox Mail Gateway</option></select></label>
            <label>Name<input name="name" value={form()!.name} onInput={field("name")} /><Show when={errs().name}><small class="error">{errs().name}</small></Show></label>
            <label class="wide">Host URL<input name="host" placeholder="https://pve.example:8006" value={form()!.host} onInput={field("host")} /><Show when={errs().host}><small class="error">{errs().host}</small></Show></label>
            <label>API token id<input name="tokenName" placeholder="root@pam!pulse" value={form()!.tokenName} onInput={field("tokenName")} /><Show when={errs().tokenName}><small class="error">{errs().tokenName}</small></Show></label>
            <label>API token secret<input name="tokenValue" type="password" placeholder={editing() ? "unchanged" : ""} value={form()!.tokenValue} onInput={field("tokenValue")} /></label>
            <label>…or user<input name="user" placeholder="root@pam" value={form()!.user} onInput={field("user")} /><Show when={errs().user}><small class="error">{errs().user}</small></Show></label>
            <label>Password<input name="password" type="password" placeholder={editing() ? "unchanged" : ""} value={form()!.password} onInput={field("password")} /></label>
            <label>TLS fingerprint (SHA-256)<input name="fingerprint" value={form()!.fingerprint} onInput={field("fingerprint")} /><Show when={errs().fingerprint}><small class="error">{errs().fingerprint}</small></Show></label>
            <label class="row"><input name="verifySSL" type="checkbox" checked={form()!.verifySSL} onChange={field("verifySSL")} /> Verify the TLS certificate</label>
          </div>
          <Show when={errs().auth}><p class="error">{errs().auth}</p></Show>
          <Show when={errs().form}><p class="error" role="alert" data-testid="node-error">{errs().form}</p></Show>
          <Show when={test()}><p class={test()!.ok ? "okmsg" : "error"} role="status" data-testid="test-result">{test()!.ok ? "✓ " : "✗ "}{test()!.text}</p></Show>
          <div class="buttons">
            <button type="button" onClick={runTest} disabled={busy()} data-testid="test-connection">Test connection</button>
            <button type="submit" class="primary" disabled={busy()}>Save</button>
            <button type="button" class="ghost" onClick={() => setForm(null)}>Cancel</button>
          </div>
        </form>
      </Show>
    </div>
  );
}
