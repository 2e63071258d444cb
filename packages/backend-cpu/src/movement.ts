/**
 * Data movement: strided gather of a view (permute, slice, expand), constant padding, concatenation,
 * index gather and its scatter-add adjoint.
 *
 * Design: every kernel copies whole contiguous runs where it can (`TypedArray.prototype.set` on a
 * `subarray`, which V8 turns into a memmove) and falls back to a strided loop per innermost row of the
 * odometer walk (walk.ts) otherwise. Index kernels validate all indices before writing anything, so
 * a bad index leaves no half-done work and the error names the op, the index and the axis size.
 */

import { type DType, fmtShape, type TypedArray, ValueError } from '@mru/core';
import { hostArray } from './pool.js';
import { coalesce, forEachRow } from './walk.js';

/** Below this many elements a loop beats `set(subarray())`, which allocates a view. */
const MIN_SET_RUN = 16;

/** Copies `n` elements from `src[si], src[si + ss], ...` to `dst[di], dst[di + ds], ...`. */
function copyRun(
  dst: TypedArray,
  di: number,
  ds: number,
  src: TypedArray,
  si: number,
  ss: number,
  n: number,
): void {
  if (ds === 1 && ss === 1 && n >= MIN_SET_RUN) {
    dst.set(src.subarray(si, si + n), di);
    return;
  }
  for (let i = 0; i < n; i++, di += ds, si += ss) dst[di] = src[si];
}

/**
 * `out[i...] = x[offset + sum_d i_d * strides[d]]` for every index of `shape` (see `Backend.strided`).
 * Checks that the largest address is inside `x`, so a wrong view fails loudly instead of reading
 * `undefined` (which a typed array would store as NaN or 0).
 */
export function stridedKernel(
  x: TypedArray,
  dtype: DType,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): TypedArray {
  let size = 1;
  let last = offset;
  for (let d = 0; d < shape.length; d++) {
    size *= shape[d];
    if (strides[d] < 0 || !Number.isInteger(strides[d])) {
      throw new ValueError(
        'strided',
        `stride ${strides[d]} of dimension ${d} must be a non-negative integer`,
      );
    }
    last += (shape[d] - 1) * strides[d];
  }
  // Every element is written below (or nothing, on a throw), so a reused array needs no zeroing.
  const out = hostArray(dtype, size, false);
  if (size === 0) return out;
  if (offset < 0 || !Number.isInteger(offset) || last >= x.length) {
    throw new ValueError(
      'strided',
      `view of shape ${fmtShape(shape)}, strides ${fmtShape(strides)} and offset ${offset} reads ` +
        `outside a buffer of ${x.length} elements`,
    );
  }
  const outStrides = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    outStrides[d] = acc;
    acc *= shape[d];
  }
  const layout = coalesce(shape, [outStrides, strides]);
  const inner = layout.shape.length - 1;
  const n = layout.shape[inner];
  const xs = layout.strides[1][inner];
  // Permutes use the plain row walk: tiled transposes measured no faster in V8 (the strided input
  // stream prefetches well, and power-of-two strides make tiles alias in L1).
  if (xs === 0) {
    // A broadcast along the last axis. `fill` costs a call per row, more than a short row of stores
    // (a reduction's gradient spread over 16 features: 64,000 rows of 16).
    if (n >= 64) forEachRow(layout, [0, offset], (o, xi) => out.fill(x[xi], o, o + n));
    else if (layout.shape.length === 2 && layout.strides[0][0] === n) {
      // Rows of the output, one value each: a plain double loop, no callback per row.
      const rows = layout.shape[0];
      const step = layout.strides[1][0];
      for (let r = 0, o = 0, xi = offset; r < rows; r++, xi += step) {
        const v = x[xi];
        for (const e = o + n; o < e; o++) out[o] = v;
      }
    } else {
      forEachRow(layout, [0, offset], (o, xi) => {
        const v = x[xi];
        for (const e = o + n; o < e; o++) out[o] = v;
      });
    }
  } else {
    forEachRow(layout, [0, offset], (o, xi) => copyRun(out, o, 1, x, xi, xs, n));
  }
  return out;
}

