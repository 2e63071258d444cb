/**
 * The WebAssembly SIMD scan (scan-wasm.ts) against a plain float32 loop written here (float64
 * multiply-add, one rounding on the store, as scan.ts's JS loop): the same bits in both directions,
 * with and without h0, with `a` per batch row or shared, over several chunks, with special values.
 */
import { describe, expect, it } from 'vitest';
import { wasmScan } from '../src/scan-wasm.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const SPECIAL = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-45, 1.1754942e-38, 3.4028235e38];

function values(size: number, r: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = r();
    out[i] =
      u < 0.02
        ? SPECIAL[Math.floor(r() * SPECIAL.length)]
        : u < 0.3
          ? Math.round(r() * 4 - 2)
          : (r() - 0.5) * 2.5;
  }
  return out;
}

function reference(
  B: number,
  T: number,
  C: number,
  a: Float32Array,
  aBatchStride: number,
  x: Float32Array,
  h0: Float32Array | null,
  reverse: boolean,
): Float32Array {
  const h = new Float32Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let prev = h0 ? h0[b * C + c] : 0;
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const i = (b * T + t) * C + c;
        h[i] = a[b * aBatchStride + t * C + c] * prev + x[i];
        prev = h[i];
      }
    }
  }
  return h;
}

/** Bits with every NaN written as one canonical NaN. */
function bits(a: Float32Array): Uint32Array {
  const u = new Uint32Array(a.length);
  u.set(new Uint32Array(a.buffer, a.byteOffset, a.length));
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) u[i] = 0x7fc00000;
  return u;
}

describe('scan on WebAssembly SIMD', () => {
  it('gives the bits of a float32 loop, both directions, with and without h0, a shared or per row', () => {
    let seed = 1;
    for (const [B, T, C] of [
      [3, 300, 64],
      [2, 5000, 2],
      [4, 700, 6],
    ]) {
      for (const reverse of [false, true]) {
        for (const withH0 of [false, true]) {
          for (const shared of [false, true]) {
            const r = rng(seed++);
            const a = values((shared ? 1 : B) * T * C, r);
            const x = values(B * T * C, r);
            const h0 = withH0 ? values(B * C, r) : null;
            const aBatchStride = shared ? 0 : T * C;
            const h = new Float32Array(B * T * C);
            expect(wasmScan(B, T, C, a, aBatchStride, x, h0, reverse, h)).toBe(true);
            const want = bits(reference(B, T, C, a, aBatchStride, x, h0, reverse));
            const got = bits(h);
            const first = got.findIndex((v, i) => v !== want[i]);
            expect(first, `[${B},${T},${C}] reverse ${reverse} h0 ${withH0} shared ${shared}`).toBe(-1);
          }
        }
      }
    }
  });

  it('leaves odd channel counts and small scans to the JS loop', () => {
    const a = new Float32Array(3 * 4000);
    expect(wasmScan(1, 4000, 3, a, 0, a, null, false, new Float32Array(a.length))).toBe(false);
    expect(wasmScan(1, 10, 4, a, 0, a, null, false, new Float32Array(40))).toBe(false);
  });
});
