/**
 * `evaluate`: a network scored over batches, the one evaluation loop of the CLI (validation during
 * training, the test split at the end, `mru eval`, experiment reports), the guide and the demo.
 *
 * Design: the network runs in evaluation mode (no dropout) with the ε and leak of `context`, outputs
 * are read back per batch, and the scoring is the caller's `scorer`, whose `metrics` and
 * `combineMetrics` a `@mru/datasets` task provides (float64 losses and task metrics, masks honoured).
 * Between batches the loop yields a macrotask turn so a long evaluation stays interruptible and a
 * browser page stays responsive.
 */
import { tensor, tidy } from '@mru/core';
import type { Network } from '../network.js';
import type { ApplyContext } from '../nn/module.js';
import type { ParamTree } from '../tree.js';
import type { HostBatch } from './batch.js';

/** Scores predictions per batch and combines the scores of several batches (a datasets `Task`). */
export interface BatchScorer<B, M> {
  /** Metrics of row-major predictions against one batch. */
  metrics(predictions: ArrayLike<number>, batch: B): M;
  /** Metrics of the union of batches from the metrics of each. */
  combineMetrics(parts: readonly M[]): M;
}

/** Resolves after one macrotask turn (setImmediate in Node, a zero timeout elsewhere). */
export function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * Scores a network on batches.
 *
 * ```ts
 * const metrics = await evaluate(network, params, task.batches('validation', 256, { count: 4 }), task);
 * ```
 *
 * @param network - The network.
 * @param params - Its parameters (not consumed).
 * @param batches - The batches to score (host batches, e.g. from `task.batches(...)`).
 * @param scorer - Per-batch metrics and their combination (a datasets task).
 * @param context - ε and leak to evaluate at (train mode and dropout are never on here).
 * @returns The combined metrics.
 */
export async function evaluate<B extends HostBatch, M>(
  network: Network,
  params: ParamTree,
  batches: Iterable<B>,
  scorer: BatchScorer<B, M>,
  context: ApplyContext = {},
): Promise<M> {
  const ctx: ApplyContext = {
    ...(context.epsilon !== undefined ? { epsilon: context.epsilon } : {}),
    ...(context.leak !== undefined ? { leak: context.leak } : {}),
  };
  const parts: M[] = [];
  for (const batch of batches) {
    const out = tidy(() => network.apply(params, tensor(batch.inputs, { shape: batch.inputShape }), ctx));
    const predictions = await out.data();
    out.dispose();
    parts.push(scorer.metrics(predictions, batch));
    await nextTurn();
  }
  return scorer.combineMetrics(parts);
}
