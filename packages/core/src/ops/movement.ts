/**
 * Movement ops. `reshape` shares storage (no copy); `transpose`, `slice`, `broadcastTo` and
 * `expandDims`-then-broadcast are all one backend primitive, `strided`, which copies a strided view
 * into a fresh contiguous buffer. `pad`, `concat`, `take` (gather) and `cast` are primitives too.
 * Keeping tensors contiguous means every kernel of every backend reads plain row-major buffers.
 */
import { DTYPES, type DType } from '../dtype.js';
import { record, tidy as scoped, shareStorage } from '../engine.js';
import { DTypeError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { broadcastShapes, checkShape, normAxes, normAxis, shapesEqual, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, checkDType, wrap } from './util.js';
import {
  checkAxesArg,
  checkAxisArg,
  checkIntArrayArg,
  checkShapeArg,
  checkSize,
  checkTensorArg,
  checkTensorList,
  describeValue,
} from './validate.js';

/**
 * Same values, new shape of equal size; one dimension may be -1 (inferred). Shares storage.
 *
 * @param x - The input tensor.
 * @param shape - The new shape, of the same size; one entry may be -1 (inferred).
 * @category Movement
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'reshape';
  backendOf(op, x);
  checkShapeArg(op, shape, 'shape', true);
  const infer = shape.indexOf(-1);
  let target = [...shape];
  if (infer >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== infer));
    if (known === 0 || x.size % known !== 0 || shape.indexOf(-1, infer + 1) >= 0) {
      throw new ShapeError(op, `cannot reshape ${x.dtype}${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    }
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  checkShape(op, target);
  if (sizeOf(target) !== x.size) {
    throw new ShapeError(
      op,
      `cannot reshape ${x.dtype}${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
    );
  }
  const y = shareStorage(x, target);
  record(op, [x], [y], ([g]) => [reshape(g as Tensor, x.shape)]);
  return y;
}

/** Materialises a strided view of `x`. @internal */
function strided(op: string, x: Tensor, shape: number[], strides: number[], offset: number): Tensor {
  const be = backendOf(op, x);
  return wrap(be, be.strided(x, shape, strides, offset), shape, x.dtype);
}

/**
 * Permutes dimensions; default reverses them.
 *
 * @param x - The input tensor.
 * @param perm - The order of the axes (default: reversed).
 * @category Movement
 */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const op = 'transpose';
  backendOf(op, x);
  checkIntArrayArg(op, perm, 'the permutation', true);
  const p = perm ? perm.map((a) => normAxis(op, a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new ShapeError(op, `permutation [${perm?.join(',')}] does not fit ${x.dtype}${fmtShape(x.shape)}`);
  }
  if (p.every((a, i) => a === i)) return reshape(x, x.shape);
  const s = stridesOf(x.shape);
  const y = strided(
    op,
    x,
    p.map((a) => x.shape[a]),
    p.map((a) => s[a]),
    0,
  );
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => {
    inv[a] = i;
  });
  record(op, [x], [y], ([g]) => [transpose(g as Tensor, inv)]);
  return y;
}

/**
 * Swaps the last two dimensions (matrix transpose of a batch).
 *
 * @param x - The input, of rank 2 or more.
 * @category Movement
 */
export function mT(x: Tensor): Tensor {
  checkTensorArg('mT', x);
  if (x.rank < 2) throw new ShapeError('mT', `needs rank >= 2, got ${x.dtype}${fmtShape(x.shape)}`);
  const p = x.shape.map((_, i) => i);
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return transpose(x, p);
}

/**
 * Inserts a dimension of size 1 at `axis` (may be negative, counted on the result's rank).
 *
 * @param x - The input tensor.
 * @param axis - Where the new axis goes (negative counts from the end of the result).
 * @category Movement
 */
export function expandDims(x: Tensor, axis: number): Tensor {
  checkTensorArg('expandDims', x);
  checkAxisArg('expandDims', axis);
  const ax = normAxis('expandDims', axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(ax, 0, 1);
  return reshape(x, shape);
}

/**
 * Removes dimensions of size 1: the given `axes`, or all of them.
 *
 * @param x - The input tensor.
 * @param axes - The size-1 axes to remove (default: all of them).
 * @category Movement
 */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const op = 'squeeze';
  checkTensorArg(op, x);
  checkAxesArg(op, axes);
  const ax =
    axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes(op, axes, x.rank);
  for (const a of ax) {
    if (x.shape[a] !== 1)
      throw new ShapeError(op, `axis ${a} of ${x.dtype}${fmtShape(x.shape)} is not of size 1`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !ax.includes(i)),
  );
}

