/**
 * A tiny RGBA raster and PNG encoder, so run directories get bitmap plots without a dependency.
 *
 * Design: a `Raster` is a plain RGBA byte buffer with a handful of drawing primitives (filled
 * rectangles, anti-aliased thick lines, a 3x5 pixel font scaled up for text). Lines are drawn by
 * stamping round pens along the segment with distance-based coverage, which is simple, exact enough
 * for charts, and gives smooth curves. `encodePng` writes the standard chunks (IHDR, IDAT, IEND)
 * with a CRC32 per chunk and zlib compression from `node:zlib`; scanlines use filter 0 (none), which
 * deflate compresses well for flat chart backgrounds.
 */
import { deflateSync } from 'node:zlib';

/** An RGBA colour, each channel 0..255. */
export type Rgba = readonly [r: number, g: number, b: number, a: number];

/** Parses `#rrggbb` into an opaque {@link Rgba}. */
export function parseHexColor(hex: string): Rgba {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  const v = Number.parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255, 255];
}

/** An RGBA image in memory, row-major, 4 bytes per pixel, with simple anti-aliased drawing. */
export class Raster {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** The pixels, `[height, width, 4]` row-major. */
  readonly pixels: Uint8Array;

  /**
   * @param width - Width in pixels (positive integer).
   * @param height - Height in pixels (positive integer).
   * @param background - Fill colour (default opaque white).
   */
  constructor(width: number, height: number, background: Rgba = [255, 255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new Error(`raster size must be positive integers, got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 4);
  }

  /** Blends `color` into pixel (x, y) with extra coverage `cover` in [0, 1]; outside pixels are ignored. */
  blend(x: number, y: number, color: Rgba, cover = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const alpha = (color[3] / 255) * Math.min(1, Math.max(0, cover));
    if (alpha <= 0) return;
    const i = (y * this.width + x) * 4;
    const p = this.pixels;
    p[i] = Math.round(p[i] + (color[0] - p[i]) * alpha);
    p[i + 1] = Math.round(p[i + 1] + (color[1] - p[i + 1]) * alpha);
    p[i + 2] = Math.round(p[i + 2] + (color[2] - p[i + 2]) * alpha);
    p[i + 3] = Math.round(p[i + 3] + (255 - p[i + 3]) * alpha);
  }

  /** Fills the axis-aligned rectangle [x0, x1) x [y0, y1) (pixel coordinates, rounded). */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: Rgba): void {
    const xa = Math.max(0, Math.round(x0));
    const xb = Math.min(this.width, Math.round(x1));
    const ya = Math.max(0, Math.round(y0));
    const yb = Math.min(this.height, Math.round(y1));
    for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) this.blend(x, y, color);
  }

  /**
   * Draws an anti-aliased line of `width` pixels from (x0, y0) to (x1, y1) with round caps.
   * Coverage of each pixel is the distance from its centre to the segment, so joints of a polyline
   * drawn segment by segment stay smooth (pixels take the maximum coverage within one segment).
   */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgba, width = 1.5): void {
    const r = width / 2;
    const minX = Math.floor(Math.min(x0, x1) - r - 1);
    const maxX = Math.ceil(Math.max(x0, x1) + r + 1);
    const minY = Math.floor(Math.min(y0, y1) - r - 1);
    const maxY = Math.ceil(Math.max(y0, y1) + r + 1);
    const dx = x1 - x0;
    const dy = y1 - y0;
    const len2 = dx * dx + dy * dy;
    for (let y = Math.max(0, minY); y <= Math.min(this.height - 1, maxY); y++) {
      for (let x = Math.max(0, minX); x <= Math.min(this.width - 1, maxX); x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        let t = len2 === 0 ? 0 : ((px - x0) * dx + (py - y0) * dy) / len2;
        t = Math.min(1, Math.max(0, t));
        const d = Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
        const cover = r + 0.5 - d;
        if (cover > 0) this.blend(x, y, color, cover);
      }
    }
  }

  /** Draws a polyline through `points` (pixel coordinates); non-finite points break the line. */
  polyline(points: readonly (readonly [number, number])[], color: Rgba, width = 1.5): void {
    for (let i = 1; i < points.length; i++) {
      const [ax, ay] = points[i - 1];
      const [bx, by] = points[i];
      if ([ax, ay, bx, by].every(Number.isFinite)) this.line(ax, ay, bx, by, color, width);
    }
  }

  /**
   * Writes `text` with the built-in 3x5 font scaled by `scale`, its top-left corner at (x, y).
   * Lower-case letters are drawn as capitals; characters the font lacks are drawn as blanks.
   *
   * @returns The width of the text in pixels.
   */
  text(x: number, y: number, text: string, color: Rgba, scale = 2): number {
    let cx = Math.round(x);
    const top = Math.round(y);
    for (const ch of text.toUpperCase()) {
      const glyph = FONT[ch] ?? 0;
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++) {
          if (glyph & (1 << (14 - (row * 3 + col)))) {
            this.fillRect(
              cx + col * scale,
              top + row * scale,
              cx + (col + 1) * scale,
              top + (row + 1) * scale,
              color,
            );
          }
        }
      }
      cx += 4 * scale;
    }
    return cx - Math.round(x);
  }
}

/** The width in pixels {@link Raster.text} uses for `text` at `scale`. */
export function textWidth(text: string, scale = 2): number {
  return text.length * 4 * scale;
}

// A 3x5 bitmap font: 15 bits per glyph, row-major from the top-left (bit 14).
const FONT: Record<string, number> = glyphs({
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001010010010',
  '8': '111101111101111',
  '9': '111101111001111',
  A: '010101111101101',
  B: '110101110101110',
  C: '011100100100011',
  D: '110101101101110',
  E: '111100110100111',
  F: '111100110100100',
  G: '011100101101011',
  H: '101101111101101',
  I: '111010010010111',
  J: '001001001101010',
  K: '101101110101101',
  L: '100100100100111',
  M: '101111111101101',
  N: '110101101101101',
  O: '010101101101010',
  P: '110101110100100',
  Q: '010101101110011',
  R: '110101110101101',
  S: '011100010001110',
  T: '111010010010010',
  U: '101101101101111',
  V: '101101101101010',
  W: '101101111111101',
  X: '101101010101101',
  Y: '101101010010010',
  Z: '111001010100111',
  '.': '000000000000010',
  ',': '000000000010100',
  '-': '000000111000000',
  '+': '000010111010000',
  '=': '000111000111000',
  ':': '000010000010000',
  '/': '001001010100100',
  '(': '010100100100010',
  ')': '010001001001010',
  '%': '101001010100101',
  _: '000000000000111',
  '^': '010101000000000',
  ' ': '000000000000000',
});

function glyphs(table: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [ch, bits] of Object.entries(table)) out[ch] = Number.parseInt(bits, 2);
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 (ISO 3309, as PNG uses it) of `bytes`, as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The 8-byte signature every PNG file starts with. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes a raster as a PNG file (8-bit RGBA, no interlace). */
export function encodePng(raster: Raster): Buffer {
  const { width, height, pixels } = raster;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type: none
    Buffer.from(pixels.buffer, pixels.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
