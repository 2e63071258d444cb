/**
 * Batched float32 matrix product `C[p] = opA(A[p]) @ opB(B[p])`, on two kernels that return the same
 * bits: the WebAssembly SIMD kernel (matmul-wasm.ts, assembly/matmul.ts), used wherever it loads,
 * and the plain-JS kernel below, the fallback where Wasm SIMD is unavailable and the faster choice
 * for tiny products (measured on Node 20: below about 2,048 multiply-adds per product the Wasm
 * call's fixed cost, about 0.3 us for views and copies, exceeds the JS kernel's whole run, e.g.
 * 0.09 vs 0.24 us at 4x4x4, while 16x16x16 already runs 4x faster in Wasm). Both accumulate in
 * float64 in k order and round once per output, so which kernel ran never shows in a result, and
 * the size cut-off is safe.
 *
 * Design of the JS kernel (measured with Node 20 on x86-64; plain JS has no SIMD, so the limit is
 * loads per multiply):
 * - A register-tiled dot-product kernel: each 4x4 tile of C keeps 16 float64 accumulators in locals
 *   while one loop over k reads four elements of opA(A) and four of opB(B) per step, i.e. 8 loads per
 *   16 multiply-adds. It runs at about 3x a naive triple loop and 1.5x a 4-row i-k-j kernel with
 *   float64 accumulator rows (5.5 vs 3.9 vs 1.8 GFLOP/s at 512^3 on one core).
 * - No packing: the kernel reads both operands through strides (k-step and row/column step), so all
 *   four transpose combinations run the same loop. Either the four values of a step are contiguous
 *   (a row of B, a column of a transposed A) or each of the four is a sequential stream over k; both
 *   prefetch well. Measured, the strided kernel is within about 10% of the best layout for every
 *   combination, while packing a transposed copy of B cost as much as the whole product for few
 *   rows (m = 16, n = k = 1024), the case of stepping a model one token at a time.
 * - Blocking: columns of C are taken in panels of `PANEL_N` so the panel of B (k x PANEL_N values)
 *   stays in L2 while every row tile of A sweeps over it. k is not blocked: the accumulators live in
 *   registers across the whole k loop, which gives float64 accumulation in k order (one rounding per
 *   output, so results do not depend on the tiling) for free; blocking k would need a float64
 *   partial-sum buffer in memory, and measured slower at every size tried (k up to 4096).
 * - Edges (m or n not a multiple of 4) use 4x1, 1x4 and 1x1 tiles of the same form.
 */

import { BackendError, type MatmulSpec } from '@mru/core';
import { wasmMatmul, wasmMatmulAvailable } from './matmul-wasm.js';
import { hostArray } from './pool.js';

/** Columns of C per panel (the B panel is k x PANEL_N values). */
const PANEL_N = 64;

/** Strided geometry of one product: `opA(A)[i, p] = A[aOff + i * aRow + p * aStep]` and likewise B. */
interface Operands {
  readonly A: Float32Array;
  /** Offset of the first element of this batch's A. */
  aOff: number;
  /** Elements between rows of opA(A). */
  readonly aRow: number;
  /** Elements between k-steps of opA(A). */
  readonly aStep: number;
  readonly B: Float32Array;
  bOff: number;
  /** Elements between columns of opB(B). */
  readonly bCol: number;
  /** Elements between k-steps of opB(B). */
  readonly bStep: number;
  readonly C: Float32Array;
  cOff: number;
}

