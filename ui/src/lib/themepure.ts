export type ThemePref = "system" | "light" | "dark";

/** The theme actually shown for a preference and the OS setting (pure; tested). */
export function effectiveThemeFor(p: ThemePref, osDark: boolean): "light" | "dark" {
  return p === "system" ? (osDark ? "dark" : "light") : p;
}