/**
 * Sums a cotangent of the broadcast shape back to an operand's `shape`: the adjoint of `broadcastTo`.
 * It lives here, on the reduce primitive, rather than on `sum` in reduce.ts, because every
 * broadcasting VJP (elementwise, fuse, linalg, scan) needs it and reduce.ts needs elementwise: going
 * through `sum` made elementwise, movement, reduce and fuse one import cycle. Its own VJP is
 * `broadcastTo`, so it stays differentiable where a forward pass uses it. @internal
 */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const op = 'unbroadcast';
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return reshape(g, shape);
  const be = backendOf(op, g);
  // The kept axes are in order and row-major, so the reduced buffer already is the target shape.
  const y = wrap(be, be.reduce('sum', g, axes), [...shape], g.dtype === 'float32' ? 'float32' : 'int32');
  record(op, [g], [y], ([c]) => [broadcastTo(c as Tensor, g.shape)]);
  return y;
}

/**
 * Broadcasts `x` to `shape` (NumPy rules); materialises a copy.
 *
 * @param x - The input tensor.
 * @param shape - The target shape, which `x` must broadcast to.
 * @category Movement
 */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'broadcastTo';
  backendOf(op, x);
  checkShapeArg(op, shape);
  const full = broadcastShapes(op, x.shape, shape);
  if (!shapesEqual(full, shape)) {
    throw new ShapeError(op, `cannot broadcast ${x.dtype}${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  if (shapesEqual(x.shape, shape)) return reshape(x, shape);
  const own = stridesOf(x.shape);
  const lead = shape.length - x.rank;
  const strides = shape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : own[i - lead]));
  const y = strided(op, x, [...shape], strides, 0);
  record(op, [x], [y], ([g]) => [unbroadcast(g as Tensor, x.shape)]);
  return y;
}

/**
 * `x[begin[0]:end[0]:step[0], ...]` for the leading `begin.length` dimensions (the rest are whole).
 * Negative indices count from the end; ends clamp to the dimension; steps are positive.
 *
 * @param x - The input tensor.
 * @param begin - The start index per axis (negative counts from the end).
 * @param end - The end index per axis, excluded (null or omitted: to the end).
 * @param step - The step per axis (default 1; negative walks backwards).
 * @category Movement
 */
export function slice(
  x: Tensor,
  begin: readonly number[],
  end?: readonly (number | null)[],
  step?: readonly number[],
): Tensor {
  const op = 'slice';
  backendOf(op, x);
  // `slice(x, 1)` once read as "no bounds" and returned x whole: bounds are arrays or nothing.
  checkIntArrayArg(op, begin, 'begin');
  if (end !== undefined && (!Array.isArray(end) || !end.every((e) => e === null || Number.isInteger(e)))) {
    throw new ValueError(op, `end must be an array of integers or nulls, got ${describeValue(end)}`);
  }
  checkIntArrayArg(op, step, 'step', true);
  if (begin.length > x.rank || (end && end.length > x.rank) || (step && step.length > x.rank)) {
    throw new ShapeError(op, `more slice bounds than dimensions of ${x.dtype}${fmtShape(x.shape)}`);
  }
  const own = stridesOf(x.shape);
  const starts: number[] = [];
  const sizes: number[] = [];
  const steps: number[] = [];
  let offset = 0;
  for (let d = 0; d < x.rank; d++) {
    const n = x.shape[d];
    const st = step?.[d] ?? 1;
    if (!Number.isInteger(st) || st < 1) throw new ValueError(op, `step ${st} must be a positive integer`);
    let b = begin[d] ?? 0;
    let e = end?.[d] ?? n;
    if (!Number.isInteger(b) || !Number.isInteger(e)) throw new ValueError(op, `bounds must be integers`);
    if (b < 0) b += n;
    if (e < 0) e += n;
    b = Math.min(Math.max(b, 0), n);
    e = Math.min(Math.max(e, b), n);
    const size = Math.ceil((e - b) / st);
    starts.push(b);
    sizes.push(size);
    steps.push(st);
    if (size > 0) offset += b * own[d];
  }
  if (sizes.some((s) => s === 0)) offset = 0;
  if (shapesEqual(sizes, x.shape)) return reshape(x, x.shape);
  const y = strided(
    op,
    x,
    sizes,
    own.map((s, d) => s * steps[d]),
    offset,
  );
  record(op, [x], [y], ([g]) => [unslice(g as Tensor, x.shape, starts, steps)]);
  return y;
}

/** Adjoint of `slice`: places `g` back at its positions in zeros of `shape`. */
function unslice(g: Tensor, shape: readonly number[], starts: number[], steps: number[]): Tensor {
  let y = g;
  for (let d = 0; d < shape.length; d++) {
    const s = steps[d];
    const n = y.shape[d];
    if (s > 1 && n > 0) {
      // Interleave s-1 zeros after each element along d, then trim the tail.
      const ex = expandDims(y, d + 1);
      const z = pad(ex, ex.shape.map((_, i) => (i === d + 1 ? [0, s - 1] : [0, 0])) as [number, number][], 0);
      const merged = [...y.shape];
      merged[d] = n * s;
      y = slice(
        reshape(z, merged),
        [],
        merged.map((m, i) => (i === d ? (n - 1) * s + 1 : m)),
      );
    }
  }
  const widths = shape.map((dim, d) => {
    const before = y.shape[d] === 0 ? 0 : starts[d];
    return [before, dim - before - y.shape[d]] as [number, number];
  });
  return pad(y, widths, 0);
}

/**
 * Constant padding: `widths[d] = [before, after]` for each dimension.
 *
 * @param x - The input tensor.
 * @param widths - Per axis, how many elements to add `[before, after]`.
 * @param value - The value of the added elements (default 0).
 * @category Movement
 */
export function pad(x: Tensor, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  const op = 'pad';
  const be = backendOf(op, x);
  if (!Array.isArray(widths) || !widths.every((w) => Array.isArray(w) && w.length === 2)) {
    throw new ValueError(
      op,
      `widths must be an array of [before, after] pairs, got ${describeValue(widths)}`,
    );
  }
  if (typeof value !== 'number')
    throw new ValueError(op, `value must be a number, got ${describeValue(value)}`);
  if (widths.length !== x.rank) {
    throw new ShapeError(op, `${widths.length} pad widths for ${x.dtype}${fmtShape(x.shape)}`);
  }
  for (const [a, b] of widths) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0) {
      throw new ValueError(op, `pad widths must be non-negative integers, got [${a},${b}]`);
    }
  }
  const shape = x.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  checkSize(op, shape);
  const y = wrap(be, be.pad(x, widths, value), shape, x.dtype);
  record(op, [x], [y], ([g]) => [
    slice(
      g as Tensor,
      widths.map((w) => w[0]),
      widths.map((w, i) => w[0] + x.shape[i]),
    ),
  ]);
  return y;
}

/**
 * Joins tensors of one dtype along an existing `axis`; other dimensions must agree.
 *
 * @param xs - The tensors to join, equal in every axis but `axis`.
 * @param axis - The axis to join along (default 0).
 * @category Movement
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const op = 'concat';
  checkTensorList(op, xs);
  checkAxisArg(op, axis);
  const be = backendOf(op, ...xs);
  const first = xs[0];
  const ax = normAxis(op, axis, first.rank);
  for (const x of xs) {
    if (x.dtype !== first.dtype) {
      throw new DTypeError(op, `dtypes differ: ${xs.map((t) => t.dtype + fmtShape(t.shape)).join(', ')}`);
    }
    if (x.rank !== first.rank || x.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(
        op,
        `shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} do not agree off axis ${ax}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  checkSize(op, shape);
  const y = xs.length === 1 ? reshape(first, first.shape) : wrap(be, be.concat(xs, ax), shape, first.dtype);
  if (xs.length > 1) {
    record(op, xs, [y], ([g]) => {
      let at = 0;
      return xs.map((x) => {
        const begin = x.shape.map((_, i) => (i === ax ? at : 0));
        const end = x.shape.map((d, i) => (i === ax ? at + d : d));
        at += x.shape[ax];
        return slice(g as Tensor, begin, end);
      });
    });
  }
  return y;
}

