/**
 * Losses and metrics of predictions against a batch, in float64 on plain arrays.
 *
 * They are the reference the training loop's tensor losses can be checked against, and the numbers
 * an evaluation reports. Cross-entropy uses a max-shifted log-sum-exp so large logits stay finite.
 */

import { ArgumentError } from './errors.js';
import type { Batch, ClassificationBatch, Metrics, RegressionBatch } from './types.js';

/**
 * The shape predictions must have for a batch: `[batch, outputs]` for readout `'last'`,
 * `[batch, time, classes]` for readout `'every'`.
 *
 * @param batch - Any batch.
 * @returns The expected prediction shape.
 */
export function predictionShape(batch: Batch): number[] {
  if (batch.loss === 'mse') return [batch.targetShape[0], batch.targetShape[1]];
  const [size, time] = batch.inputShape;
  return batch.readout === 'every' ? [size, time, batch.classes] : [size, batch.classes];
}

function checkLength(predictions: ArrayLike<number>, shape: number[]): void {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (predictions.length !== expected) {
    throw new ArgumentError(
      `metrics: predictions must have shape [${shape.join(', ')}] (${expected} values), got ${predictions.length} values`,
    );
  }
}

function regressionMetrics(predictions: ArrayLike<number>, batch: RegressionBatch): Metrics {
  checkLength(predictions, predictionShape(batch));
  const targets = batch.targets;
  let sum = 0;
  for (let i = 0; i < targets.length; i++) {
    const d = predictions[i] - targets[i];
    sum += d * d;
  }
  const count = targets.length;
  const mse = count === 0 ? 0 : sum / count;
  return { loss: mse, mse, count, sequences: batch.targetShape[0] };
}

function classificationMetrics(predictions: ArrayLike<number>, batch: ClassificationBatch): Metrics {
  checkLength(predictions, predictionShape(batch));
  const classes = batch.classes;
  const sequences = batch.targetShape[0];
  const steps = batch.readout === 'every' ? batch.inputShape[1] : 1;
  const mask = batch.mask;
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  let sequencesRight = 0;
  for (let s = 0; s < sequences; s++) {
    let allRight = true;
    for (let t = 0; t < steps; t++) {
      const item = s * steps + t;
      if (mask !== undefined && mask[item] === 0) continue;
      const offset = item * classes;
      let max = Number.NEGATIVE_INFINITY;
      let argmax = 0;
      for (let c = 0; c < classes; c++) {
        const v = predictions[offset + c];
        if (v > max) {
          max = v;
          argmax = c;
        }
      }
      let sumExp = 0;
      for (let c = 0; c < classes; c++) sumExp += Math.exp(predictions[offset + c] - max);
      const target = batch.targets[item];
      lossSum += Math.log(sumExp) + max - predictions[offset + target];
      count++;
      if (argmax === target) correct++;
      else allRight = false;
    }
    if (allRight) sequencesRight++;
  }
  const loss = count === 0 ? 0 : lossSum / count;
  const accuracy = count === 0 ? 0 : correct / count;
  if (batch.readout === 'every') {
    const sequenceAccuracy = sequences === 0 ? 0 : sequencesRight / sequences;
    return { loss, accuracy, sequenceAccuracy, count, sequences };
  }
  return { loss, accuracy, count, sequences };
}

/**
 * Scores predictions against a batch's targets: MSE for regression; mean cross-entropy of the logits,
 * accuracy of their argmax (ties go to the lowest class) and, for readout `'every'`, the fraction of
 * sequences right at every counted step, for classification. Masked-out steps are skipped.
 *
 * @param predictions - Row-major predictions shaped as {@link predictionShape} says.
 * @param batch - The batch they are for.
 * @returns The metrics.
 * @throws ArgumentError when `predictions` has the wrong length.
 */
export function computeMetrics(predictions: ArrayLike<number>, batch: Batch): Metrics {
  switch (batch.loss) {
    case 'mse':
      return regressionMetrics(predictions, batch);
    case 'cross-entropy':
      return classificationMetrics(predictions, batch);
    default: {
      const never: never = batch;
      throw new ArgumentError(`metrics: unknown batch loss ${JSON.stringify((never as Batch).loss)}`);
    }
  }
}

/**
 * Combines the metrics of several batches into the metrics of their union: means weighted by
 * `count` (by `sequences` for `sequenceAccuracy`), counts summed.
 *
 * @param parts - Metrics of batches of one task.
 * @returns The combined metrics (all zero for an empty list).
 */
export function combineMetrics(parts: readonly Metrics[]): Metrics {
  let count = 0;
  let sequences = 0;
  let loss = 0;
  let mse = 0;
  let accuracy = 0;
  let sequenceAccuracy = 0;
  for (const part of parts) {
    count += part.count;
    sequences += part.sequences;
    loss += part.loss * part.count;
    mse += (part.mse ?? 0) * part.count;
    accuracy += (part.accuracy ?? 0) * part.count;
    sequenceAccuracy += (part.sequenceAccuracy ?? 0) * part.sequences;
  }
  const first = parts[0];
  const mean = (total: number, n: number) => (n === 0 ? 0 : total / n);
  return {
    loss: mean(loss, count),
    ...(first?.mse !== undefined ? { mse: mean(mse, count) } : {}),
    ...(first?.accuracy !== undefined ? { accuracy: mean(accuracy, count) } : {}),
    ...(first?.sequenceAccuracy !== undefined ? { sequenceAccuracy: mean(sequenceAccuracy, sequences) } : {}),
    count,
    sequences,
  };
}
