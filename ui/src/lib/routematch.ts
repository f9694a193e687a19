// Route matching (pure; tested).

/** "/settings/nodes?x=1" → "/settings/nodes". */
export function pathname(p: string): string {
  return p.split(/[?#]/)[0] || "/";
}

/** Longest route prefix that matches (so "/settings/nodes/x" finds "/settings/nodes"). */
export function matchRoute<T extends { path: string }>(routes: T[], p: string): T | undefined {
  const clean = pathname(p).replace(/\/+$/, "") || "/";
  let best: T | undefined;
  for (const r of routes) {
    const ok = r.path === "/" ? clean === "/" : clean === r.path || clean.startsWith(r.path + "/");
    if (ok && (!best || r.path.length > best.path.length)) best = r;
  }
  return best;
}