/**
 * Stacks tensors of one shape along a new `axis`.
 *
 * @param xs - The tensors to stack, all of one shape.
 * @param axis - Where the new axis goes (default 0).
 * @category Movement
 */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return scoped(() => {
    checkTensorList('stack', xs);
    checkAxisArg('stack', axis);
    const ax = normAxis('stack', axis, xs[0].rank + 1);
    for (const x of xs) {
      if (!shapesEqual(x.shape, xs[0].shape)) {
        throw new ShapeError('stack', `shapes differ: ${xs.map((t) => fmtShape(t.shape)).join(', ')}`);
      }
    }
    return concat(
      xs.map((x) => expandDims(x, ax)),
      ax,
    );
  });
}

/**
 * Splits `x` along `axis` into pieces of the given sizes (summing to the dimension).
 *
 * @param x - The input tensor.
 * @param sizes - The size of each part along `axis`; they add up to the size of that axis.
 * @param axis - The axis to split (default 0).
 * @category Movement
 */
export function split(x: Tensor, sizes: readonly number[], axis = 0): Tensor[] {
  checkTensorArg('split', x);
  checkAxisArg('split', axis);
  if (!Array.isArray(sizes)) {
    throw new ValueError('split', `sizes must be an array of piece sizes, got ${describeValue(sizes)}`);
  }
  const ax = normAxis('split', axis, x.rank);
  if (sizes.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new ValueError('split', `sizes [${sizes.join(',')}] must be non-negative integers`);
  }
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[ax]) {
    throw new ShapeError(
      'split',
      `sizes [${sizes.join(',')}] do not sum to axis ${ax} of ${fmtShape(x.shape)}`,
    );
  }
  let at = 0;
  return sizes.map((s) => {
    const begin = x.shape.map((_, i) => (i === ax ? at : 0));
    const end = x.shape.map((d, i) => (i === ax ? at + s : d));
    at += s;
    return slice(x, begin, end);
  });
}

