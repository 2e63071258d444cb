/**
 * The chance level of a task: what a model that has learned nothing scores, drawn as a reference
 * line on the run's plots so a curve can be read against it. For classification it is a uniform
 * guess over the classes (accuracy `1/classes`, cross-entropy `ln classes`). For regression it is the
 * best constant prediction, the per-output mean of the targets, whose MSE is the targets' variance:
 * the tasks document it only roughly ("about 1", "1/6"), so it is measured on test batches, with the
 * same data the test curve is scored on.
 */
import type { Task } from '@mru/datasets';
import { formatTick, type ReferenceLine } from './chart.js';

/** A task's chance level on its loss and on its headline metric. */
export interface ChanceLevel {
  /** The loss a model that learned nothing gets. */
  readonly loss: number;
  /** The headline metric (accuracy or MSE) a model that learned nothing gets. */
  readonly metric: number;
  /** How it was obtained, for the plot's label. */
  readonly basis: 'uniform guess' | 'best constant';
}

/**
 * The chance level of `task`.
 *
 * @param task - The task.
 * @param batches - Test batches the regression estimate averages over.
 * @param batchSize - Their size.
 * @returns The chance level on the loss and the metric.
 */
export function chanceLevel(task: Task, batches = 4, batchSize = 256): ChanceLevel {
  if (task.loss === 'cross-entropy') {
    const classes = task.outputSize;
    return { loss: Math.log(classes), metric: 1 / classes, basis: 'uniform guess' };
  }
  const outputs = task.outputSize;
  const sum = new Float64Array(outputs);
  const sumSq = new Float64Array(outputs);
  let rows = 0;
  const count = Math.min(batches, task.batchesPerEpoch('test', batchSize));
  for (let i = 0; i < count; i++) {
    const batch = task.batch('test', i, batchSize);
    const n = batch.targetShape[0];
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < outputs; o++) {
        const y = batch.targets[r * outputs + o];
        sum[o] += y;
        sumSq[o] += y * y;
      }
    }
    rows += n;
  }
  let variance = 0;
  for (let o = 0; o < outputs; o++) {
    const mean = sum[o] / rows;
    variance += Math.max(0, sumSq[o] / rows - mean * mean);
  }
  const mse = variance / outputs;
  return { loss: mse, metric: mse, basis: 'best constant' };
}

/**
 * The dashed line a chart draws at a chance level, labelled with how it was obtained.
 *
 * @param chance - The task's chance level.
 * @param y - Which of its values the chart's axis shows (`chance.loss` or `chance.metric`).
 * @returns The reference line.
 */
export function chanceReference(chance: ChanceLevel, y: number): ReferenceLine {
  return { label: `chance (${chance.basis}) ${formatTick(y)}`, y };
}
