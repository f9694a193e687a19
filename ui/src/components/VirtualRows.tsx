// Virtualised list: only the rows in view (plus a small overscan) exist in the DOM, so
// 10,000 guests scroll like 40. Rows have a fixed height; <Index> keeps the row elements
// and only updates their text when the data or the scroll position changes.
import { createSignal, Index, onCleanup, onMount, type JSX } from "solid-js";
import { visibleRange } from "../lib/virtual";
import { noteScrolling } from "../lib/store";

export function VirtualRows<T>(props: {
  items: T[];
  rowHeight: number;
  height: string;
  header: JSX.Element;
  row: (item: () => T, index: number) => JSX.Element;
  testid?: string;
}) {
  let box!: HTMLDivElement;
  const [top, setTop] = createSignal(0);
  const [view, setView] = createSignal(600);
  let raf = 0;
  const onScroll = () => {
    noteScrolling();
    if (raf) return;
    raf = requestAnimationFrame(() => {
      raf = 0;
      setTop(box.scrollTop);
    });
  };
  onMount(() => {
    setView(box.clientHeight);
    const ro = new ResizeObserver(() => setView(box.clientHeight));
    ro.observe(box);
    onCleanup(() => ro.disconnect());
  });
  const range = () => visibleRange(props.items.length, props.rowHeight, top(), view(), 8);
  const slice = () => {
    const [a, b] = range();
    return props.items.slice(a, b);
  };
  return (
    <div class="vbox" ref={box} onScroll={onScroll} style={{ height: props.height }} data-testid={props.testid}>
      <div class="vhead">{props.header}</div>
      <div class="vbody" style={{ height: `${props.items.length * props.rowHeight}px` }}>
        <div class="vwin" style={{ transform: `translateY(${range()[0] * props.rowHeight}px)` }}>
          <Index each={slice()}>{(item, i) => props.row(item, range()[0] + i)}</Index>
        </div>
      </div>
    </div>
  );
}
