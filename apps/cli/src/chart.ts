/**
 * Line charts of training curves, rendered twice from one layout: as SVG text and as a PNG raster.
 *
 * Design: `layoutChart` does all the arithmetic (data ranges, linear or log y scale, "nice" ticks,
 * pixel mapping) once; `renderSvg` and `renderPng` only draw what the layout says, so both files of a
 * run always show the same picture. A log y axis is chosen automatically when every value is positive
 * and they span more than two decades, which is what a falling loss usually looks like.
 */
import { encodePng, parseHexColor, Raster, type Rgba, textWidth } from './png.js';

/** One curve of a chart. */
export interface Series {
  /** Legend label. */
  readonly label: string;
  /** Data points `[x, y]`; non-finite values are skipped. */
  readonly points: readonly (readonly [number, number])[];
  /** Stroke colour `#rrggbb` (default: taken from the palette by position). */
  readonly color?: string;
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
  const ys = finite.map(([, y]) => y);
  const xs = finite.map(([x]) => x);
  const positive = ys.length > 0 && ys.every((y) => y > 0);
  let logY = false;
  if (spec.yScale === 'log') logY = positive;
  else if (spec.yScale !== 'linear' && positive) logY = Math.max(...ys) / Math.min(...ys) > 100;

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
  return { width, height, plot, xTicks, yTicks, logY, series, spec };
}

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** Renders a chart as a standalone SVG document. */
export function renderSvg(spec: ChartSpec): string {
  const L = layoutChart(spec);
  const { plot } = L;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="12">`,
  );
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
  for (const s of L.series) {
    if (s.pixels.length === 0) continue;
    if (s.pixels.length === 1) {
      const [x, y] = s.pixels[0];
      out.push(`<circle cx="${r1(x)}" cy="${r1(y)}" r="3" fill="${s.color}"/>`);
      continue;
    }
    const d = s.pixels.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${r1(x)} ${r1(y)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"/>`);
  }
  L.series.forEach((s, i) => {
    const y = plot.top + 14 + i * 16;
    out.push(
      `<line x1="${plot.right - 150}" x2="${plot.right - 128}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.5"/>`,
    );
    out.push(`<text x="${plot.right - 122}" y="${y + 4}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Renders a chart as a PNG file (RGBA, the layout's size). */
export function renderPng(spec: ChartSpec): Buffer {
  const L = layoutChart(spec);
  const { plot } = L;
  const img = new Raster(L.width, L.height);
  const ink: Rgba = [40, 40, 40, 255];
  const grid: Rgba = [229, 229, 229, 255];
  img.text((L.width - textWidth(spec.title, 2)) / 2, 10, spec.title, ink, 2);
  for (const t of L.yTicks) {
    img.fillRect(plot.left, Math.round(t.pixel), plot.right, Math.round(t.pixel) + 1, grid);
    img.text(plot.left - 6 - textWidth(t.label, 2), Math.round(t.pixel) - 5, t.label, ink, 2);
  }
  for (const t of L.xTicks) {
    img.fillRect(Math.round(t.pixel), plot.top, Math.round(t.pixel) + 1, plot.bottom, [240, 240, 240, 255]);
    img.text(Math.round(t.pixel) - textWidth(t.label, 2) / 2, plot.bottom + 8, t.label, ink, 2);
  }
  img.fillRect(plot.left, plot.top, plot.right, plot.top + 1, ink);
  img.fillRect(plot.left, plot.bottom, plot.right + 1, plot.bottom + 1, ink);
  img.fillRect(plot.left, plot.top, plot.left + 1, plot.bottom, ink);
  img.fillRect(plot.right, plot.top, plot.right + 1, plot.bottom, ink);
  img.text((plot.left + plot.right - textWidth(spec.xLabel, 2)) / 2, L.height - 20, spec.xLabel, ink, 2);
  img.text(4, plot.top - 16, `${spec.yLabel}${L.logY ? ' (LOG)' : ''}`, ink, 2);
  for (const s of L.series) {
    const color = parseHexColor(s.color);
    if (s.pixels.length === 1) {
      const [x, y] = s.pixels[0];
      img.line(x, y, x, y, color, 6);
    } else img.polyline(s.pixels, color, 2);
  }
  L.series.forEach((s, i) => {
    const y = plot.top + 14 + i * 16;
    img.line(plot.right - 170, y, plot.right - 148, y, parseHexColor(s.color), 3);
    img.text(plot.right - 142, y - 5, s.label, ink, 2);
  });
  return encodePng(img);
}
