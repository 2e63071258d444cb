/**
 * Tests of the pieces behind the run directory and the terminal output: the chart layout, the SVG and
 * its PNG rendering (decoded and checked pixel by pixel), the progress bar's line discipline in logs,
 * argument converters and the table formatter.
 */
import { describe, expect, it } from 'vitest';
import { intOption, keyValueOptions, numberOption } from '../src/args.js';
import { type ChartSpec, layoutChart, niceTicks, renderSvg, svgToPng } from '../src/chart.js';
import { formatDuration, MultiProgress, ProgressBar } from '../src/progress.js';
import { formatTable } from '../src/table.js';
import { decodePng, pixelAt } from './png-decode.js';

describe('chart', () => {
  it('chooses round ticks and a log axis for a falling loss', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const layout = layoutChart({
      title: 't',
      xLabel: 'step',
      yLabel: 'loss',
      series: [
        {
          label: 'a',
          points: [
            [0, 1],
            [10, 0.1],
            [20, 0.001],
          ],
        },
      ],
    });
    expect(layout.logY).toBe(true);
    expect(layout.yTicks.map((t) => t.value)).toEqual([0.001, 0.01, 0.1, 1]);
    const [p0, , p2] = layout.series[0].pixels;
    expect(p0[0]).toBeCloseTo(layout.plot.left);
    expect(p2[0]).toBeCloseTo(layout.plot.right);
    expect(p0[1]).toBeLessThan(p2[1] - 100);
  });

  it('escapes text in SVG', () => {
    const svg = renderSvg({
      title: 'a < b & c',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ label: '"q"', points: [[0, 1]] }],
    });
    expect(svg).toContain('a &lt; b &amp; c');
    expect(svg).toContain('&quot;q&quot;');
    expect(svg).toContain('<circle');
  });

  /** A flat curve at 0.5 and a reference line at 0.2 on a linear axis from 0 to 1. */
  const spec: ChartSpec = {
    title: 'accuracy',
    xLabel: 'step',
    yLabel: 'accuracy',
    yScale: 'linear',
    series: [
      {
        label: 'test',
        points: [
          [0, 0],
          [50, 0.5],
          [100, 1],
        ],
        color: '#d55e00',
      },
    ],
    references: [{ label: 'chance 0.2', y: 0.2 }],
  };

  it('puts the chance line in the y range and draws it dashed, labelled', () => {
    const layout = layoutChart({
      ...spec,
      series: [
        {
          label: 'a',
          points: [
            [0, 0.6],
            [1, 0.9],
          ],
        },
      ],
    });
    // The reference is below every point, yet in view.
    expect(layout.references).toHaveLength(1);
    expect(layout.references[0].pixel).toBeLessThanOrEqual(layout.plot.bottom);
    expect(layout.references[0].pixel).toBeGreaterThan(layout.series[0].pixels[0][1]);
    const svg = renderSvg(spec);
    expect(svg).toMatch(/<line [^>]*stroke-dasharray="6 4"\/>/);
    expect(svg).toContain('>chance 0.2</text>');
    // A log axis cannot show 0 or below: such a reference is dropped (not drawn at -Infinity), and
    // it does not turn the curves' log axis into a linear one.
    const log = layoutChart({
      ...spec,
      yScale: 'log',
      series: [
        {
          label: 'loss',
          points: [
            [0, 1],
            [1, 0.01],
          ],
        },
      ],
      references: [{ label: 'zero', y: 0 }],
    });
    expect(log.logY).toBe(true);
    expect(log.references).toHaveLength(0);
  });

  it('renders the SVG to a PNG of its size whose pixels show the curve, the line and the text', () => {
    const layout = layoutChart(spec);
    const png = svgToPng(renderSvg(spec));
    expect(png).not.toBeNull();
    const img = decodePng(png!);
    expect([img.width, img.height]).toEqual([720, 420]);
    // Background: white and opaque.
    expect(pixelAt(img, 2, 2)).toEqual([255, 255, 255, 255]);
    // On the curve (its middle point) the stroke colour #d55e00 shows, give or take anti-aliasing.
    const [cx, cy] = layout.series[0].pixels[1];
    const [r, g, b] = pixelAt(img, cx, cy);
    expect(Math.abs(r - 0xd5) + Math.abs(g - 0x5e) + Math.abs(b - 0x00)).toBeLessThan(60);
    // Along the dashed chance line some pixels are grey ink and some (the gaps) are not.
    // The 1.2 px stroke is centred on the line's y; the pixel row that contains it is fully covered.
    const y = Math.floor(layout.references[0].pixel);
    const row = Array.from({ length: 200 }, (_, i) => pixelAt(img, layout.plot.left + 40 + i, y));
    const inked = row.filter(([v]) => v < 180).length;
    expect(inked).toBeGreaterThan(50);
    expect(inked).toBeLessThan(180);
    // The title is real text: a band of dark pixels above the plot, none without it.
    const dark = (im: ReturnType<typeof decodePng>) => {
      let n = 0;
      for (let yy = 5; yy < layout.plot.top - 5; yy++) {
        for (let xx = 0; xx < im.width; xx++) if (pixelAt(im, xx, yy)[0] < 100) n++;
      }
      return n;
    };
    expect(dark(img)).toBeGreaterThan(30);
    expect(dark(decodePng(svgToPng(renderSvg({ ...spec, title: '' }))!))).toBe(0);
  });

  it('draws a different picture for a different curve, only where the curves are', () => {
    const a = decodePng(svgToPng(renderSvg(spec))!);
    const flat = decodePng(
      svgToPng(
        renderSvg({
          ...spec,
          series: [
            {
              ...spec.series[0],
              points: [
                [0, 0],
                [50, 0],
                [100, 1],
              ],
            },
          ],
        }),
      )!,
    );
    let differ = 0;
    for (let i = 0; i < a.pixels.length; i++) if (a.pixels[i] !== flat.pixels[i]) differ++;
    expect(differ).toBeGreaterThan(100);
    // Outside the plot (title, axes labels) the two are identical.
    const layout = layoutChart(spec);
    const above = (layout.plot.top - 2) * a.width * 4;
    expect(Buffer.from(a.pixels.subarray(0, above)).equals(Buffer.from(flat.pixels.subarray(0, above)))).toBe(
      true,
    );
  });
});

