/**
 * Creating tensors: from JS arrays or typed arrays, constant fills, ranges, identity, and random
 * draws from the counter-based generator. Random ops take the next block of the global stream (see
 * `seed`) unless an explicit `seed` is given, in which case the draw is a pure function of it.
 */
import type { Backend } from '../backend.js';
import { allocHost, type DType, dtypeOfArray, type TypedArray } from '../dtype.js';
import { assertLive, getBackend, nextRandom, tidy as scoped, seedToKey } from '../engine.js';
import { DTypeError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { checkShape, sizeOf } from '../shape.js';
import type { NestedArray, Tensor } from '../tensor.js';
import { add, floor, minimum, mul } from './elementwise.js';
import { cast } from './movement.js';
import { wrap } from './util.js';
import {
  checkBackendArg,
  checkDTypeArg,
  checkFiniteArg,
  checkNumberArg,
  checkOptionsArg,
  checkShapeArg,
  checkSize,
  describeValue,
} from './validate.js';

/** Checks a creation function's options (dtype name, backend) before anything is made. */
function checkCreateOptions(op: string, options: unknown): void {
  checkOptionsArg(op, options);
  const o = (options ?? {}) as CreateOptions;
  checkDTypeArg(op, o.dtype);
  if (o.backend !== undefined) checkBackendArg(op, o.backend);
}

/**
 * Options shared by creation functions.
 *
 * @category Creation
 */
export interface CreateOptions {
  /** Element type; default float32 (or the typed array's own type). */
  readonly dtype?: DType;
  /** Backend to create on; default the current one. */
  readonly backend?: Backend;
}

function inferShape(x: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
    if (cur === undefined) break;
  }
  return shape;
}

function flattenInto(x: NestedArray, shape: number[], dim: number, out: number[]): void {
  if (dim === shape.length) {
    if (Array.isArray(x)) throw new ShapeError('tensor', 'ragged nested array');
    // A string, object or null leaf would otherwise become a silent NaN or 0.
    if (typeof x !== 'number' && typeof x !== 'boolean') {
      throw new DTypeError('tensor', `values must be numbers or booleans, got ${describeValue(x)}`);
    }
    out.push(typeof x === 'boolean' ? (x ? 1 : 0) : x);
    return;
  }
  if (!Array.isArray(x) || x.length !== shape[dim]) throw new ShapeError('tensor', 'ragged nested array');
  for (const v of x) flattenInto(v, shape, dim + 1, out);
}

/**
 * A tensor from a number, a nested array, or a typed array with an explicit `shape`.
 *
 * ```ts
 * tensor([[1, 2], [3, 4]]);                                 // float32 [2,2]
 * tensor(new Int32Array([1, 2, 3]), { shape: [3] });       // int32 [3]
 * ```
 *
 * @param values - A number, a nested array of numbers or booleans, or a typed array (with `options.shape`).
 * @param options - Shape, dtype and backend; inferred from `values` when omitted.
 * @category Creation
 */
export function tensor(
  values: NestedArray | TypedArray,
  options: CreateOptions & { readonly shape?: readonly number[] } = {},
): Tensor {
  const op = 'tensor';
  checkCreateOptions(op, options);
  if (options.shape !== undefined) checkShapeArg(op, options.shape);
  const be = options.backend ?? getBackend();
  if (ArrayBuffer.isView(values)) {
    if (values instanceof DataView) throw new DTypeError(op, 'a DataView is not an array of values');
    // Other typed arrays (Float64Array, Uint16Array...) hold numbers: they default to float32.
    const native =
      values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array;
    const dtype = options.dtype ?? (native ? dtypeOfArray(values) : 'float32');
    const shape = options.shape ?? [values.length];
    checkShape(op, shape);
    if (sizeOf(shape) !== values.length) {
      throw new ShapeError(op, `${values.length} values do not fill shape ${fmtShape(shape)}`);
    }
    // bool data is normalised to 0/1 here, so backends may rely on it.
    const host =
      native && dtype === dtypeOfArray(values) && dtype !== 'bool' ? values.slice() : convert(values, dtype);
    return wrap(be, be.write(host, dtype), shape, dtype);
  }
  const shape = inferShape(values);
  checkSize(op, shape);
  const flat: number[] = [];
  flattenInto(values, shape, 0, flat);
  const dtype = options.dtype ?? (firstLeafIsBool(values) ? 'bool' : 'float32');
  if (options.shape && sizeOf(options.shape) !== flat.length) {
    throw new ShapeError(op, `${flat.length} values do not fill shape ${fmtShape(options.shape)}`);
  }
  if (dtype === 'int32') {
    // An Int32Array would store NaN and ±Infinity as 0 without a word.
    const bad = flat.find((v) => !Number.isFinite(v));
    if (bad !== undefined) throw new DTypeError(op, `${bad} cannot be stored in an int32 tensor`);
  }
  const host = allocHost(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) host[i] = dtype === 'bool' ? (flat[i] ? 1 : 0) : flat[i];
  return wrap(be, be.write(host, dtype), options.shape ?? shape, dtype);
}

