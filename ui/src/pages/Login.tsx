// Sign-in with remaining-attempts / lockout feedback from the server.
import { createSignal, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { refreshSecurity, startLive } from "../lib/store";
import { navigate } from "../lib/router";

export function loginMessage(e: ApiError): string {
  const b = e.body ?? {};
  if (b.error === "account_locked") return String(b.message ?? "Account locked: try again later");
  if (b.locked) return String(b.message ?? "Too many failed attempts: the account is now locked");
  if (typeof b.remaining === "number") return `Invalid username or password. ${b.remaining} attempt${b.remaining === 1 ? "" : "s"} left before a 15-minute lockout.`;
  return e.message;
}

export default function Login() {
  const [user, setUser] = createSignal("");
  const [pass, setPass] = createSignal("");
  const [remember, setRemember] = createSignal(false);
  const [err, setErr] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!user() || !pass()) return setErr("Enter your user name and password.");
    setBusy(true);
    setErr("");
    try {
      await api("POST", "/api/login", { username: user(), password: pass(), rememberMe: remember() }, { toast: false });
      await refreshSecurity();
      startLive();
      navigate("/", true);
    } catch (x) {
      setErr(x instanceof ApiError ? loginMessage(x) : String(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel narrow" onSubmit={submit} data-testid="login-form">
      <h1>Sign in to Pulse</h1>
      <label>User name<input name="username" autocomplete="username" value={user()} onInput={(e) => setUser(e.currentTarget.value)} /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" value={pass()} onInput={(e) => setPass(e.currentTarget.value)} /></label>
      <label class="row"><input type="checkbox" checked={remember()} onChange={(e) => setRemember(e.currentTarget.checked)} /> Keep me signed in for 30 days</label>
      <Show when={err()}><p class="error" role="alert" data-testid="login-error">{err()}</p></Show>
      <button type="submit" class="primary" disabled={busy()}>{busy() ? "Signing in…" : "Sign in"}</button>
    </form>
  );
}