/** One product `C = opA(A) @ opB(B)` of `m x k` by `k x n`, tiled as described at the top. */
function tiledProduct(g: Operands, m: number, k: number, n: number): void {
  const { A, aOff, aRow, aStep, B, bOff, bCol, bStep, C, cOff } = g;
  const a1 = aRow;
  const a2 = 2 * aRow;
  const a3 = 3 * aRow;
  const b1 = bCol;
  const b2 = 2 * bCol;
  const b3 = 3 * bCol;
  const m4 = m - (m % 4);
  for (let j0 = 0; j0 < n; j0 += PANEL_N) {
    const j1 = Math.min(n, j0 + PANEL_N);
    const j4 = j1 - ((j1 - j0) % 4);
    for (let i = 0; i < m4; i += 4) {
      const ai = aOff + i * aRow;
      let j = j0;
      for (; j < j4; j += 4) {
        let c00 = 0;
        let c01 = 0;
        let c02 = 0;
        let c03 = 0;
        let c10 = 0;
        let c11 = 0;
        let c12 = 0;
        let c13 = 0;
        let c20 = 0;
        let c21 = 0;
        let c22 = 0;
        let c23 = 0;
        let c30 = 0;
        let c31 = 0;
        let c32 = 0;
        let c33 = 0;
        let pa = ai;
        let pb = bOff + j * bCol;
        for (let p = 0; p < k; p++, pa += aStep, pb += bStep) {
          const x0 = A[pa];
          const x1 = A[pa + a1];
          const x2 = A[pa + a2];
          const x3 = A[pa + a3];
          const y0 = B[pb];
          const y1 = B[pb + b1];
          const y2 = B[pb + b2];
          const y3 = B[pb + b3];
          c00 += x0 * y0;
          c01 += x0 * y1;
          c02 += x0 * y2;
          c03 += x0 * y3;
          c10 += x1 * y0;
          c11 += x1 * y1;
          c12 += x1 * y2;
          c13 += x1 * y3;
          c20 += x2 * y0;
          c21 += x2 * y1;
          c22 += x2 * y2;
          c23 += x2 * y3;
          c30 += x3 * y0;
          c31 += x3 * y1;
          c32 += x3 * y2;
          c33 += x3 * y3;
        }
        let o = cOff + i * n + j;
        C[o] = c00;
        C[o + 1] = c01;
        C[o + 2] = c02;
        C[o + 3] = c03;
        o += n;
        C[o] = c10;
        C[o + 1] = c11;
        C[o + 2] = c12;
        C[o + 3] = c13;
        o += n;
        C[o] = c20;
        C[o + 1] = c21;
        C[o + 2] = c22;
        C[o + 3] = c23;
        o += n;
        C[o] = c30;
        C[o + 1] = c31;
        C[o + 2] = c32;
        C[o + 3] = c33;
      }
      // Leftover columns of the panel: 4x1 tiles.
      for (; j < j1; j++) {
        let c0 = 0;
        let c1 = 0;
        let c2 = 0;
        let c3 = 0;
        let pa = ai;
        let pb = bOff + j * bCol;
        for (let p = 0; p < k; p++, pa += aStep, pb += bStep) {
          const y = B[pb];
          c0 += A[pa] * y;
          c1 += A[pa + a1] * y;
          c2 += A[pa + a2] * y;
          c3 += A[pa + a3] * y;
        }
        const o = cOff + i * n + j;
        C[o] = c0;
        C[o + n] = c1;
        C[o + 2 * n] = c2;
        C[o + 3 * n] = c3;
      }
    }
    // Leftover rows: 1x4 tiles, then single dot products.
    for (let i = m4; i < m; i++) {
      const ai = aOff + i * aRow;
      const o = cOff + i * n;
      let j = j0;
      for (; j < j4; j += 4) {
        let c0 = 0;
        let c1 = 0;
        let c2 = 0;
        let c3 = 0;
        let pa = ai;
        let pb = bOff + j * bCol;
        for (let p = 0; p < k; p++, pa += aStep, pb += bStep) {
          const x = A[pa];
          c0 += x * B[pb];
          c1 += x * B[pb + b1];
          c2 += x * B[pb + b2];
          c3 += x * B[pb + b3];
        }
        C[o + j] = c0;
        C[o + j + 1] = c1;
        C[o + j + 2] = c2;
        C[o + j + 3] = c3;
      }
      for (; j < j1; j++) {
        let c = 0;
        let pa = ai;
        let pb = bOff + j * bCol;
        for (let p = 0; p < k; p++, pa += aStep, pb += bStep) c += A[pa] * B[pb];
        C[o + j] = c;
      }
    }
  }
}

