// A uPlot time-series chart. Series are {timestamp ms, value} point lists from /api/charts.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { createEffect, onCleanup, onMount } from "solid-js";
import { toUplotData, type Point } from "../lib/chartdata";

export interface SeriesSpec { label: string; points: Point[]; color: string }

export function Chart(props: { title: string; series: SeriesSpec[]; unit: (v: number) => string; height?: number; testid?: string }) {
  let el!: HTMLDivElement;
  let plot: uPlot | null = null;
  const draw = () => {
    plot?.destroy();
    const data = toUplotData(props.series.map((s) => s.points));
    const width = Math.max(240, el.clientWidth || 320);
    plot = new uPlot(
      {
        width,
        height: props.height ?? 150,
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } },
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" }, size: 70, values: (_u, vals) => vals.map((v) => props.unit(v)) },
        ],
        series: [
          {},
          ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, fill: s.color + "22", value: (_u: uPlot, v: number | null) => (v == null ? "–" : props.unit(v)) })),
        ],
      },
      data as uPlot.AlignedData,
      el,
    );
  };
  onMount(() => {
    draw();
    const ro = new ResizeObserver(() => plot && el.clientWidth && plot.setSize({ width: el.clientWidth, height: props.height ?? 150 }));
    ro.observe(el);
    onCleanup(() => ro.disconnect());
  });
  createEffect(() => {
    props.series; // redraw when the data changes
    if (plot) draw();
  });
  onCleanup(() => plot?.destroy());
  return (
    <figure class="chart" data-testid={props.testid}>
      <figcaption>{props.title}</figcaption>
      <div ref={el} />
    </figure>
  );
}
