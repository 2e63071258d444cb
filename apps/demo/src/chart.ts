/**
 * Line charts as inline SVG, redrawn whole on each update: the demo plots at most a few thousand
 * points, which an SVG path string handles at 60 frames a second, and a chart library would weigh
 * more than the models it plots.
 */

/** One line of a chart. */
export interface Series {
  /** Legend text. */
  readonly label: string;
  /** CSS colour. */
  readonly color: string;
  /** y values at x = 0, 1, 2, ... (non-finite values leave a gap). */
  readonly values: readonly number[];
}

/** How to draw a chart. */
export interface ChartOptions {
  /** Logarithmic y axis (values below `yMin` are drawn at `yMin`). */
  readonly log?: boolean;
  /** Lower end of the y axis (default: the smallest value, or 1e-4 on a log axis). */
  readonly yMin?: number;
  /** Upper end of the y axis (default: the largest value). */
  readonly yMax?: number;
  /** x axis label. */
  readonly xLabel: string;
  /** y axis label. */
  readonly yLabel: string;
  /** Length of the x axis in series points (default: the longest series). */
  readonly xMax?: number;
  /** x units per series point, for tick labels (default 1; e.g. 20 for means over 20 steps). */
  readonly xStep?: number;
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 240;
const PAD = { left: 52, right: 12, top: 28, bottom: 36 };

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function format(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(0) : String(Number(v.toPrecision(2)));
}

/**
 * Draws series into an `<svg>` element, replacing what it held.
 *
 * @param svg - The target element (its viewBox is set to 480x240).
 * @param series - The lines.
 * @param options - Axes.
 */
export function drawChart(svg: SVGSVGElement, series: readonly Series[], options: ChartOptions): void {
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const floor = options.yMin ?? (options.log ? 1e-4 : Math.min(0, ...finite));
  let lo = options.log ? Math.log10(floor) : floor;
  let hi = options.yMax ?? Math.max(floor, ...finite);
  hi = options.log ? Math.log10(Math.max(hi, floor * 10)) : hi;
  if (options.log) {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
  }
  if (!(hi > lo)) hi = lo + 1;
  const xMax = Math.max(1, options.xMax ?? Math.max(1, ...series.map((s) => s.values.length - 1)));
  const px = (i: number) => PAD.left + (i / xMax) * (W - PAD.left - PAD.right);
  const py = (v: number) => {
    const y = options.log ? Math.log10(Math.max(v, floor)) : v;
    const f = (Math.min(Math.max(y, lo), hi) - lo) / (hi - lo);
    return H - PAD.bottom - f * (H - PAD.top - PAD.bottom);
  };

  // Axes, ticks and grid.
  const ticks = options.log
    ? Array.from({ length: hi - lo + 1 }, (_, k) => 10 ** (lo + k))
    : Array.from({ length: 5 }, (_, k) => lo + ((hi - lo) * k) / 4);
  for (const t of ticks) {
    const y = py(t);
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    svg.append(el('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, format(t)));
  }
  for (let k = 0; k <= 4; k++) {
    const i = Math.round((xMax * k) / 4);
    svg.append(
      el(
        'text',
        { x: px(i), y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tick' },
        String(i * (options.xStep ?? 1)),
      ),
    );
  }
  svg.append(
    el(
      'text',
      { x: (PAD.left + W - PAD.right) / 2, y: H - 4, 'text-anchor': 'middle', class: 'label' },
      options.xLabel,
    ),
  );
  svg.append(
    el(
      'text',
      { x: 12, y: H / 2, transform: `rotate(-90 12 ${H / 2})`, 'text-anchor': 'middle', class: 'label' },
      options.yLabel,
    ),
  );

  // Lines, and the legend in a row above the plot, where no line can hide it.
  series.forEach((s, k) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(i).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    svg.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.5 }));
    const lx = PAD.left + 90 * k;
    svg.append(el('line', { x1: lx, x2: lx + 20, y1: 10, y2: 10, stroke: s.color, 'stroke-width': 3 }));
    svg.append(el('text', { x: lx + 26, y: 14, class: 'legend' }, s.label));
  });
}

/**
 * Means over consecutive windows, for a readable curve from a noisy per-step series.
 *
 * @param values - The series (non-finite values are skipped).
 * @param window - Values per window.
 * @returns One mean per window, NaN for a window with no finite value.
 */
export function windowMeans(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += window) {
    let sum = 0;
    let n = 0;
    for (const v of values.slice(i, i + window)) {
      if (!Number.isFinite(v)) continue;
      sum += v;
      n++;
    }
    out.push(n > 0 ? sum / n : Number.NaN);
  }
  return out;
}
