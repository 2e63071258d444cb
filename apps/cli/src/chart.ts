/**
 * Line charts of training curves: drawn once as SVG, and the PNG of a run is that same SVG
 * rasterised by resvg (`svgToPng`), so the two files always show the same picture, with real fonts
 * and anti-aliasing, and no hand-written rasteriser or bitmap font to keep.
 *
 * Design: `layoutChart` does all the arithmetic (data ranges, linear or log y scale, "nice" ticks,
 * pixel mapping) once; `renderSvg` only draws what the layout says. A log y axis is chosen
 * automatically when every value is positive and they span more than two decades, which is what a
 * falling loss usually looks like. Reference lines (the chance level of a task) take part in the
 * y range, so they are always in view. resvg is a native module: it is loaded on the first PNG, not
 * when the CLI starts, and where it cannot load the run keeps its SVGs and says once why the PNGs
 * are missing, rather than failing a training run over a picture.
 */
import { createRequire } from 'node:module';

/** One curve of a chart. */
export interface Series {
  /** Legend label. */
  readonly label: string;
  /** Data points `[x, y]`; non-finite values are skipped. */
  readonly points: readonly (readonly [number, number])[];
  /** Stroke colour `#rrggbb` (default: taken from the palette by position). */
  readonly color?: string;
}

/** A horizontal reference line, e.g. the chance level of a task. */
export interface ReferenceLine {
  /** Label drawn at the line's right end, e.g. `chance 0.1`. */
  readonly label: string;
  /** Its value on the y axis. */
  readonly y: number;
}

/** What to draw. */
export interface ChartSpec {
  /** Title above the plot. */
  readonly title: string;
  /** Label of the x axis. */
  readonly xLabel: string;
  /** Label of the y axis. */
  readonly yLabel: string;
  /** The curves. */
  readonly series: readonly Series[];
  /** Dashed horizontal lines (non-finite values, and non-positive ones on a log axis, are skipped). */
  readonly references?: readonly ReferenceLine[];
  /** Y scale: `'linear'`, `'log'`, or `'auto'` (default: log when positive and spanning > 2 decades). */
  readonly yScale?: 'linear' | 'log' | 'auto';
  /** Width in pixels (default 720). */
  readonly width?: number;
  /** Height in pixels (default 420). */
  readonly height?: number;
}

/** A tick: its data value, pixel position and label. */
export interface Tick {
  /** The value in data units. */
  readonly value: number;
  /** Pixel coordinate along its axis. */
  readonly pixel: number;
  /** Text shown beside it. */
  readonly label: string;
}

/** Everything a renderer needs: plot rectangle, ticks and series mapped to pixels. */
export interface ChartLayout {
  /** Canvas width. */
  readonly width: number;
  /** Canvas height. */
  readonly height: number;
  /** Plot rectangle, in pixels. */
  readonly plot: {
    readonly left: number;
    readonly top: number;
    readonly right: number;
    readonly bottom: number;
  };
  /** X ticks. */
  readonly xTicks: readonly Tick[];
  /** Y ticks. */
  readonly yTicks: readonly Tick[];
  /** Whether the y axis is logarithmic. */
  readonly logY: boolean;
  /** Each series with its colour and its points in pixels. */
  readonly series: readonly {
    readonly label: string;
    readonly color: string;
    readonly pixels: [number, number][];
  }[];
  /** Each reference line with its y pixel. */
  readonly references: readonly { readonly label: string; readonly pixel: number }[];
  /** The legend's box: where in the plot it covers the least of the curves and reference lines. */
  readonly legend: {
    readonly x: number;
    readonly y: number;
    readonly width: number;
    readonly height: number;
  };
  /** The spec it came from. */
  readonly spec: ChartSpec;
}

/** The default series colours (colour-blind friendly). */
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];

