/**
 * The training objective, written once: the task loss of network outputs (MSE, or cross-entropy with
 * an optional mask of the counted steps) and the switch penalty on the memory cells' switching rate.
 * `Network.loss` and `trainStep` both build their objective from these two functions.
 */
import { add, crossEntropy, div, maximum, mse, mul, square, sum, type Tensor, ValueError } from '@mru/core';

/** The loss of a batch, named as `@mru/datasets` batches name it. */
export type BatchLossKind = 'mse' | 'cross-entropy';

/**
 * The task loss of outputs against targets.
 *
 * - `'mse'`: mean squared error, `output` and float `target` of one shape.
 * - `'cross-entropy'`: mean cross-entropy of logits `[..., classes]` against int32 classes `[...]`;
 *   with `mask` (1 where a step counts, 0 where not, the targets' shape) the mean is over the counted
 *   steps only (at least one, so an all-zero mask gives 0, not NaN).
 *
 * @param output - Network outputs.
 * @param target - Targets.
 * @param kind - Which loss.
 * @param mask - Optional mask of counted steps (cross-entropy only).
 * @returns A scalar loss.
 * @throws ValueError for an unknown kind or a mask on an MSE loss.
 */
export function outputLoss(
  output: Tensor,
  target: Tensor,
  kind: BatchLossKind,
  mask?: Tensor | null,
): Tensor {
  switch (kind) {
    case 'mse':
      if (mask) throw new ValueError('outputLoss', 'a mask applies to the cross-entropy loss only');
      return mse(output, target);
    case 'cross-entropy': {
      if (!mask) return crossEntropy(output, target);
      const perStep = crossEntropy(output, target, 'none');
      return div(sum(mul(perStep, mask)), maximum(sum(mask), 1));
    }
    default:
      throw new ValueError('outputLoss', `unknown loss '${String(kind)}' (known: mse, cross-entropy)`);
  }
}

/**
 * `loss + coefficient * switchRate^2`: the L2 penalty on the mean switching rate of the memory cells
 * (MODELS.md), or `loss` itself when the coefficient is 0 or the network has no memory cell.
 *
 * @param loss - The task loss.
 * @param switchRate - The network's mean switching rate (`applyWithStats`), or null.
 * @param coefficient - The penalty coefficient (>= 0).
 * @returns The penalised loss.
 */
export function addSwitchPenalty(loss: Tensor, switchRate: Tensor | null, coefficient: number): Tensor {
  if (!(coefficient >= 0))
    throw new ValueError('addSwitchPenalty', `coefficient must be >= 0, got ${coefficient}`);
  return coefficient > 0 && switchRate ? add(loss, mul(square(switchRate), coefficient)) : loss;
}
