/**
 * Test helpers: a backend per test file, operands built from plain arrays, and results read back and
 * freed in one call, so every test can end by asserting that no buffer leaked.
 */
import type { DataId, DType, KernelTensor, TypedArray } from '@mru/core';
import { type CpuBackend, cpuBackend } from '../src/index.js';

/** A fresh backend plus helpers bound to it. */
export function setup() {
  const be: CpuBackend = cpuBackend();
  const owned: DataId[] = [];

  /** Uploads `values` as an operand of `shape` and `dtype`; freed by `release()`. */
  function input(
    values: ArrayLike<number>,
    shape: readonly number[],
    dtype: DType = 'float32',
  ): KernelTensor {
    const arr =
      dtype === 'float32'
        ? Float32Array.from(values)
        : dtype === 'int32'
          ? Int32Array.from(values)
          : Uint8Array.from(values);
    const id = be.write(arr, dtype);
    owned.push(id);
    return { id, shape, dtype };
  }

  /** Reads a kernel result of `shape`/`dtype` back and frees it. */
  function take(id: DataId, shape: readonly number[], dtype: DType): TypedArray {
    const values = be.readSync({ id, shape, dtype });
    be.free(id);
    return values;
  }

  /** Frees every operand made by `input`. */
  function release(): void {
    for (const id of owned.splice(0)) be.free(id);
  }

  return { be, input, take, release };
}

/** Deterministic uniform floats in [lo, hi) (mulberry32), so failures reproduce. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = Math.fround(lo + (hi - lo) * u);
  }
  return out;
}

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Number of elements. */
export function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** Flat position in `shape` of the broadcast source for output multi-index `idx`. */
export function broadcastIndex(idx: readonly number[], shape: readonly number[]): number {
  const off = idx.length - shape.length;
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + (shape[d] === 1 ? 0 : idx[off + d]);
  return flat;
}

/** Largest |got - want| / (atol + rtol * |want|) over all elements; <= 1 means within tolerance. */
export function maxScaledError(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (Object.is(got[i], want[i]) || got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i])))
      continue;
    const e = Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