/** Formats a tick value compactly: 0.001, 250, 1.5e-5. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential().split('e');
    return `${Number(Number(m).toPrecision(3))}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** Up to about `count` evenly spaced round values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    // Multiply (never accumulate) and round away float noise: 3 * 0.2 is 0.6000000000000001.
    out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  }
  return out;
}

/** Computes the layout of a chart (see the file comment). */
export function layoutChart(spec: ChartSpec): ChartLayout {
  const width = spec.width ?? 720;
  const height = spec.height ?? 420;
  const plot = { left: 78, top: 40, right: width - 20, bottom: height - 52 };
  const finite = spec.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  );
  const curveYs = finite.map(([, y]) => y);
  const xs = finite.map(([x]) => x);
  const positive = curveYs.length > 0 && curveYs.every((y) => y > 0);
  let logY = false;
  if (spec.yScale === 'log') logY = positive;
  else if (spec.yScale !== 'linear' && positive) logY = Math.max(...curveYs) / Math.min(...curveYs) > 100;
  // The axis is chosen by the curves; a reference line joins the range where the axis can show it.
  const refs = (spec.references ?? []).filter((r) => Number.isFinite(r.y) && (!logY || r.y > 0));
  const ys = [...curveYs, ...refs.map((r) => r.y)];

  let xLo = xs.length ? Math.min(...xs) : 0;
  let xHi = xs.length ? Math.max(...xs) : 1;
  if (xHi === xLo) {
    xLo -= 0.5;
    xHi += 0.5;
  }
  const fy = (y: number) => (logY ? Math.log10(y) : y);
  let yLo = ys.length ? Math.min(...ys.map(fy)) : 0;
  let yHi = ys.length ? Math.max(...ys.map(fy)) : 1;
  if (yHi === yLo) {
    yLo -= logY ? 0.5 : Math.max(0.5, Math.abs(yLo) * 0.1);
    yHi += logY ? 0.5 : Math.max(0.5, Math.abs(yHi) * 0.1);
  }
  if (logY) {
    yLo = Math.floor(yLo * 4) / 4;
    yHi = Math.ceil(yHi * 4) / 4;
  } else {
    const pad = (yHi - yLo) * 0.05;
    yLo = yLo >= 0 && yLo - pad < 0 ? 0 : yLo - pad;
    yHi += pad;
  }
  const px = (x: number) => plot.left + ((x - xLo) / (xHi - xLo)) * (plot.right - plot.left);
  const py = (y: number) => plot.bottom - ((fy(y) - yLo) / (yHi - yLo)) * (plot.bottom - plot.top);

  const xTicks = niceTicks(xLo, xHi, 6).map((v) => ({ value: v, pixel: px(v), label: formatTick(v) }));
  let yTicks: Tick[];
  if (logY) {
    const decades: number[] = [];
    for (let e = Math.ceil(yLo); e <= Math.floor(yHi); e++) decades.push(e);
    const exps = decades.length >= 2 ? decades : niceTicks(yLo, yHi, 4);
    yTicks = exps.map((e) => ({
      value: 10 ** e,
      pixel: py(10 ** e),
      label: formatTick(Number((10 ** e).toPrecision(3))),
    }));
  } else {
    yTicks = niceTicks(yLo, yHi, 5).map((v) => ({ value: v, pixel: py(v), label: formatTick(v) }));
  }
  const series = spec.series.map((s, i) => ({
    label: s.label,
    color: s.color ?? PALETTE[i % PALETTE.length],
    pixels: s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0))
      .map(([x, y]) => [px(x), py(y)] as [number, number]),
  }));
  const references = refs.filter((r) => !logY || r.y > 0).map((r) => ({ label: r.label, pixel: py(r.y) }));
  const legend = placeLegend(plot, series, references);
  return { width, height, plot, xTicks, yTicks, logY, series, references, legend, spec };
}

/**
 * The legend's box, in the place where it hides the least: the curves are sampled every few pixels
 * along their segments, the reference lines along their width (their labels sit at the right end),
 * and of the four corners and the middles of the two side edges, the one holding the fewest samples
 * wins, the top right on a tie (where a falling loss leaves room). An accuracy curve that climbs to
 * the top right pushes the legend elsewhere.
 */
function placeLegend(
  plot: ChartLayout['plot'],
  series: ChartLayout['series'],
  references: ChartLayout['references'],
): ChartLayout['legend'] {
  const width = 152;
  const height = series.length * 16 + 4;
  const samples: [number, number][] = [];
  for (const s of series) {
    s.pixels.forEach(([x, y], i) => {
      samples.push([x, y]);
      const next = s.pixels[i + 1];
      if (!next) return;
      const n = Math.ceil(Math.hypot(next[0] - x, next[1] - y) / 4);
      for (let k = 1; k < n; k++) samples.push([x + ((next[0] - x) * k) / n, y + ((next[1] - y) * k) / n]);
    });
  }
  // A reference label is drawn just above its line, so the band above the line counts too.
  for (const r of references)
    for (let x = plot.left; x <= plot.right; x += 4) samples.push([x, r.pixel], [x, r.pixel - 10]);
  const inset = 4;
  const corners = [
    { x: plot.right - inset - width, y: plot.top + inset },
    { x: plot.right - inset - width, y: plot.bottom - inset - height },
    { x: plot.left + inset, y: plot.top + inset },
    { x: plot.left + inset, y: plot.bottom - inset - height },
    // Halfway down an edge, where corners are all taken (curves that rise to the top at one end
    // and start from chance at the other).
    { x: plot.right - inset - width, y: Math.round((plot.top + plot.bottom - height) / 2) },
    { x: plot.left + inset, y: Math.round((plot.top + plot.bottom - height) / 2) },
  ];
  const covered = (c: { x: number; y: number }) =>
    samples.filter(([x, y]) => x >= c.x && x <= c.x + width && y >= c.y && y <= c.y + height).length;
  let best = corners[0]!;
  let fewest = covered(best);
  for (const c of corners.slice(1)) {
    const n = covered(c);
    if (n < fewest) {
      best = c;
      fewest = n;
    }
  }
  return { ...best, width, height };
}

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** A series with at most this many points gets a marker at each. */
const MARKED_POINTS = 40;

