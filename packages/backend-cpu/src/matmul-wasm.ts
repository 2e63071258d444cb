/**
 * The WebAssembly SIMD path of the CPU backend's matmul: loads the kernel compiled from
 * assembly/matmul.ts (embedded as base64, so nothing is fetched at run time) and runs products in
 * its memory. The kernel's own design is at the top of assembly/matmul.ts.
 *
 * Design (measured with Node 20.20 on a 2-core AMD EPYC shared with other jobs):
 * - Loaded lazily on the first product, synchronously (`new WebAssembly.Module` on about 2 KiB of
 *   bytes, under the 4 KiB that browsers allow to compile synchronously on the main thread), so the
 *   backend stays synchronous; validating and compiling took 1.7 ms, once. Support is decided by
 *   `WebAssembly.validate` of the kernel itself, which checks every SIMD opcode it uses, not just
 *   one (a tiny probe module could pass where the kernel fails). Any failure (no WebAssembly, no
 *   SIMD, a content security policy that forbids compiling, memory that cannot grow) makes
 *   `wasmMatmul` return null and the caller runs the plain-JS kernel, which gives the same bits.
 * - Operands are copied into Wasm memory with `TypedArray.set` (a memcpy) and the kernel packs them
 *   there with SIMD (the conversion to float64 included), so JS touches each element once, at memcpy
 *   speed, instead of packing element by element in a JS loop. Measured, copy-in and copy-out cost
 *   about 5% of the kernel at the training step's shapes (0.08 ms for 3.2 MB, against 1.6 ms of
 *   product for [12800,16] x [16,64]). Allocating the result array, which the JS kernel pays as
 *   well, is the larger fixed cost: a fresh 3.2 MB array took 5 to 13 ms of CPU time to allocate
 *   and fill on this loaded machine, mostly page faults.
 * - Long products are cut into chunks of about 512 KiB of operands: row chunks of A and C when A is
 *   not transposed (B is copied whole once per batch), k chunks of A and B when A is transposed (the
 *   weight gradient, k = 64 T), the kernel carrying float64 partial sums of C from chunk to chunk so
 *   the k order is kept. So the Wasm memory stays at about 2 MiB for any number of rows (plus B, or
 *   the m x n result for a transposed A) instead of holding whole operands and results (20 MB for
 *   [64000,16] x [16,64]), and each chunk's copy-in, product and copy-out stay in L2.
 * - One memory per JavaScript realm, grown on demand; calls never overlap because the backend is
 *   synchronous. A memory never shrinks, so one that grew past RETAIN_BYTES is replaced by a fresh
 *   instance after the call. It is not counted in `CpuBackend.memory()`, which counts tensors.
 */

import type { MatmulSpec } from '@mru/core';
import { matmulWasmBase64 } from './matmul-wasm.generated.js';
import { hostArray } from './pool.js';

/** The exports of assembly/matmul.ts. */
interface KernelExports {
  gemm(
    m: number,
    k: number,
    n: number,
    a: number,
    aRow: number,
    aStep: number,
    b: number,
    bCol: number,
    bStep: number,
    c: number,
    ap: number,
    bp: number,
    acc: number,
    scratch: number,
    accIn: boolean,
    accOut: boolean,
  ): void;
  packedABytes(): number;
  packedBBytes(): number;
  kBlock(): number;
}

interface Kernel {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly exports: KernelExports;
  /** Bytes of the fixed part: scratch tile and the two packing buffers. */
  readonly fixed: number;
  readonly ap: number;
  readonly bp: number;
  readonly scratch: number;
}

const PAGE = 65536;
/** Start of the host-managed region (the module has no data segment; keep clear of address 0). */
const BASE = 1024;

/** undefined: not tried yet; null: unavailable (the JS kernel is used). */
let kernel: Kernel | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const align16 = (x: number) => (x + 15) & ~15;

/** An instance of the compiled kernel on a fresh one-page memory. */
function instantiate(module: WebAssembly.Module): Kernel {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  const scratch = BASE;
  const ap = align16(scratch + 128);
  const bp = align16(ap + exports.packedABytes());
  const fixed = align16(bp + exports.packedBBytes());
  return { module, memory, exports, fixed, ap, bp, scratch };
}

function load(): Kernel | null {
  try {
    if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
    const bytes = decodeBase64(matmulWasmBase64);
    if (!WebAssembly.validate(bytes)) return null;
    return instantiate(new WebAssembly.Module(bytes));
  } catch {
    return null;
  }
}

/** Whether the WebAssembly SIMD kernel loaded in this environment (loads it on first call). */
export function wasmMatmulAvailable(): boolean {
  if (kernel === undefined) kernel = load();
  return kernel !== null;
}

/**
 * A memory that grew past this many bytes (a product with a large B, or a large result of a
 * transposed A) is dropped after the call: a new instance on a fresh memory costs about 0.1 ms
 * (measured), small beside a product that needed 32 MiB, while a WebAssembly memory never shrinks.
 */
const RETAIN_BYTES = 32 << 20;

/** Bytes of operand chunk per kernel call: chunks stay in L2 from copy-in to copy-out. */
const CHUNK_BYTES = 1 << 19;
/** Rows per tile of the kernel, to align row chunks on tiles. */
const MR = 4;

