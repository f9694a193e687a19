// Dark/light theme: follows the OS until the user picks one; the pick is remembered.
import { createSignal } from "solid-js";

import { effectiveThemeFor, type ThemePref } from "./themepure";
export type { ThemePref };
const KEY = "pulse-theme";

function stored(): ThemePref {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "system";
  } catch {
    return "system";
  }
}

const media = window.matchMedia?.("(prefers-color-scheme: dark)");
const [pref, setPref] = createSignal<ThemePref>(stored());
export { pref as themePref };


function apply() {
  document.documentElement.dataset.theme = effectiveThemeFor(pref(), !!media?.matches);
}

export function setTheme(p: ThemePref): void {
  setPref(p);
  try {
    if (p === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, p);
  } catch {
    /* private mode: not remembered */
  }
  apply();
}

/** Cycle system → light → dark → system (the header button). */
export function cycleTheme(): void {
  const order: ThemePref[] = ["system", "light", "dark"];
  setTheme(order[(order.indexOf(pref()) + 1) % order.length]);
}

media?.addEventListener?.("change", apply);
apply();