/** Renders a chart as a standalone SVG document. */
export function renderSvg(spec: ChartSpec): string {
  const L = layoutChart(spec);
  const { plot } = L;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="12">`,
  );
  // The title element names the picture for screen readers and for viewers that show it on hover.
  out.push(`<title>${escapeXml(L.spec.title)}</title>`);
  out.push(`<rect width="${L.width}" height="${L.height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${L.width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  for (const t of L.yTicks) {
    out.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${r1(t.pixel)}" y2="${r1(t.pixel)}" stroke="#e5e5e5"/>`,
    );
    out.push(
      `<text x="${plot.left - 6}" y="${r1(t.pixel + 4)}" text-anchor="end">${escapeXml(t.label)}</text>`,
    );
  }
  for (const t of L.xTicks) {
    out.push(
      `<line x1="${r1(t.pixel)}" x2="${r1(t.pixel)}" y1="${plot.top}" y2="${plot.bottom}" stroke="#f0f0f0"/>`,
    );
    out.push(
      `<text x="${r1(t.pixel)}" y="${plot.bottom + 18}" text-anchor="middle">${escapeXml(t.label)}</text>`,
    );
  }
  out.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#333333"/>`,
  );
  out.push(
    `<text x="${(plot.left + plot.right) / 2}" y="${L.height - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  const yLabel = `${spec.yLabel}${L.logY ? ' (log scale)' : ''}`;
  out.push(
    `<text transform="translate(16 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  for (const r of L.references) {
    out.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${r1(r.pixel)}" y2="${r1(r.pixel)}" stroke="#666666" stroke-width="1.2" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${plot.right - 4}" y="${r1(r.pixel - 4)}" text-anchor="end" fill="#444444" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(r.label)}</text>`,
    );
  }
  for (const s of L.series) {
    if (s.pixels.length === 0) continue;
    if (s.pixels.length > 1) {
      const d = s.pixels.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${r1(x)} ${r1(y)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"/>`);
    }
    // Few points (evaluations): mark each, so a reader sees where the measurements are.
    if (s.pixels.length <= MARKED_POINTS) {
      for (const [x, y] of s.pixels)
        out.push(`<circle cx="${r1(x)}" cy="${r1(y)}" r="3" fill="${s.color}"/>`);
    }
  }
  // The legend sits where it hides the least (layoutChart): a light backing keeps it legible over curves.
  const G = L.legend;
  if (L.series.length > 0) {
    out.push(
      `<rect x="${G.x}" y="${G.y}" width="${G.width}" height="${G.height}" fill="#ffffff" fill-opacity="0.85" stroke="#dddddd"/>`,
    );
  }
  L.series.forEach((s, i) => {
    const y = G.y + 10 + i * 16;
    out.push(
      `<line x1="${G.x + 6}" x2="${G.x + 28}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.5"/>`,
    );
    out.push(`<text x="${G.x + 34}" y="${y + 4}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

type ResvgModule = typeof import('@resvg/resvg-js');
let resvg: ResvgModule | null | undefined;

function loadResvg(): ResvgModule | null {
  if (resvg === undefined) {
    try {
      resvg = createRequire(import.meta.url)('@resvg/resvg-js') as ResvgModule;
    } catch (error) {
      resvg = null;
      process.emitWarning(
        `PNG plots are skipped: @resvg/resvg-js has no build for ${process.platform}-${process.arch} ` +
          `(${(error as Error).message.split('\n')[0]}); the SVG plots are written`,
      );
    }
  }
  return resvg;
}

/**
 * Rasterises an SVG document (as `renderSvg` writes it) to a PNG at its own size, with the
 * system's fonts. Returns null where resvg cannot be loaded on this platform (warned once).
 */
export function svgToPng(svg: string): Buffer | null {
  const mod = loadResvg();
  if (!mod) return null;
  return new mod.Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng();
}
