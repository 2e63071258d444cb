/**
 * Neural-network composites built from primitives: softmax, log-softmax, layer and RMS
 * normalisation, and the losses. Being composites, their gradients come from the primitives' VJPs
 * and are checked by the conformance kit like everything else.
 */

import { tidy as scoped } from '../engine.js';
import { DTypeError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { normAxis, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, equal, exp, mul, neg, rsqrt, square, sub, where } from './elementwise.js';
import { fuse } from './fuse.js';
import { oneHot } from './movement.js';
import { logsumexp, mean, sum } from './reduce.js';
import { checkDType } from './util.js';
import { checkAxisArg, checkTensorArg, describeValue } from './validate.js';

/**
 * `exp(x) / sum(exp(x))` along `axis`.
 *
 * @param x - The logits.
 * @param axis - The axis that sums to 1 (default the last).
 * @category Neural network
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return scoped(() => {
    return exp(logSoftmax(x, axis));
  });
}

/**
 * `x - logsumexp(x)` along `axis`.
 *
 * @param x - The logits.
 * @param axis - The axis to normalise over (default the last).
 * @category Neural network
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return scoped(() => {
    checkDType('logSoftmax', ['float32'], x);
    checkAxisArg('logSoftmax', axis);
    const ax = normAxis('logSoftmax', axis, x.rank);
    return sub(x, logsumexp(x, ax, true));
  });
}

/**
 * Options of the normalisations.
 *
 * @category Neural network
 */
export interface NormOptions {
  /** Added to the variance (or mean square) before the square root; default 1e-5. */
  readonly eps?: number;
  /** Scale multiplied after normalising, broadcast against the last axis. */
  readonly weight?: Tensor;
  /** Shift added after scaling (layer norm only). */
  readonly bias?: Tensor;
}

/**
 * Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`.
 *
 * @param x - The input; normalised over its last axis.
 * @param options - Optional gain, bias and epsilon.
 * @category Neural network
 */
export function layerNorm(x: Tensor, options: NormOptions = {}): Tensor {
  return scoped(() => {
    checkDType('layerNorm', ['float32'], x);
    if (x.rank === 0) throw new ShapeError('layerNorm', 'needs rank >= 1');
    // Two reductions and two fused passes, in the order of operations of the composite
    // `(x - m) * rsqrt(variance + eps) * weight + bias`, so the values are the composite's.
    const eps = options.eps ?? 1e-5;
    const m = mean(x, -1, true);
    const v = mean(fuse((e, xx, mm) => e.square(e.sub(xx, mm)), { name: 'layerNorm' })(x, m), -1, true);
    const { weight, bias } = options;
    const extra = [...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    return fuse(
      (e, xx, mm, vv, ...wb) => {
        let y = e.mul(e.sub(xx, mm), e.div(1, e.sqrt(e.add(vv, eps))));
        if (weight) y = e.mul(y, wb[0]);
        if (bias) y = e.add(y, wb[weight ? 1 : 0]);
        return y;
      },
      { name: 'layerNorm' },
    )(x, m, v, ...extra);
  });
}

/**
 * RMS normalisation over the last axis: `x / sqrt(mean(x^2) + eps) * weight`.
 *
 * @param x - The input; normalised over its last axis.
 * @param options - Optional gain and epsilon.
 * @category Neural network
 */
export function rmsNorm(x: Tensor, options: Omit<NormOptions, 'bias'> = {}): Tensor {
  return scoped(() => {
    checkDType('rmsNorm', ['float32'], x);
    if (x.rank === 0) throw new ShapeError('rmsNorm', 'needs rank >= 1');
    const y = mul(x, rsqrt(add(mean(square(x), -1, true), options.eps ?? 1e-5)));
    return options.weight ? mul(y, options.weight) : y;
  });
}

/**
 * How a loss reduces over examples.
 *
 * @category Neural network
 */
export type Reduction = 'mean' | 'sum' | 'none';

/**
 * Cross-entropy between `logits` `[..., classes]` and int32 class `labels` `[...]` (or float32
 * probabilities of the logits' shape). Mean over examples by default.
 *
 * @param logits - Unnormalised log-probabilities, `[..., classes]`.
 * @param labels - Integer class labels (int32, shaped like `logits` without its last axis) or probabilities shaped like `logits`.
 * @param reduction - How to combine the per-example losses: `'mean'` (default), `'sum'` or `'none'`.
 * @category Neural network
 */
export function crossEntropy(logits: Tensor, labels: Tensor, reduction: Reduction = 'mean'): Tensor {
  return scoped(() => {
    const op = 'crossEntropy';
    checkDType(op, ['float32'], logits);
    checkTensorArg(op, labels, 'labels');
    checkReduction(op, reduction);
    if (logits.rank === 0) throw new ShapeError(op, 'logits need a class axis');
    const classes = logits.shape[logits.rank - 1];
    let target: Tensor;
    if (labels.dtype === 'int32') {
      if (!shapesEqual(labels.shape, logits.shape.slice(0, -1))) {
        throw new ShapeError(
          op,
          `labels ${fmtShape(labels.shape)} do not match logits ${fmtShape(logits.shape)}`,
        );
      }
      target = oneHot(labels, classes);
    } else if (labels.dtype === 'float32') {
      if (!shapesEqual(labels.shape, logits.shape)) {
        throw new ShapeError(
          op,
          `probabilities ${fmtShape(labels.shape)} do not match logits ${fmtShape(logits.shape)}`,
        );
      }
      target = labels;
    } else
      throw new DTypeError(op, `labels must be int32 classes or float32 probabilities, got ${labels.dtype}`);
    // A class masked with a logit of -inf has log-probability -inf and (normally) target 0, and
    // 0 * -inf is NaN: such terms contribute exactly 0 to the sum. A class the target does give
    // weight to still yields +inf, the true loss.
    const logp = logSoftmax(logits, -1);
    const terms = where(equal(target, 0), 0, mul(target, logp));
    const perExample = neg(sum(terms, -1));
    return reduce(perExample, reduction);
  });
}

/**
 * Mean squared error between `prediction` and `target` of one shape.
 *
 * @param prediction - The predictions.
 * @param target - The targets, of the same shape as `prediction`.
 * @param reduction - How to combine the squared errors: `'mean'` (default), `'sum'` or `'none'`.
 * @category Neural network
 */
export function mse(prediction: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return scoped(() => {
    const op = 'mse';
    checkDType(op, ['float32'], prediction, target);
    checkReduction(op, reduction);
    if (!shapesEqual(prediction.shape, target.shape)) {
      throw new ShapeError(
        op,
        `prediction ${fmtShape(prediction.shape)} and target ${fmtShape(target.shape)} differ`,
      );
    }
    return reduce(square(sub(prediction, target)), reduction);
  });
}

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** Refuses an unknown reduction before any work (it once made the loss return `undefined`). */
function checkReduction(op: string, reduction: unknown): void {
  if (!(REDUCTIONS as readonly unknown[]).includes(reduction)) {
    throw new ValueError(
      op,
      `unknown reduction ${describeValue(reduction)}; use ${REDUCTIONS.map((r) => `'${r}'`).join(', ')}`,
    );
  }
}

function reduce(x: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case 'mean':
      return mean(x);
    case 'sum':
      return sum(x);
    case 'none':
      return x;
  }
}