function firstLeafIsBool(x: NestedArray): boolean {
  let cur: NestedArray = x;
  while (Array.isArray(cur)) cur = cur[0];
  return typeof cur === 'boolean';
}

function convert(values: TypedArray, dtype: DType): TypedArray {
  const out = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = dtype === 'bool' ? (values[i] ? 1 : 0) : dtype === 'int32' ? Math.trunc(values[i]) : values[i];
  }
  return out;
}

/**
 * A rank-0 tensor.
 *
 * @param value - The value (a boolean makes a bool tensor).
 * @param options - Dtype and backend.
 * @category Creation
 */
export function scalar(value: number | boolean, options: CreateOptions = {}): Tensor {
  return tensor(value, options);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @param shape - The shape of the result.
 * @param value - The value of every element.
 * @param options - Dtype (default float32) and backend.
 * @category Creation
 */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  checkShapeArg('full', shape);
  checkCreateOptions('full', options);
  if (typeof value !== 'number') {
    throw new ValueError('full', `the fill value must be a number, got ${describeValue(value)}`);
  }
  const be = options.backend ?? getBackend();
  const dtype = options.dtype ?? 'float32';
  return wrap(be, be.fill(sizeOf(shape), dtype, value), shape, dtype);
}

/**
 * Zeros of `shape`.
 *
 * @param shape - The shape of the result.
 * @param options - Dtype (default float32) and backend.
 * @category Creation
 */
export const zeros = (shape: readonly number[], options: CreateOptions = {}): Tensor =>
  full(shape, 0, options);
/**
 * Ones of `shape`.
 *
 * @param shape - The shape of the result.
 * @param options - Dtype (default float32) and backend.
 * @category Creation
 */
export const ones = (shape: readonly number[], options: CreateOptions = {}): Tensor =>
  full(shape, 1, options);
/**
 * Zeros of `x`'s shape, dtype and backend.
 *
 * @param x - The tensor whose shape, dtype and backend the result takes.
 * @category Creation
 */
export const zerosLike = (x: Tensor): Tensor => {
  assertLive('zerosLike', x);
  return full(x.shape, 0, { dtype: x.dtype, backend: x.backend });
};
/**
 * Ones of `x`'s shape, dtype and backend.
 *
 * @param x - The tensor whose shape, dtype and backend the result takes.
 * @category Creation
 */
export const onesLike = (x: Tensor): Tensor => {
  assertLive('onesLike', x);
  return full(x.shape, 1, { dtype: x.dtype, backend: x.backend });
};

/**
 * `[start, start + step, ...)` below `stop` (like `range`); default dtype int32 when all are integers.
 *
 * @param start - The first value, or the end of the range when `stop` is omitted (which then starts at 0).
 * @param stop - The end of the range, excluded.
 * @param step - The spacing between values (default 1; not 0).
 * @param options - Dtype (default int32 for integer arguments, float32 otherwise) and backend.
 * @category Creation
 */
