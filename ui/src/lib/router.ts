// A tiny history router: the route table lives in routes.tsx; links are plain <a href>
// intercepted here so pages stay bookmarkable and the server's SPA fallback serves them.
import { createSignal } from "solid-js";
export { matchRoute, pathname } from "./routematch";

const [path, setPath] = createSignal(location.pathname + location.search);
export { path };

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  setPath(to);
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => setPath(location.pathname + location.search));

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a || a.target || a.hasAttribute("download")) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("//") || href.startsWith("/api/")) return;
  e.preventDefault();
  navigate(href);
});