describe('progress', () => {
  it('prints about one line per 5% when not on a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = new ProgressBar({
      total: 200,
      stream: { write: (s: string) => lines.push(s) },
      now: () => now,
      label: 'm',
    });
    for (let step = 1; step <= 200; step++) {
      now += 50;
      bar.update(step, 'loss 1');
    }
    bar.finish();
    expect(lines.length).toBe(21);
    expect(lines.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    expect(lines[0]).toMatch(/^m █+░+ +10\/200 loss 1 ETA 10s 20 steps\/s\n$/);
    expect(lines[20]).toContain('200/200');
    expect(lines[20]).toContain('10s total');
  });

  it('redraws in place on a terminal', () => {
    let out = '';
    let now = 0;
    const bar = new ProgressBar({
      total: 10,
      stream: { write: (s: string) => (out += s), isTTY: true },
      now: () => now,
    });
    for (let step = 1; step <= 10; step++) {
      now += 1000;
      bar.update(step);
    }
    expect(out.split('\r').length - 1).toBe(10);
    expect(out).not.toContain('\n');
  });

  it('keeps one line per run in a multi-bar block', () => {
    let out = '';
    const multi = new MultiProgress({ write: (s: string) => (out += s), isTTY: true });
    const a = multi.channel('a');
    const b = multi.channel('b');
    a.write('\rA 1\x1b[K');
    b.write('\rB 1\x1b[K');
    a.write('\r\x1b[Kstep 5: note\nA 2');
    // Rendered state: the note is printed once above, the block holds the latest line of each bar.
    expect(out.match(/step 5: note/g)?.length).toBe(1);
    expect(out.endsWith('A 2\x1b[K\nB 1\x1b[K\n')).toBe(true);
    const plain: string[] = [];
    new MultiProgress({ write: (s: string) => plain.push(s) }).channel('x').write('line\n');
    expect(plain).toEqual(['line\n']);
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(65)).toBe('1m05s');
  });
});

describe('converters and tables', () => {
  it('checks integers, numbers and key=value options', () => {
    expect(intOption('steps', '1e3', 5)).toBe(1000);
    expect(intOption('steps', undefined, 5)).toBe(5);
    expect(() => intOption('steps', '2.5', 5)).toThrow('--steps must be an integer >= 1');
    expect(() => intOption('layers', '9', 1, 1, 8)).toThrow('in [1, 8]');
    expect(numberOption('lr', '3e-3', 1)).toBe(0.003);
    expect(() => numberOption('lr', 'fast', 1)).toThrow("--lr must be a number, got 'fast'");
    expect(keyValueOptions(['noEnd=200', 'encoding=signed'])).toEqual({ noEnd: 200, encoding: 'signed' });
    expect(() => keyValueOptions(['noEnd'])).toThrow('KEY=VALUE');
  });

  it('aligns table columns', () => {
    const text = formatTable({
      header: ['model', 'mse'],
      rows: [
        ['bmru', '0.01'],
        ['lru', '0.9531'],
      ],
    });
    expect(text.split('\n')).toEqual(['model     mse', '-----  ------', 'bmru     0.01', 'lru    0.9531']);
  });
});

describe('chart legend', () => {
  const chart = (points: [number, number][]) =>
    layoutChart({
      title: 't',
      xLabel: 'step',
      yLabel: 'accuracy',
      yScale: 'linear',
      series: [{ label: 'a', points }],
      references: [{ label: 'chance 0.1', y: 0.1 }],
    });

  it('stays at the top right when the curve leaves it free', () => {
    const L = chart([
      [0, 0.9],
      [50, 0.5],
      [100, 0.2],
    ]);
    expect(L.legend).toEqual({ x: L.plot.right - 4 - 152, y: L.plot.top + 4, width: 152, height: 20 });
  });

  it('moves off a curve that climbs to the top right, and off the chance line’s label', () => {
    // Rising to 1 along the top and resting on the chance line at the bottom right: the top left is free.
    const L = chart([
      [0, 0.1],
      [10, 0.1],
      [20, 0.95],
      [100, 1],
    ]);
    expect(L.legend).toEqual({ x: L.plot.left + 4, y: L.plot.top + 4, width: 152, height: 20 });
    const svg = renderSvg(L.spec);
    expect(svg).toContain(`<rect x="${L.plot.left + 4}" y="${L.plot.top + 4}" width="152" height="20"`);
    // The chart names itself for screen readers.
    expect(svg).toContain('<title>t</title>');
  });
});
