// The shell: header (nav, connection indicator, theme, sign-out), the routed page, toasts,
// and the first-run / sign-in gate.
import { createEffect, createSignal, For, onMount, Show, Suspense, untrack } from "solid-js";
import { Dynamic } from "solid-js/web";
import { routes } from "./routes";
import { matchRoute, navigate, path, pathname } from "./lib/router";
import { live, needsLogin, needsSetup, reconnectLive, refreshSecurity, security, stopLive } from "./lib/store";
import { api, setUnauthorizedHandler } from "./lib/api";
import { dismiss, toasts } from "./lib/toast";
import { cycleTheme, themePref } from "./lib/theme";
import { statusLabel } from "./lib/livelabel";

export default function App() {
  const [menu, setMenu] = createSignal(false);
  const [ready, setReady] = createSignal(false);
  const route = () => matchRoute(routes, path());

  const gate = () => {
    const s = security();
    if (!s) return;
    const here = pathname(path());
    if (needsSetup(s) && here !== "/setup") navigate("/setup", true);
    else if (!needsSetup(s) && needsLogin(s) && here !== "/login") navigate("/login", true);
    else if (!needsSetup(s) && !needsLogin(s) && (here === "/login" || here === "/setup")) navigate("/", true);
  };

  setUnauthorizedHandler(() => {
    refreshSecurity().then(gate).catch(() => {});
  });

  onMount(async () => {
    try {
      await refreshSecurity();
    } catch {
      /* shown as a toast; the page still renders */
    }
    setReady(true);
    gate();
    // The live connection was started at load (main.tsx) to save a round trip; a browser
    // that must sign in first stops it until the login succeeds.
    if (needsLogin(security()) || needsSetup(security())) stopLive();
  });
  createEffect(() => {
    path();
    // Only a navigation re-checks the gate; a security refresh (e.g. right after setup,
    // while the one-time token is on screen) must not move the user away.
    if (ready()) untrack(gate);
    setMenu(false);
    const r = route();
    document.title = r ? `${r.title} · Pulse` : "Pulse";
  });

  const logout = async () => {
    await api("POST", "/api/logout");
    stopLive();
    const s = await refreshSecurity();
    const proxyOut = s.proxyAuthLogoutURL;
    if (proxyOut) location.href = proxyOut;
    else navigate("/login", true);
  };

  const signedIn = () => !!security()?.authUsername;
  const bare = () => route()?.public;

  return (
    <>
      <header class="top">
        <a href="/" class="brand">Pulse</a>
        <Show when={!bare()}>
          <button class="ghost menu" aria-label="Menu" aria-expanded={menu()} onClick={() => setMenu(!menu())}>☰</button>
          <nav class={menu() ? "open" : ""} data-testid="nav">
            <For each={routes.filter((r) => r.nav === "main")}>{(r) => <a href={r.path} classList={{ active: route()?.path === r.path }}>{r.title}</a>}</For>
            <span class="navsep">Settings:</span>
            <For each={routes.filter((r) => r.nav === "settings")}>{(r) => <a href={r.path} classList={{ active: route()?.path === r.path }}>{r.title}</a>}</For>
          </nav>
        </Show>
        <span class="spacer" />
        <Show when={!bare()}>
          <button class={`conn ${live().status}`} data-testid="conn" data-status={live().status} title="Live connection (click to reconnect)" onClick={reconnectLive}>
            <i class="dot" />{statusLabel(live().status, live().attempt)}
          </button>
        </Show>
        <button class="ghost" onClick={cycleTheme} title="Theme: follows the system, light or dark" data-testid="theme">{themePref() === "system" ? "◐ Auto" : themePref() === "dark" ? "☾ Dark" : "☀ Light"}</button>
        <Show when={signedIn() && security()?.authMethod === "session"}>
          <button class="ghost" onClick={logout} data-testid="logout">Sign out</button>
        </Show>
      </header>
      <Show when={security()?.apiOnlyMode && !signedIn()}>
        <p class="banner">API-only mode: this dashboard is read-only. Changes need an API token.</p>
      </Show>
      <main>
        <Show when={ready()} fallback={<p class="muted page">Loading…</p>}>
          <Suspense fallback={<p class="muted page">Loading…</p>}>
            <Show when={route()} fallback={<div class="page"><h1>Not found</h1><p><a href="/">Back to the dashboard</a></p></div>}>
              <Dynamic component={route()!.component} />
            </Show>
          </Suspense>
        </Show>
      </main>
      <div class="toasts" aria-live="polite">
        <For each={toasts()}>{(t) => <div class={`toast ${t.kind}`} role={t.kind === "error" ? "alert" : "status"} onClick={() => dismiss(t.id)}>{t.text}</div>}</For>
      </div>
    </>
  );
}
