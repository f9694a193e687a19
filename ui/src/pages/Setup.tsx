// First run: claim the install with the bootstrap token, set user + password, and
// optionally create an API token that is shown exactly once.
import { createSignal, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { refreshSecurity, security } from "../lib/store";
import { navigate } from "../lib/router";
import { validateSetup } from "../lib/validate";

function randomToken(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export default function Setup() {
  const [token, setToken] = createSignal("");
  const [user, setUser] = createSignal("admin");
  const [pass, setPass] = createSignal("");
  const [pass2, setPass2] = createSignal("");
  const [withToken, setWithToken] = createSignal(false);
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [busy, setBusy] = createSignal(false);
  const [shownToken, setShownToken] = createSignal<string | null>(null);

  const finish = async () => {
    await refreshSecurity();
    navigate("/login", true);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = validateSetup({ username: user(), password: pass(), confirm: pass2() });
    setErrs(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    const apiToken = withToken() ? randomToken() : undefined;
    try {
      await api("POST", "/api/security/quick-setup", { username: user().trim(), password: pass(), apiToken }, { toast: false, headers: token() ? { "X-Setup-Token": token().trim() } : {} });
      if (apiToken) setShownToken(apiToken);
      else await finish();
    } catch (x) {
      const ex = x as ApiError;
      const msg = ex.message ?? String(x);
      setErrs({ form: msg, ...(/password/i.test(msg) ? { password: msg } : {}), ...(/username/i.test(msg) ? { username: msg } : {}) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Show
      when={!shownToken()}
      fallback={
        <div class="panel narrow" data-testid="setup-token">
          <h1>Security is on</h1>
          <p>Your API token — copy it now, it is <b>shown only once</b>:</p>
          <code class="secret" data-testid="api-token">{shownToken()}</code>
          <p class="muted">Send it as <code>X-API-Token</code> from scripts.</p>
          <button class="primary" onClick={finish}>Continue to sign in</button>
        </div>
      }
    >
      <form class="panel narrow" onSubmit={submit} data-testid="setup-form" novalidate>
        <h1>Welcome to Pulse</h1>
        <p>Secure this install first. Paste the bootstrap token from
          <code>{security()?.bootstrapTokenPath ?? "<data dir>/.bootstrap_token"}</code>
          (<code>pulse bootstrap-token</code> prints it).</p>
        <label>Bootstrap token<input name="setupToken" value={token()} onInput={(e) => setToken(e.currentTarget.value)} autocomplete="off" /></label>
        <label>User name<input name="username" value={user()} onInput={(e) => setUser(e.currentTarget.value)} autocomplete="username" /></label>
        <Show when={errs().username}><p class="error field">{errs().username}</p></Show>
        <label>Password (12+ characters)<input name="password" type="password" value={pass()} onInput={(e) => setPass(e.currentTarget.value)} autocomplete="new-password" /></label>
        <Show when={errs().password}><p class="error field">{errs().password}</p></Show>
        <label>Repeat password<input name="confirm" type="password" value={pass2()} onInput={(e) => setPass2(e.currentTarget.value)} autocomplete="new-password" /></label>
        <Show when={errs().confirm}><p class="error field">{errs().confirm}</p></Show>
        <label class="row"><input type="checkbox" name="withToken" checked={withToken()} onChange={(e) => setWithToken(e.currentTarget.checked)} /> Also create an API token for scripts</label>
        <Show when={errs().form}><p class="error" role="alert" data-testid="setup-error">{errs().form}</p></Show>
        <button type="submit" class="primary" disabled={busy()}>{busy() ? "Securing…" : "Secure Pulse"}</button>
      </form>
    </Show>
  );
}
