/**
 * Reductions over axes, with `keepDims`. `sum`, `max`, `min` and the arg-reductions are primitives;
 * `mean`, `logsumexp` and `variance` are composites. The VJP of `max`/`min` splits the cotangent
 * equally between tied maxima, so it is a valid subgradient and matches finite differences away from
 * ties.
 */
import type { ReduceOp } from '../backend.js';
import { record, tidy as scoped } from '../engine.js';
import { fmtShape, ShapeError } from '../errors.js';
import { normAxes, normAxis, stridesOf as stridesOfShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { abs, add, div, equal, exp, log, lt, mul, square, sub, where } from './elementwise.js';
import { broadcastTo, cast, reshape } from './movement.js';
import { backendOf, checkDType, wrap } from './util.js';
import { checkAxesArg, checkAxisArg } from './validate.js';

/**
 * Axes to reduce: one axis, a list, or all when omitted.
 *
 * @category Reduction
 */
export type Axes = number | readonly number[];

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceOp(op: ReduceOp, x: Tensor, axesIn: Axes | undefined, keepDims: boolean): Tensor {
  return scoped(() => {
    const be = backendOf(op, x);
    checkAxesArg(op, axesIn);
    checkDType(op, op === 'sum' ? ['float32', 'int32', 'bool'] : ['float32', 'int32'], x);
    const axes = normAxes(op, axesIn, x.rank);
    if (op !== 'sum' && axes.some((a) => x.shape[a] === 0)) {
      throw new ShapeError(
        op,
        `cannot take the ${op} over a zero-size axis of ${x.dtype}${fmtShape(x.shape)}`,
      );
    }
    // No axes (a rank-0 input, or an empty list): the identity, whose reshape already records its VJP.
    if (axes.length === 0) return op === 'sum' && x.dtype === 'bool' ? cast(x, 'int32') : reshape(x, x.shape);
    const outShape = x.shape.filter((_, i) => !axes.includes(i));
    const dtype = x.dtype === 'float32' ? 'float32' : 'int32';
    let y = wrap(be, be.reduce(op, x, axes), outShape, dtype);
    if (keepDims) y = reshape(y, keptShape(x.shape, axes));
    if (x.dtype === 'float32') {
      const kept = keptShape(x.shape, axes);
      record(op, [x], [y], ([g]) => {
        const gb = broadcastTo(reshape(g as Tensor, kept), x.shape);
        if (op === 'sum') return [gb];
        const mask = cast(equal(x, broadcastTo(reshape(y, kept), x.shape)), 'float32');
        const count = sum(mask, axes, true);
        return [div(mul(gb, mask), count)];
      });
    }
    return y;
  });
}

/**
 * Sum over `axes` (default all). bool and int32 sum to int32.
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export const sum = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('sum', x, axes, keepDims);
/**
 * Maximum over `axes` (default all).
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export const max = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('max', x, axes, keepDims);
/**
 * Minimum over `axes` (default all).
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export const min = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('min', x, axes, keepDims);

/**
 * Mean over `axes` (default all), float32.
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export function mean(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return scoped(() => {
    checkDType('mean', ['float32'], x);
    checkAxesArg('mean', axes);
    const ax = normAxes('mean', axes, x.rank);
    const n = ax.reduce((p, a) => p * x.shape[a], 1);
    return div(sum(x, ax, keepDims), n);
  });
}

/**
 * Population variance over `axes` (default all): `mean((x - mean(x))^2)`.
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export function variance(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return scoped(() => {
    checkDType('variance', ['float32'], x);
    checkAxesArg('variance', axes);
    const m = mean(x, axes, true);
    return mean(square(sub(x, m)), axes, keepDims);
  });
}

/**
 * `log(sum(exp(x)))` over `axes`, computed stably by shifting by the maximum.
 *
 * @param x - The input tensor.
 * @param axes - The axis or axes to reduce (negative counts from the end); all axes when omitted.
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export function logsumexp(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return scoped(() => {
    checkDType('logsumexp', ['float32'], x);
    checkAxesArg('logsumexp', axes);
    const ax = normAxes('logsumexp', axes, x.rank);
    // The shift is a constant for the gradient, which is exactly softmax either way.
    const m = maxNoGrad(x, ax);
    // An infinite maximum cannot be subtracted (inf - inf is NaN): shift by 0 there instead.
    const safe = where(lt(abs(m), Number.POSITIVE_INFINITY), m, 0);
    const s = add(log(sum(exp(sub(x, safe)), ax, true)), safe);
    return keepDims
      ? s
      : reshape(
          s,
          x.shape.filter((_, i) => !ax.includes(i)),
        );
  });
}

function maxNoGrad(x: Tensor, axes: number[]): Tensor {
  const be = backendOf('logsumexp', x);
  if (axes.length === 0)
    return wrap(be, be.strided(x, x.shape, stridesOfShape(x.shape), 0), x.shape, 'float32');
  return wrap(be, be.reduce('max', x, axes), keptShape(x.shape, axes), 'float32');
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean): Tensor {
  return scoped(() => {
    const be = backendOf(op, x);
    checkDType(op, ['float32', 'int32'], x);
    checkAxisArg(op, axis);
    const ax = normAxis(op, axis, x.rank);
    if (x.shape[ax] === 0) throw new ShapeError(op, `zero-size axis ${ax} of ${x.dtype}${fmtShape(x.shape)}`);
    const out = wrap(
      be,
      be.argReduce(op, x, ax),
      x.shape.filter((_, i) => i !== ax),
      'int32',
    );
    return keepDims ? reshape(out, keptShape(x.shape, [ax])) : out;
  });
}

/**
 * Index of the maximum along `axis` (int32; first on ties).
 *
 * @param x - The input tensor.
 * @param axis - The axis to search (negative counts from the end; default the last).
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export const argmax = (x: Tensor, axis = -1, keepDims = false): Tensor =>
  argReduce('argmax', x, axis, keepDims);
/**
 * Index of the minimum along `axis` (int32; first on ties).
 *
 * @param x - The input tensor.
 * @param axis - The axis to search (negative counts from the end; default the last).
 * @param keepDims - Keep the reduced axes with size 1, so the result broadcasts against `x`.
 * @category Reduction
 */
export const argmin = (x: Tensor, axis = -1, keepDims = false): Tensor =>
  argReduce('argmin', x, axis, keepDims);
