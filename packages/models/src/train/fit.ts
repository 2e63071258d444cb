/**
 * `fit`: a small training loop over `trainStep` with callbacks, in the spirit of PyTorch Lightning's
 * loop without the framework. It owns only the order of events; what to display, where to write and
 * what to score belong to the callbacks (the CLI's run directory, progress bar and plots are
 * callbacks; the browser demo's chart is another).
 *
 * Order per step `i` (0-based, `i = optimizer.stepCount`): the training batch `data(i)`, `trainStep`,
 * `onStep`; then, when `i + 1` is a multiple of `evalEvery` or the end of the schedule (`steps`),
 * `evaluate` and `onEvaluate`, then `onCheckpoint`; then one macrotask turn, so an abort (Ctrl-C, a
 * Stop button) is seen between steps. When the loop stops elsewhere than just after an evaluation,
 * `onCheckpoint` runs once more, so the last state is always saved. Everything is a function of `i`
 * (batch, dropout seed, ε, learning rate), so `fit` to step N, a checkpoint, and `fit` on from there
 * gives the parameters of one uninterrupted run.
 */
import { dispose, ValueError } from '@mru/core';
import type { ApplyContext } from '../nn/module.js';
import type { ParamTree } from '../tree.js';
import type { TrainBatch } from './batch.js';
import { nextTurn } from './evaluate.js';
import { annealContext, type StepMetrics, type TrainStepOptions, trainStep } from './step.js';

/** Where a `fit` loop stands, passed to every callback. */
export interface FitState {
  /** Updates applied so far. */
  readonly step: number;
  /** The current parameters (owned by the loop: copy what must outlive the callback). */
  readonly params: ParamTree;
  /** ε and leak the parameters were last trained at (what evaluation and checkpoints should use). */
  readonly context: ApplyContext;
}

/** Callbacks of `fit`; each may be async, and an exception stops the loop (and propagates). */
export interface FitCallbacks<M> {
  /** After every step. */
  onStep?(metrics: StepMetrics, state: FitState): void | Promise<void>;
  /** After every evaluation, with its metrics. */
  onEvaluate?(metrics: M, state: FitState): void | Promise<void>;
  /** After every evaluation, and once when the loop stops elsewhere (save a checkpoint here). */
  onCheckpoint?(state: FitState): void | Promise<void>;
}

/** Options of `fit`. */
export interface FitOptions<M> extends TrainStepOptions {
  /** Initial parameters (consumed; `fit` returns the final ones). */
  readonly params: ParamTree;
  /** Length of the run: the learning-rate and ε schedules end here. */
  readonly steps: number;
  /** Stop after this many updates although the schedules span `steps` (resume later). */
  readonly stopAt?: number;
  /** The training batch of step `i` (a pure function of `i` makes runs resumable). */
  readonly data: (step: number) => TrainBatch;
  /** Evaluate every this many steps (and at `steps`); absent or 0: never. */
  readonly evalEvery?: number;
  /** Scores the parameters (e.g. `evaluate` on the validation split at `state.context`). */
  readonly evaluate?: (state: FitState) => Promise<M>;
  /** Callbacks. */
  readonly callbacks?: FitCallbacks<M>;
  /** Stops the loop between steps. */
  readonly signal?: AbortSignal;
}

/** What `fit` returns. */
export interface FitResult<M> {
  /** Final parameters (owned by the caller). */
  readonly params: ParamTree;
  /** Updates applied. */
  readonly step: number;
  /** Whether the loop stopped before `steps` (`stopAt` or the signal). */
  readonly stopped: boolean;
  /** Whether the signal stopped it. */
  readonly aborted: boolean;
  /** Metrics of the last step (null when no step ran). */
  readonly last: StepMetrics | null;
  /** The last evaluation (null when none ran). */
  readonly lastEval: M | null;
}

/**
 * Trains from the optimizer's current step to `steps` (or `stopAt`).
 *
 * @param options - Network, optimizer, data, schedules, evaluation and callbacks.
 * @returns The final parameters and where the loop stopped. On an exception the parameters are
 *   disposed before it propagates.
 */
export async function fit<M = unknown>(options: FitOptions<M>): Promise<FitResult<M>> {
  const { optimizer, steps, callbacks = {} } = options;
  if (!Number.isInteger(steps) || steps < 0)
    throw new ValueError('fit', `steps must be a non-negative integer, got ${steps}`);
  const evalEvery = options.evalEvery ?? 0;
  if (!Number.isInteger(evalEvery) || evalEvery < 0)
    throw new ValueError('fit', `evalEvery must be a non-negative integer, got ${evalEvery}`);
  const end = Math.min(steps, options.stopAt ?? steps);
  const start = optimizer.stepCount;
  let params = options.params;
  let last: StepMetrics | null = null;
  let lastEval: M | null = null;
  let savedAt = -1;
  const state = (): FitState => ({
    step: optimizer.stepCount,
    params,
    context: annealContext(options.epsilon, Math.max(0, optimizer.stepCount - 1)),
  });
  try {
    while (optimizer.stepCount < end && !options.signal?.aborted) {
      const i = optimizer.stepCount;
      const out = await trainStep(options, params, options.data(i));
      params = out.params;
      last = out.metrics;
      await callbacks.onStep?.(last, state());
      const done = i + 1;
      if (evalEvery > 0 && (done % evalEvery === 0 || done === steps)) {
        const s = state();
        if (options.evaluate) {
          lastEval = await options.evaluate(s);
          await callbacks.onEvaluate?.(lastEval, s);
        }
        await callbacks.onCheckpoint?.(s);
        savedAt = done;
      }
      await nextTurn();
    }
    if (optimizer.stepCount > start && savedAt !== optimizer.stepCount)
      await callbacks.onCheckpoint?.(state());
  } catch (error) {
    dispose(params);
    throw error;
  }
  return {
    params,
    step: optimizer.stepCount,
    stopped: optimizer.stepCount < steps,
    aborted: options.signal?.aborted ?? false,
    last,
    lastEval,
  };
}