/** The plain-JS batched product described by `spec` (see `MatmulSpec` in core): `[batch, m, n]`. */
export function jsMatmul(a: Float32Array, b: Float32Array, spec: MatmulSpec): Float32Array {
  const { batch, m, k, n, aBatchStride, bBatchStride, transposeA, transposeB } = spec;
  const out = hostArray('float32', batch * m * n) as Float32Array;
  if (out.length === 0 || k === 0) return out;
  const g: Operands = {
    A: a,
    aOff: 0,
    // opA(A)[i, p] is at i * k + p, or at p * m + i when A is stored transposed ([k, m]).
    aRow: transposeA ? 1 : k,
    aStep: transposeA ? m : 1,
    B: b,
    bOff: 0,
    // opB(B)[p, j] is at p * n + j, or at j * k + p when B is stored transposed ([n, k]).
    bCol: transposeB ? k : 1,
    bStep: transposeB ? 1 : n,
    C: out,
    cOff: 0,
  };
  for (let p = 0; p < batch; p++) {
    g.aOff = p * aBatchStride;
    g.bOff = p * bBatchStride;
    g.cOff = p * m * n;
    tiledProduct(g, m, k, n);
  }
  return out;
}

/**
 * Which kernel the CPU backend's matmul runs: `'auto'` (the WebAssembly SIMD kernel where it loads,
 * except for tiny products, else the plain-JS one), `'wasm'` (always Wasm; throws where it cannot
 * run) or `'js'` (always the plain-JS kernel).
 */
export type MatmulPath = 'auto' | 'wasm' | 'js';

/** Below this many multiply-adds per product, `auto` runs the JS kernel (see the top of the file). */
const WASM_MIN_MACS = 2048;

/**
 * The initial path: `auto`, unless the environment variable `MRU_CPU_MATMUL` is `js` or `wasm`
 * (read once, where a `process.env` exists), e.g. to run a test suite on the JS fallback.
 */
function initialPath(): MatmulPath {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.MRU_CPU_MATMUL;
  return v === 'js' || v === 'wasm' ? v : 'auto';
}

let path: MatmulPath = initialPath();

/**
 * Selects the kernel of every CPU backend's matmul in this JavaScript realm (tests, benchmarks, or
 * to rule the Wasm kernel out). Both kernels return the same bits. Throws for `'wasm'` where the
 * WebAssembly SIMD kernel cannot load.
 *
 * @param p - The kernel to use.
 */
export function setMatmulPath(p: MatmulPath): void {
  if (p === 'wasm' && !wasmMatmulAvailable()) {
    throw new BackendError('matmul', 'the WebAssembly SIMD kernel cannot load here');
  }
  path = p;
}

/** The kernels this environment can run: `['js', 'wasm']`, or `['js']` without Wasm SIMD. */
export function matmulPaths(): ('js' | 'wasm')[] {
  return wasmMatmulAvailable() ? ['js', 'wasm'] : ['js'];
}

/**
 * The batched product described by `spec` (see `MatmulSpec` in core) on the kernel `path` selects;
 * returns `[batch, m, n]`.
 */
export function matmulKernel(a: Float32Array, b: Float32Array, spec: MatmulSpec): Float32Array {
  const { m, k, n } = spec;
  if (path === 'wasm' || (path === 'auto' && m * k * n >= WASM_MIN_MACS && wasmMatmulAvailable())) {
    const out = wasmMatmul(a, b, spec);
    if (out) return out;
    if (path === 'wasm') {
      throw new BackendError(
        'matmul',
        'the WebAssembly SIMD kernel cannot load here or could not grow its memory',
      );
    }
  }
  return jsMatmul(a, b, spec);
}