/**
 * Gathers slices of `x` along `axis` at int32 `indices` (any shape): the result has shape
 * `x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:]`. Its VJP is a scatter-add.
 *
 * @param x - The input tensor.
 * @param indices - int32 indices into `axis` (negative counts from the end).
 * @param axis - The axis to index (default 0).
 * @category Movement
 */
export function take(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const op = 'take';
  const be = backendOf(op, x, indices);
  checkDType(op, ['int32'], indices);
  checkAxisArg(op, axis);
  if (x.rank === 0) throw new ShapeError(op, `cannot index a rank-0 tensor`);
  const ax = normAxis(op, axis, x.rank);
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  checkSize(op, shape);
  const y = wrap(be, be.gather(x, indices, ax), shape, x.dtype);
  if (x.dtype === 'float32') {
    record(op, [x, indices], [y], ([g]) => [
      wrap(be, be.scatterAdd(g as Tensor, indices, ax, x.shape[ax]), x.shape, 'float32'),
      null,
    ]);
  }
  return y;
}

/**
 * One-hot encoding of int32 `indices` as float32 with a new last dimension of size `depth`.
 *
 * @param indices - int32 class indices.
 * @param depth - The number of classes (the size of the new last axis).
 * @category Movement
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  return scoped(() => {
    const op = 'oneHot';
    const be = backendOf(op, indices);
    checkDType(op, ['int32'], indices);
    if (!Number.isInteger(depth) || depth < 1)
      throw new ValueError(op, `depth must be a positive integer, got ${describeValue(depth)}`);
    // Both the result and the depth x depth identity it gathers from must fit.
    checkSize(op, [...indices.shape, depth]);
    checkSize(op, [depth, depth]);
    const eye = wrap(be, be.write(identity(depth), 'float32'), [depth, depth], 'float32');
    return take(eye, indices, 0);
  });
}

function identity(n: number): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = 1;
  return a;
}

/**
 * Converts to `dtype` (float to int truncates; to bool is `!= 0`). Gradient flows float to float.
 *
 * @param x - The input tensor.
 * @param dtype - The dtype of the result.
 * @category Movement
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  const op = 'cast';
  const be = backendOf(op, x);
  if (!DTYPES.includes(dtype)) {
    throw new DTypeError(
      op,
      `unknown dtype ${describeValue(dtype)} for ${x.dtype}${fmtShape(x.shape)}; use ${DTYPES.join(', ')}`,
    );
  }
  if (x.dtype === dtype) return reshape(x, x.shape);
  return wrap(be, be.cast(x, dtype), x.shape, dtype);
}

/**
 * Flattens dimensions `start..end` (inclusive) into one.
 *
 * @param x - The input tensor.
 * @param start - The first axis to merge (default 0).
 * @param end - The last axis to merge, included (default the last).
 * @category Movement
 */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  checkTensorArg('flatten', x);
  checkAxisArg('flatten', start, 'start');
  checkAxisArg('flatten', end, 'end');
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', start, x.rank);
  const e = normAxis('flatten', end, x.rank);
  // start > end once inserted a dimension of size 1 instead of flattening anything.
  if (s > e) {
    throw new ValueError(
      'flatten',
      `start axis ${start} comes after end axis ${end} for ${x.dtype}${fmtShape(x.shape)}`,
    );
  }
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}
