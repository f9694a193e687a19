// Which rows of a fixed-height list are in view (pure; tested).

/** [first, end) row indexes to render for a scroll offset, with `overscan` rows either side. */
export function visibleRange(count: number, rowHeight: number, scrollTop: number, viewHeight: number, overscan: number): [number, number] {
  if (count <= 0 || rowHeight <= 0) return [0, 0];
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(count, Math.ceil((scrollTop + Math.max(viewHeight, rowHeight)) / rowHeight) + overscan);
  return [Math.min(first, end), end];
}