export function arange(start: number, stop?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  checkFiniteArg('arange', start, 'start');
  checkFiniteArg('arange', stop, 'stop');
  checkCreateOptions('arange', options);
  if (step === 0 || !Number.isFinite(step))
    throw new ValueError('arange', `step must be finite and non-zero, got ${describeValue(step)}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkSize('arange', [n]);
  const dtype = options.dtype ?? ([start, stop, step].every(Number.isInteger) ? 'int32' : 'float32');
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return tensor(host, { ...options, dtype, shape: [n] });
}

/**
 * `num` evenly spaced float32 values from `start` to `stop` inclusive.
 *
 * @param start - The first value.
 * @param stop - The last value, included.
 * @param num - How many values.
 * @param options - Dtype (default float32) and backend.
 * @category Creation
 */
export function linspace(start: number, stop: number, num: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0)
    throw new ValueError('linspace', `num must be a non-negative integer, got ${describeValue(num)}`);
  checkNumberArg('linspace', start, 'start');
  checkNumberArg('linspace', stop, 'stop');
  checkCreateOptions('linspace', options);
  checkSize('linspace', [num]);
  const host = new Float32Array(num);
  for (let i = 0; i < num; i++) host[i] = num === 1 ? start : start + ((stop - start) * i) / (num - 1);
  return tensor(host, { ...options, shape: [num] });
}

/**
 * The `n x m` identity (m defaults to n).
 *
 * @param n - Number of rows.
 * @param m - Number of columns (default `n`).
 * @param options - Dtype (default float32) and backend.
 * @category Creation
 */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShapeArg('eye', [n, m], 'size');
  checkCreateOptions('eye', options);
  const dtype = options.dtype ?? 'float32';
  const host = allocHost(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) host[i * m + i] = 1;
  return tensor(host, { ...options, dtype, shape: [n, m] });
}

/**
 * Options of random creation functions.
 *
 * @category Creation
 */
export interface RandomOptions extends CreateOptions {
  /** Draw as a pure function of this seed instead of the global stream. */
  readonly seed?: number;
}

function draw(
  op: string,
  dist: 'uniform' | 'normal' | 'bits',
  shape: readonly number[],
  options: RandomOptions,
): Tensor {
  checkShapeArg(op, shape);
  checkOptionsArg(op, options);
  if (options.backend !== undefined) checkBackendArg(op, options.backend);
  const be = options.backend ?? getBackend();
  const size = sizeOf(shape);
  let key: [number, number];
  let offset: number;
  if (options.seed !== undefined) {
    if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
      throw new ValueError(op, `seed must be a non-negative safe integer, got ${options.seed}`);
    }
    key = seedToKey(options.seed);
    offset = 0;
  } else ({ key, offset } = nextRandom(Math.ceil(size / 4)));
  return wrap(be, be.random(dist, size, key, offset), shape, dist === 'bits' ? 'int32' : 'float32');
}

/**
 * Uniform float32 values in `[lo, hi)` (for `lo, hi` other than 0 and 1, float32 rounding of
 * `lo + u (hi - lo)` can reach `hi` itself).
 *
 * @param shape - The shape of the result.
 * @param lo - The lower bound, included (default 0).
 * @param hi - The upper bound, excluded (default 1).
 * @param options - A seed for this draw (otherwise the global stream of `seed`), and the backend.
 * @category Random
 */
export function rand(shape: readonly number[], lo = 0, hi = 1, options: RandomOptions = {}): Tensor {
  checkNumberArg('rand', lo, 'lo');
  checkNumberArg('rand', hi, 'hi');
  return scoped(() => {
    const u = draw('rand', 'uniform', shape, options);
    return lo === 0 && hi === 1 ? u : add(mul(u, hi - lo), lo);
  });
}

/**
 * Normal float32 values with the given mean and standard deviation.
 *
 * @param shape - The shape of the result.
 * @param mean - The mean (default 0).
 * @param std - The standard deviation (default 1).
 * @param options - A seed for this draw (otherwise the global stream of `seed`), and the backend.
 * @category Random
 */
export function randn(shape: readonly number[], mean = 0, std = 1, options: RandomOptions = {}): Tensor {
  checkNumberArg('randn', mean, 'mean');
  checkNumberArg('randn', std, 'std');
  return scoped(() => {
    const z = draw('randn', 'normal', shape, options);
    return mean === 0 && std === 1 ? z : add(mul(z, std), mean);
  });
}

/**
 * Uniform int32 values in `[lo, hi)`.
 *
 * @param shape - The shape of the result.
 * @param lo - The smallest value, included.
 * @param hi - The largest value, excluded.
 * @param options - A seed for this draw (otherwise the global stream of `seed`), and the backend.
 * @category Random
 */
export function randint(
  shape: readonly number[],
  lo: number,
  hi: number,
  options: RandomOptions = {},
): Tensor {
  return scoped(() => {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) {
      throw new ValueError('randint', `needs integers lo < hi, got [${lo}, ${hi})`);
    }
    if ((options.dtype ?? 'int32') !== 'int32') throw new DTypeError('randint', `dtype must be int32`);
    const u = draw('randint', 'uniform', shape, options);
    // float32 rounding can lift u * n to n for large n: clamp to the last value.
    return add(minimum(cast(floor(mul(u, hi - lo)), 'int32'), hi - lo - 1), lo);
  });
}

/**
 * Copies a tensor to another backend (reads it back, then uploads it).
 *
 * @param x - The tensor to move.
 * @param backend - The destination backend.
 * @category Backends
 */
export async function toBackend(x: Tensor, backend: Backend): Promise<Tensor> {
  const values = await x.data();
  return wrap(backend, backend.write(values, x.dtype), x.shape, x.dtype);
}
