import { clampPct, formatPct, levelClass } from "../lib/format";

/** A usage bar with its percentage written on it (unknown → a dash, no bar). One element:
 *  the fill is a background gradient, so a table of bars stays cheap to lay out and paint. */
export function Bar(props: { pct: number; label?: string; title?: string }) {
  return (
    <div class={`bar ${levelClass(props.pct)}`} title={props.title} style={{ "--p": `${clampPct(props.pct)}%` }}>
      {props.label ?? formatPct(props.pct)}
    </div>
  );
}
