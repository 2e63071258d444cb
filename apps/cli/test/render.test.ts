/**
 * Tests of the hand-written pieces behind the run directory and the terminal output: CRC-32 and the
 * PNG encoder (decoded back pixel for pixel), the chart layout, the progress bar's line discipline in
 * logs, argument converters and the table formatter.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { intOption, keyValueOptions, numberOption } from '../src/args.js';
import { layoutChart, niceTicks, renderSvg } from '../src/chart.js';
import { crc32, encodePng, Raster } from '../src/png.js';
import { formatDuration, MultiProgress, ProgressBar } from '../src/progress.js';
import { formatTable } from '../src/table.js';

function decodePng(png: Buffer): { width: number; height: number; pixels: Uint8Array } {
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    expect(png.readUInt32BE(offset + 8 + length)).toBe(crc32(png.subarray(offset + 4, offset + 8 + length)));
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    } else if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, pixels };
}

describe('png', () => {
  it('computes the standard CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('encodes a raster that decodes to the same pixels', () => {
    const img = new Raster(7, 5, [255, 255, 255, 255]);
    img.fillRect(1, 1, 3, 4, [255, 0, 0, 255]);
    img.line(0, 4.5, 7, 4.5, [0, 0, 255, 255], 1);
    const { width, height, pixels } = decodePng(encodePng(img));
    expect([width, height]).toEqual([7, 5]);
    expect(pixels).toEqual(img.pixels);
    expect([...img.pixels.subarray((1 * 7 + 1) * 4, (1 * 7 + 1) * 4 + 4)]).toEqual([255, 0, 0, 255]);
    expect([...img.pixels.subarray(0, 4)]).toEqual([255, 255, 255, 255]);
    // The line through the centres of the bottom row paints it blue.
    expect([...img.pixels.subarray((4 * 7 + 3) * 4, (4 * 7 + 3) * 4 + 4)]).toEqual([0, 0, 255, 255]);
  });
});

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
