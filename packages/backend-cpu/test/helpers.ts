/**
 * Test helpers: a backend per test file, operands built from plain arrays, and results read back and
 * freed in one call, so every test can end by asserting that no buffer leaked.
 */
import type { DataId, DType, KernelTensor, TypedArray } from '@mru/core';
import { typedArrayOf } from '@mru/core/testing';
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
    const id = be.write(typedArrayOf(values, dtype), dtype);
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
