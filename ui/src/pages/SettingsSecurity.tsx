// Settings → Security: change password, API tokens (scopes; secret shown once; revoke).
import { createResource, createSignal, For, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { toast } from "../lib/toast";
import { security, refreshSecurity } from "../lib/store";
import { validatePassword } from "../lib/validate";
import { formatAge } from "../lib/format";

const SCOPES = ["monitoring:read", "monitoring:write", "settings:read", "settings:write", "docker:report", "docker:manage", "host-agent:report", "host-agent:manage"];
interface TokenRecord { id: string; name: string; prefix?: string; suffix?: string; createdAt?: string; lastUsedAt?: string; scopes?: string[] }

export default function SettingsSecurity() {
  const [cur, setCur] = createSignal("");
  const [pw, setPw] = createSignal("");
  const [pw2, setPw2] = createSignal("");
  const [pwErr, setPwErr] = createSignal<Record<string, string>>({});
  const [tokens, { refetch }] = createResource(async () => (await api<{ tokens: TokenRecord[] }>("GET", "/api/security/tokens")).tokens);
  const [name, setName] = createSignal("");
  const [scopes, setScopes] = createSignal<string[]>(["monitoring:read"]);
  const [all, setAll] = createSignal(false);
  const [minted, setMinted] = createSignal<string | null>(null);

  const changePw = async (e: Event) => {
    e.preventDefault();
    const v = validatePassword(pw(), pw2());
    if (!cur()) v.current = "Enter your current password.";
    setPwErr(v);
    if (Object.keys(v).length) return;
    try {
      await api("POST", "/api/security/change-password", { currentPassword: cur(), newPassword: pw() }, { toast: false });
      toast("Password changed; other sessions were signed out", "ok");
      setCur(""); setPw(""); setPw2("");
      refreshSecurity();
    } catch (x) {
      setPwErr({ form: (x as ApiError).message });
    }
  };
  const create = async (e: Event) => {
    e.preventDefault();
    if (!all() && !scopes().length) return toast("Pick at least one scope", "error");
    const r = await api<{ token: string }>("POST", "/api/security/tokens", { name: name().trim() || undefined, scopes: all() ? ["*"] : scopes() });
    setMinted(r.token);
    setName("");
    refetch();
  };
  const revoke = async (t: TokenRecord) => {
    if (!confirm(`Revoke token ${t.name}? Scripts using it stop working.`)) return;
    await api("DELETE", `/api/security/tokens/${encodeURIComponent(t.id)}`);
    toast(`Token ${t.name} revoked`, "ok");
    refetch();
  };
  const toggle = (s: string) => setScopes(scopes().includes(s) ? scopes().filter((x) => x !== s) : [...scopes(), s]);

  return (
    <div class="page">
      <h1>Security</h1>
      <p class="muted">Signed in as <b>{security()?.authUsername || "–"}</b> ({security()?.authMethod || "no session"}).</p>
      <Show when={security()?.passwordConfigured}>
        <form class="panel narrow" onSubmit={changePw} data-testid="change-password" novalidate>
          <h2>Change password</h2>
          <label>Current password<input type="password" autocomplete="current-password" value={cur()} onInput={(e) => setCur(e.currentTarget.value)} /></label>
          <Show when={pwErr().current}><small class="error">{pwErr().current}</small></Show>
          <label>New password (12+ characters)<input type="password" autocomplete="new-password" value={pw()} onInput={(e) => setPw(e.currentTarget.value)} /></label>
          <Show when={pwErr().password}><small class="error">{pwErr().password}</small></Show>
          <label>Repeat new password<input type="password" autocomplete="new-password" value={pw2()} onInput={(e) => setPw2(e.currentTarget.value)} /></label>
          <Show when={pwErr().confirm}><small class="error">{pwErr().confirm}</small></Show>
          <Show when={pwErr().form}><p class="error" role="alert">{pwErr().form}</p></Show>
          <button type="submit" class="primary">Change password</button>
        </form>
      </Show>
      <section class="panel">
        <h2>API tokens</h2>
        <Show when={minted()}>
          <div class="notice" data-testid="minted-token"><p>New token — copy it now, it is <b>shown only once</b>:</p><code class="secret">{minted()}</code> <button class="ghost" onClick={() => setMinted(null)}>Done</button></div>
        </Show>
        <Show when={(tokens() ?? []).length} fallback={<p class="muted">{tokens.error ? "Could not load tokens." : "No API tokens."}</p>}>
          <div class="tablewrap"><table class="grid" data-testid="tokens">
            <thead><tr><th>Name</th><th>Token</th><th>Scopes</th><th>Created</th><th>Last used</th><th></th></tr></thead>
            <tbody><For each={tokens()}>{(t) => (
              <tr><td>{t.name}</td><td class="small">{t.prefix ? `${t.prefix}…${t.suffix ?? ""}` : "••••"}</td><td class="small">{(t.scopes ?? ["*"]).join(", ")}</td><td>{formatAge(t.createdAt)}</td><td>{formatAge(t.lastUsedAt)}</td>
                <td><button class="danger" onClick={() => revoke(t)}>Revoke</button></td></tr>
            )}</For></tbody>
          </table></div>
        </Show>
        <form onSubmit={create} class="tokenform">
          <label>Name<input value={name()} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. grafana" /></label>
          <fieldset><legend>Scopes</legend>
            <label class="row"><input type="checkbox" checked={all()} onChange={(e) => setAll(e.currentTarget.checked)} /> Full access (*)</label>
            <Show when={!all()}><For each={SCOPES}>{(s) => <label class="row"><input type="checkbox" checked={scopes().includes(s)} onChange={() => toggle(s)} /> {s}</label>}</For></Show>
          </fieldset>
          <button type="submit" class="primary">Create token</button>
        </form>
      </section>
    </div>
  );
}
