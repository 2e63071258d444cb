/**
 * Reductions (`sum`, `max`, `min` over a set of axes) and index reductions (`argmax`, `argmin`).
 *
 * Design: the input is read once, in memory order, while a float64 accumulator indexed by the
 * output position absorbs it (its stride is 0 along reduced axes). `coalesce` merges runs of reduced
 * or kept axes, so reducing the last axis becomes a register loop over a contiguous row and reducing
 * the first axis becomes a vector add of contiguous rows into the accumulator; both read memory
 * sequentially. Accumulating float32 in float64 makes a sum of n terms accurate to about n * 2^-53
 * relative to the sum of magnitudes before the single final rounding, far beyond the pairwise
 * summation the contract asks for, at no extra cost in JS (numbers are float64 anyway). Long contiguous
 * rows are summed with four float64 partial sums, short ones four rows at a time, so that additions do
 * not wait on each other. int32 and bool
 * sums are exact below 2^53 and wrap modulo 2^32 on the final store, like int32 arithmetic.
 */

import { type ArgReduceOp, type DType, type ReduceOp, type TypedArray, ValueError } from '@mru/core';
import { hostArray } from './pool.js';
import { coalesce, forEachRow } from './walk.js';

/** The output dtype of `op` on `dtype`: sums of int32 and bool are int32, max/min keep the dtype. */
export function reduceDType(op: ReduceOp, dtype: DType): DType {
  return op === 'sum' && dtype === 'bool' ? 'int32' : dtype;
}

/** Reduces contiguous `x` of `shape` over `axes` (sorted, distinct); the output keeps the other axes. */
export function reduceKernel(
  op: ReduceOp,
  x: TypedArray,
  dtype: DType,
  shape: readonly number[],
  axes: readonly number[],
): TypedArray {
  const reduced = new Array<boolean>(shape.length).fill(false);
  for (const a of axes) reduced[a] = true;
  // Accumulator strides: row-major over the kept axes, 0 along reduced ones.
  const accStrides = new Array<number>(shape.length).fill(0);
  const xStrides = new Array<number>(shape.length).fill(0);
  let outSize = 1;
  let xSize = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    xStrides[d] = xSize;
    xSize *= shape[d];
    if (!reduced[d]) {
      accStrides[d] = outSize;
      outSize *= shape[d];
    }
  }
  const out = hostArray(reduceDType(op, dtype), outSize);
  if (outSize === 0) return out;
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  const acc = new Float64Array(outSize).fill(init);
  if (xSize > 0) {
    const layout = coalesce(shape, [xStrides, accStrides]);
    const last = layout.shape.length - 1;
    const n = layout.shape[last];
    const xs = layout.strides[0][last];
    const cs = layout.strides[1][last];
    switch (op) {
      case 'sum':
        if (layout.shape.length === 2 && xs === 1 && layout.strides[0][0] === n) {
          // The two shapes of nearly every sum in a training step, with loops of their own: the
          // callback per row of `forEachRow` costs more than a row of 16 or 64 additions.
          const rows = layout.shape[0];
          const co = layout.strides[1][0];
          if (cs === 1 && co === 0) {
            sumColumns(x, acc, rows, n);
            break;
          }
          if (cs === 0 && co === 1) {
            sumRows(x, acc, rows, n);
            break;
          }
        }
        forEachRow(layout, [0, 0], (xi, ci) => {
          if (cs === 0 && xs === 1 && n >= LONG_ROW) {
            acc[ci] += sumLong(x, xi, n);
          } else if (cs === 0) {
            let s = acc[ci];
            for (let j = 0; j < n; j++, xi += xs) s += x[xi];
            acc[ci] = s;
          } else {
            for (let j = 0; j < n; j++, ci += cs, xi += xs) acc[ci] += x[xi];
          }
        });
        break;
      case 'max':
        forEachRow(layout, [0, 0], (xi, ci) => {
          if (cs === 0) {
            let s = acc[ci];
            for (let j = 0; j < n; j++, xi += xs) s = Math.max(s, x[xi]);
            acc[ci] = s;
          } else {
            for (let j = 0; j < n; j++, ci += cs, xi += xs) acc[ci] = Math.max(acc[ci], x[xi]);
          }
        });
        break;
      case 'min':
        forEachRow(layout, [0, 0], (xi, ci) => {
          if (cs === 0) {
            let s = acc[ci];
            for (let j = 0; j < n; j++, xi += xs) s = Math.min(s, x[xi]);
            acc[ci] = s;
          } else {
            for (let j = 0; j < n; j++, ci += cs, xi += xs) acc[ci] = Math.min(acc[ci], x[xi]);
          }
        });
        break;
    }
  }
  // One rounding per output: float64 to float32, or ToInt32 (wrapping) for integer sums.
  out.set(acc);
  return out;
}