/** Grows the kernel's memory to at least `bytes`; false if the engine refuses. */
function reserve(k: Kernel, bytes: number): boolean {
  const have = k.memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    k.memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    return false;
  }
}

/**
 * The batched product described by `spec` on the WebAssembly SIMD kernel, with the same contract
 * and the same bits as the plain-JS kernel; null where the kernel cannot load or its memory cannot
 * grow to the chunk size (then the caller runs the JS kernel).
 */
export function wasmMatmul(a: Float32Array, b: Float32Array, spec: MatmulSpec): Float32Array | null {
  if (!wasmMatmulAvailable()) return null;
  const K = kernel as Kernel;
  const out = product(K, a, b, spec);
  if (K.memory.buffer.byteLength > RETAIN_BYTES) {
    try {
      kernel = instantiate(K.module);
    } catch {
      kernel = null;
    }
  }
  return out;
}

/** The product on kernel instance `K`; see `wasmMatmul`. */
function product(K: Kernel, a: Float32Array, b: Float32Array, spec: MatmulSpec): Float32Array | null {
  const { batch, m, k, n, aBatchStride, bBatchStride, transposeA, transposeB } = spec;
  // Every element is written by a chunk's copy-out unless k is 0 (then the product is zeros).
  const out = hostArray('float32', batch * m * n, k === 0) as Float32Array;
  if (out.length === 0 || k === 0) return out;
  const kBlock = K.exports.kBlock();
  if (!transposeA) {
    // Rows of A are contiguous: feed the kernel row chunks of A and C against the whole of B.
    let rows = Math.min(m, Math.max(MR, Math.floor(CHUNK_BYTES / (4 * (k + n)))));
    if (rows < m) rows -= rows % MR;
    const aPtr = K.fixed;
    const bPtr = align16(aPtr + 4 * rows * k);
    const cPtr = align16(bPtr + 4 * k * n);
    const accPtr = align16(cPtr + 4 * rows * n);
    if (!reserve(K, accPtr + (k > kBlock ? 8 * rows * n : 0))) return null;
    const buf = K.memory.buffer;
    const aView = new Float32Array(buf, aPtr, rows * k);
    const bView = new Float32Array(buf, bPtr, k * n);
    const cView = new Float32Array(buf, cPtr, rows * n);
    for (let p = 0; p < batch; p++) {
      if (p === 0 || bBatchStride !== 0) bView.set(b.subarray(p * bBatchStride, p * bBatchStride + k * n));
      for (let i0 = 0; i0 < m; i0 += rows) {
        const r = Math.min(rows, m - i0);
        const src = p * aBatchStride + i0 * k;
        aView.set(a.subarray(src, src + r * k));
        K.exports.gemm(
          r,
          k,
          n,
          aPtr,
          k,
          1,
          bPtr,
          transposeB ? k : 1,
          transposeB ? 1 : n,
          cPtr,
          K.ap,
          K.bp,
          accPtr,
          K.scratch,
          false,
          false,
        );
        out.set(r === rows ? cView : cView.subarray(0, r * n), p * m * n + i0 * n);
      }
    }
    return out;
  }
  // A stored transposed ([k, m]): its k-steps are contiguous, so feed k in chunks (multiples of the
  // kernel's k block) and carry the float64 partial sums of C from one chunk to the next.
  let steps = Math.max(kBlock, Math.floor(CHUNK_BYTES / (4 * (m + n))));
  steps = Math.min(k, steps - (steps % kBlock));
  const aPtr = K.fixed;
  const bPtr = align16(aPtr + 4 * steps * m);
  const cPtr = align16(bPtr + 4 * steps * n);
  const accPtr = align16(cPtr + 4 * m * n);
  if (!reserve(K, accPtr + (k > kBlock ? 8 * m * n : 0))) return null;
  const buf = K.memory.buffer;
  const aView = new Float32Array(buf, aPtr, steps * m);
  const bView = new Float32Array(buf, bPtr, steps * n);
  const cView = new Float32Array(buf, cPtr, m * n);
  for (let p = 0; p < batch; p++) {
    const aBase = p * aBatchStride;
    const bBase = p * bBatchStride;
    for (let p0 = 0; p0 < k; p0 += steps) {
      const s = Math.min(steps, k - p0);
      aView.set(a.subarray(aBase + p0 * m, aBase + (p0 + s) * m));
      if (transposeB) {
        // B stored [n, k]: gather each column's k-chunk into an [n, s] block.
        for (let j = 0; j < n; j++) {
          const src = bBase + j * k + p0;
          bView.set(b.subarray(src, src + s), j * s);
        }
      } else {
        bView.set(b.subarray(bBase + p0 * n, bBase + (p0 + s) * n));
      }
      K.exports.gemm(
        m,
        s,
        n,
        aPtr,
        1,
        m,
        bPtr,
        transposeB ? s : 1,
        transposeB ? 1 : n,
        cPtr,
        K.ap,
        K.bp,
        accPtr,
        K.scratch,
        p0 > 0,
        p0 + s < k,
      );
    }
    out.set(cView, p * m * n);
  }
  return out;
}
