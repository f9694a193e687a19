import { clampPct, formatPct, levelClass } from "../lib/format";

/** A usage bar with its percentage written on it (unknown → a dash, no bar). */
export function Bar(props: { pct: number; label?: string; title?: string }) {
  return (
    <div class="bar" title={props.title}>
      <div class={`fill ${levelClass(props.pct)}`} style={{ width: `${clampPct(props.pct)}%` }} />
      <span>{props.label ?? formatPct(props.pct)}</span>
    </div>
  );
}