/** Rows at least this long are summed by `sumLong`. */
const LONG_ROW = 256;

/**
 * The sum of `x[i .. i + n)` in float64 with four partial sums (elements `j mod 4`), added pairwise
 * at the end: four independent chains of additions instead of one. The order differs from a single
 * running sum, the accuracy does not (float64 partial sums of float32 terms, one final rounding).
 */
function sumLong(x: TypedArray, i: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const e = i + n - (n % 4);
  for (; i < e; i += 4) {
    s0 += x[i];
    s1 += x[i + 1];
    s2 += x[i + 2];
    s3 += x[i + 3];
  }
  for (let k = 0; k < n % 4; k++) s0 += x[e + k];
  return s0 + s1 + (s2 + s3);
}

/**
 * `acc[j] += x[r * n + j]` for every row `r < rows`, in row order. Four rows share one load and store
 * of `acc[j]`; the additions stay left to right, so every column is summed in the same order, with
 * the same float64 roundings, as one row at a time.
 */
function sumColumns(x: TypedArray, acc: Float64Array, rows: number, n: number): void {
  let r = 0;
  let i = 0;
  for (; r + 4 <= rows; r += 4, i += 4 * n) {
    const i1 = i + n;
    const i2 = i1 + n;
    const i3 = i2 + n;
    for (let j = 0; j < n; j++) acc[j] = acc[j] + x[i + j] + x[i1 + j] + x[i2 + j] + x[i3 + j];
  }
  for (; r < rows; r++, i += n) {
    for (let j = 0; j < n; j++) acc[j] += x[i + j];
  }
}

/**
 * `acc[r] += x[r * n] + ... + x[r * n + n - 1]` for every row `r < rows`, left to right. Four rows
 * advance together: each row's additions keep their order, but four independent chains hide the
 * latency of one (a row of 16 is otherwise 16 dependent additions).
 */
function sumRows(x: TypedArray, acc: Float64Array, rows: number, n: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const i0 = r * n;
    const i1 = i0 + n;
    const i2 = i1 + n;
    const i3 = i2 + n;
    let s0 = acc[r];
    let s1 = acc[r + 1];
    let s2 = acc[r + 2];
    let s3 = acc[r + 3];
    for (let j = 0; j < n; j++) {
      s0 += x[i0 + j];
      s1 += x[i1 + j];
      s2 += x[i2 + j];
      s3 += x[i3 + j];
    }
    acc[r] = s0;
    acc[r + 1] = s1;
    acc[r + 2] = s2;
    acc[r + 3] = s3;
  }
  for (let i = r * n; r < rows; r++) {
    let s = acc[r];
    for (const e = i + n; i < e; i++) s += x[i];
    acc[r] = s;
  }
}

/**
 * Index of the first maximum (`argmax`) or minimum (`argmin`) along `axis`, as int32. NaN counts as
 * the extreme value, so the index of the first NaN is returned when there is one (NumPy's rule).
 */
export function argReduceKernel(
  op: ArgReduceOp,
  x: TypedArray,
  shape: readonly number[],
  axis: number,
): Int32Array {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d];
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  const n = shape[axis];
  const out = new Int32Array(outer * inner);
  if (out.length === 0) return out;
  if (n === 0) throw new ValueError(op, `axis ${axis} of shape [${shape.join(',')}] is empty`);
  const sign = op === 'argmax' ? 1 : -1;
  // Row-wise: keep the best value of every inner position while walking the axis, so the inner
  // loop reads contiguous memory even when inner > 1.
  const best = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    const outBase = o * inner;
    for (let j = 0; j < inner; j++) best[j] = sign * x[base + j];
    for (let k = 1; k < n; k++) {
      const row = base + k * inner;
      for (let j = 0; j < inner; j++) {
        const v = sign * x[row + j];
        const b = best[j];
        // Once the best is NaN it stays the answer.
        if (!Number.isNaN(b) && (v > b || Number.isNaN(v))) {
          best[j] = v;
          out[outBase + j] = k;
        }
      }
    }
  }
  return out;
}