/** Pads `x` of `shape` with `value` (cast to `dtype` by the typed array store). */
export function padKernel(
  x: TypedArray,
  dtype: DType,
  shape: readonly number[],
  widths: readonly (readonly [number, number])[],
  value: number,
): TypedArray {
  const rank = shape.length;
  if (widths.length !== rank) {
    throw new ValueError('pad', `got ${widths.length} widths for a tensor of rank ${rank}`);
  }
  const outShape = shape.map((d, i) => {
    const [before, after] = widths[i];
    if (!(Number.isInteger(before) && Number.isInteger(after) && before >= 0 && after >= 0)) {
      throw new ValueError(
        'pad',
        `widths [${before}, ${after}] of dimension ${i} must be non-negative integers`,
      );
    }
    return d + before + after;
  });
  let outSize = 1;
  for (const d of outShape) outSize *= d;
  const out = hostArray(dtype, outSize, false);
  if (outSize === 0) return out;
  // bool stores `value != 0`, matching cast; the typed array store handles int32 and float32.
  out.fill(dtype === 'bool' ? (value !== 0 ? 1 : 0) : value);
  if (x.length === 0) return out;
  const outStrides = new Array<number>(rank);
  const xStrides = new Array<number>(rank);
  let base = 0;
  for (let d = rank - 1, oa = 1, xa = 1; d >= 0; d--) {
    outStrides[d] = oa;
    xStrides[d] = xa;
    base += widths[d][0] * oa;
    oa *= outShape[d];
    xa *= shape[d];
  }
  const layout = coalesce(shape, [outStrides, xStrides]);
  const inner = layout.shape.length - 1;
  const n = layout.shape[inner];
  const os = layout.strides[0][inner];
  const xs = layout.strides[1][inner];
  forEachRow(layout, [base, 0], (o, xi) => copyRun(out, o, os, x, xi, xs, n));
  return out;
}

/** Concatenates contiguous `xs` (with `shapes`) along `axis`; all share `dtype`. */
export function concatKernel(
  xs: readonly TypedArray[],
  shapes: readonly (readonly number[])[],
  dtype: DType,
  axis: number,
): TypedArray {
  const first = shapes[0];
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= first[d];
  let inner = 1;
  for (let d = axis + 1; d < first.length; d++) inner *= first[d];
  let total = 0;
  for (const s of shapes) total += s[axis];
  const out = hostArray(dtype, outer * total * inner, false);
  if (out.length === 0) return out;
  const outRow = total * inner;
  let col = 0;
  for (let q = 0; q < xs.length; q++) {
    const run = shapes[q][axis] * inner;
    const x = xs[q];
    if (run > 0) {
      for (let o = 0; o < outer; o++) copyRun(out, o * outRow + col, 1, x, o * run, 1, run);
    }
    col += run;
  }
  return out;
}

/** Throws a `ValueError` naming `op` for the first index outside `[0, size)`. */
function checkIndices(op: string, indices: Int32Array, size: number, axis: number): void {
  for (let j = 0; j < indices.length; j++) {
    const v = indices[j];
    if (v < 0 || v >= size) {
      throw new ValueError(
        op,
        `index ${v} (at flat position ${j}) is out of range for axis ${axis} of size ${size}`,
      );
    }
  }
}

/** `out[pre, j, post] = x[pre, indices[j], post]` (see `Backend.gather`); indices are flattened. */
export function gatherKernel(
  x: TypedArray,
  dtype: DType,
  shape: readonly number[],
  indices: Int32Array,
  axis: number,
): TypedArray {
  let pre = 1;
  for (let d = 0; d < axis; d++) pre *= shape[d];
  let post = 1;
  for (let d = axis + 1; d < shape.length; d++) post *= shape[d];
  const size = shape[axis];
  const nIdx = indices.length;
  const out = hostArray(dtype, pre * nIdx * post, false);
  if (out.length === 0) return out;
  checkIndices('gather', indices, size, axis);
  if (post === 1) {
    for (let p = 0, o = 0; p < pre; p++) {
      const base = p * size;
      for (let j = 0; j < nIdx; j++, o++) out[o] = x[base + indices[j]];
    }
  } else {
    for (let p = 0, o = 0; p < pre; p++) {
      const base = p * size;
      for (let j = 0; j < nIdx; j++, o += post) copyRun(out, o, 1, x, (base + indices[j]) * post, 1, post);
    }
  }
  return out;
}

/**
 * The adjoint of `gather`: zeros of `[pre, size, post]` into which `updates[pre, j, post]` is added
 * at `[pre, indices[j], post]`. Repeated indices accumulate in a float64 buffer, so the result does
 * not depend on how many updates hit one row (one rounding per output).
 */
export function scatterAddKernel(
  updates: Float32Array,
  updatesShape: readonly number[],
  indices: Int32Array,
  indicesRank: number,
  axis: number,
  size: number,
): Float32Array {
  let pre = 1;
  for (let d = 0; d < axis; d++) pre *= updatesShape[d];
  let post = 1;
  for (let d = axis + indicesRank; d < updatesShape.length; d++) post *= updatesShape[d];
  const nIdx = indices.length;
  const out = hostArray('float32', pre * size * post) as Float32Array;
  if (out.length === 0 || nIdx === 0) return out;
  checkIndices('scatterAdd', indices, size, axis);
  const acc = new Float64Array(out.length);
  for (let p = 0, u = 0; p < pre; p++) {
    const base = p * size;
    for (let j = 0; j < nIdx; j++) {
      let o = (base + indices[j]) * post;
      for (const e = u + post; u < e; u++, o++) acc[o] += updates[u];
    }
  }
  out.set(acc);
  return out;
}
