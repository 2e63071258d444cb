/**
 * `trainStep`: one optimizer update of a network on one batch, the single training step that the CLI,
 * the benchmarks, the tests, the guide and the browser demo all call.
 *
 * Design (in the spirit of Optax: a pure step over explicit state): the step is a function of the
 * parameters, the batch and the optimizer's step count `i`, nothing else. Dropout uses the seed
 * `deriveSeed(seed, 'dropout/<i>')`; annealed quantities (ε of the BMRU family, the FQ-BMRU leak) are
 * the schedule evaluated at `i` and passed to `apply` through its context; the learning rate is the
 * optimizer's schedule at `i`. So a run resumed from a checkpoint (parameters plus optimizer state)
 * continues bit for bit. The step's tensors (batch, loss, gradients) are freed before it returns: the
 * live tensor count stays constant over a run.
 *
 * Metrics are host numbers, read once per step (one sync point, which the caller's progress display
 * needs anyway); `gradMetrics` lets a caller add its own scalars computed from the gradients (e.g.
 * per-layer norms) before they are freed.
 */
import { dispose, type Tensor, tidy, valueAndGrad } from '@mru/core';
import type { Network } from '../network.js';
import type { ApplyContext } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizers.js';
import { type EpsilonScheduleOptions, epsilonSchedule } from '../optim/schedules.js';
import { deriveSeed, type ParamTree } from '../tree.js';
import { batchTensors, type TrainBatch } from './batch.js';
import { addSwitchPenalty, outputLoss } from './loss.js';

/** What `trainStep` needs besides the parameters and the batch. */
export interface TrainStepOptions {
  /** The network. */
  readonly network: Network;
  /** The optimizer (learning-rate schedule, clipping, weight decay); its step count is the step index. */
  readonly optimizer: Optimizer;
  /** Run seed of the dropout masks (default 0): step `i` uses `deriveSeed(seed, 'dropout/<i>')`. */
  readonly seed?: number;
  /** ε (or leak) annealing, evaluated at the step index; absent: the network's own ε. */
  readonly epsilon?: EpsilonScheduleOptions;
  /** Coefficient of the switch penalty (default: the network config's `switchPenalty`). */
  readonly switchPenalty?: number;
  /**
   * Extra scalar metrics from the gradients (before clipping) and the parameters of this step, e.g.
   * per-layer gradient norms; runs in a scope that frees everything but the returned scalars.
   */
  readonly gradMetrics?: (grads: ParamTree, params: ParamTree) => Readonly<Record<string, Tensor>>;
}

/**
 * Metrics of one step, as host numbers. Extra entries (from `gradMetrics`, or added by a caller) sit
 * beside the named ones.
 */
export interface StepMetrics {
  /** Updates applied after this step (1 after the first). */
  readonly step: number;
  /** The objective that was differentiated: task loss plus the switch penalty. */
  readonly loss: number;
  /** Learning rate of this update (before per-parameter `lrScale`). */
  readonly lr: number;
  /** Global gradient norm before clipping (NaN when the optimizer does not clip). */
  readonly gradNorm: number;
  /** Mean switching rate of the memory cells (absent without memory cells). */
  readonly switchRate?: number;
  /** ε this step trained at (absent without an ε schedule). */
  readonly epsilon?: number;
  /** FQ-BMRU leak this step trained at (absent unless the schedule drives the leak). */
  readonly leak?: number;
  /** Extra metrics. */
  readonly [name: string]: number | undefined;
}

/** What `trainStep` returns. */
export interface TrainStepResult {
  /** The updated parameters (the ones passed in are disposed by the optimizer, by default). */
  readonly params: ParamTree;
  /** The step's metrics. */
  readonly metrics: StepMetrics;
}

/**
 * The apply-context entries of an annealing schedule at a step: `{ epsilon }`, `{ leak }` or both,
 * as the schedule's `target` says; empty without a schedule.
 *
 * @param schedule - The schedule, or undefined.
 * @param step - The step index (0 for the first update).
 * @returns Context entries to spread into an `ApplyContext`.
 */
export function annealContext(schedule: EpsilonScheduleOptions | undefined, step: number): ApplyContext {
  if (!schedule) return {};
  const value = epsilonSchedule(schedule)(step);
  const target = schedule.target ?? 'epsilon';
  return {
    ...(target !== 'leak' ? { epsilon: value } : {}),
    ...(target !== 'epsilon' ? { leak: value } : {}),
  };
}

async function read(t: Tensor): Promise<number> {
  const v = await t.item();
  t.dispose();
  return v;
}

/**
 * One training step: forward pass in training mode, task loss plus switch penalty, gradients,
 * optimizer update (with its clipping and learning-rate schedule), metrics.
 *
 * ```ts
 * let params = network.init(0);
 * const optimizer = new AdamW({ lr: 1e-3, clipNorm: 1, meta: network.paramSpecs() });
 * for (let i = 0; i < 100; i++) {
 *   const out = await trainStep({ network, optimizer }, params, task.batch('train', i, 32));
 *   params = out.params;
 * }
 * ```
 *
 * @param options - Network, optimizer, seed, schedule, penalty.
 * @param params - Current parameters (consumed: the optimizer disposes them by default).
 * @param batch - The batch (a `@mru/datasets` batch, or tensors).
 * @returns New parameters and the step's metrics.
 */
export async function trainStep(
  options: TrainStepOptions,
  params: ParamTree,
  batch: TrainBatch,
): Promise<TrainStepResult> {
  const { network, optimizer } = options;
  const step = optimizer.stepCount;
  const anneal = annealContext(options.epsilon, step);
  const ctx: ApplyContext = {
    ...anneal,
    train: true,
    seed: deriveSeed(options.seed ?? 0, `dropout/${step}`),
  };
  const penalty = options.switchPenalty ?? network.config.switchPenalty;
  const lr = optimizer.currentLr();
  // The scope frees the batch tensors and anything else the step creates but does not return.
  const { value, grads, aux } = tidy(() => {
    const t = batchTensors(batch);
    return valueAndGrad(
      (p: ParamTree): [Tensor, Tensor | null] => {
        const { output, switchRate } = network.applyWithStats(p, t.inputs, ctx);
        return [
          addSwitchPenalty(outputLoss(output, t.targets, t.loss, t.mask), switchRate, penalty),
          switchRate,
        ];
      },
      { hasAux: true },
    )(params);
  });
  let extra: Readonly<Record<string, Tensor>> = {};
  let next: ParamTree;
  try {
    if (options.gradMetrics) extra = tidy(() => options.gradMetrics?.(grads, params) ?? {});
    next = optimizer.step(params, grads);
  } catch (error) {
    dispose([value, aux, extra]);
    throw error;
  } finally {
    dispose(grads);
  }
  const norm = optimizer.lastGradNorm;
  const [loss, gradNorm, switchRate] = await Promise.all([
    read(value),
    // The optimizer owns its norm: read, not disposed.
    norm ? norm.item() : Promise.resolve(Number.NaN),
    aux ? read(aux) : Promise.resolve(undefined),
  ]);
  const extraValues: Record<string, number> = Object.fromEntries(
    await Promise.all(Object.entries(extra).map(async ([name, t]) => [name, await read(t)] as const)),
  );
  return {
    params: next,
    metrics: {
      ...extraValues,
      step: step + 1,
      loss,
      lr,
      gradNorm,
      ...(switchRate !== undefined ? { switchRate } : {}),
      ...(anneal.epsilon !== undefined ? { epsilon: anneal.epsilon } : {}),
      ...(anneal.leak !== undefined ? { leak: anneal.leak } : {}),
    },
  };
}
