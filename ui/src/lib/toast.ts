// Toast messages: every API error ends up here (or inline in a form), never swallowed.
import { createSignal } from "solid-js";

export interface Toast { id: number; kind: "error" | "ok" | "info"; text: string }

const [toasts, setToasts] = createSignal<Toast[]>([]);
let next = 1;

export { toasts };

export function toast(text: string, kind: Toast["kind"] = "info", ms = 6000): void {
  const id = next++;
  setToasts((t) => [...t.slice(-4), { id, kind, text }]);
  if (ms > 0) setTimeout(() => dismiss(id), kind === "error" ? ms * 2 : ms);
}

export function dismiss(id: number): void {
  setToasts((t) => t.filter((x) => x.id !== id));
}
