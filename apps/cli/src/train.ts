/**
 * `mru train` and the experiment presets: the run directory, progress, plots and resume around the
 * training API of @mru/models (`fit`, `trainStep`, `evaluate`), which owns the step itself.
 *
 * Design, with resumability as the organising constraint: everything random is a pure function of
 * the run seed and the step number, never of how many steps this process has run.
 *
 * - Data: training batch `i` is `task.batch('train', i, batch)`, keyed by (seed, i) in @mru/datasets.
 * - Dropout, ε and learning rate: functions of the step index inside `trainStep` (the ε schedule is
 *   stored in the config, so it travels in every checkpoint with the step it has reached).
 * - Optimizer: AdamW with its moments and step count restored from the checkpoint.
 * - Bookkeeping (best metric so far, the running loss of the current log window) travels in the
 *   checkpoint's metadata.
 *
 * So `N` steps, a checkpoint, and `M` more steps in another process give bit-for-bit the parameters
 * of `N + M` uninterrupted steps. Evaluations during the run score the validation split, which picks
 * `best`; the test split is scored once, when the schedule ends. Checkpoints (`last` at every
 * evaluation and at the end, `best` when the validation metric improves) are written atomically by
 * @mru/models; a checkpoint to resume from is read and validated before the run directory is
 * touched, so a corrupt file leaves the directory as it was.
 */

import { isMainThread } from 'node:worker_threads';
import { dispose, memory } from '@mru/core';
import { createTask, type Metrics, type Split, type Task } from '@mru/datasets';
import {
  AdamW,
  type ApplyContext,
  annealContext,
  cosineSchedule,
  createNetwork,
  type EpsilonScheduleOptions,
  evaluate as evaluateBatches,
  type FitResult,
  type FitState,
  fit,
  gradNormsByGroup,
  type LoadedCheckpoint,
  type Network,
  type ParamTree,
  resolveEpsilonSchedule,
} from '@mru/models';
import { loadNetworkCheckpoint, saveCheckpoint } from '@mru/models/node';
import { checkStoredMemory, parseStoredTrainConfig, type TrainConfig } from './config.js';
import { RunError } from './errors.js';
import { GRAD_NORM_PREFIX, prefixKeys, unprefixKeys } from './grad-norms.js';
import { taskLength } from './limits.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import { type EvalRecord, type MetricRecord, RunDirectory, type TrainRecord } from './rundir.js';
import { CLI_VERSION } from './version.js';

/** A checkpoint read back for resuming, validated. */
export interface ResumeState {
  /** The path it came from. */
  readonly path: string;
  /** The training config stored in it. */
  readonly config: TrainConfig;
  /** Steps completed. */
  readonly step: number;
  /** The rebuilt network. */
  readonly network: Network;
  /** Parameters (owned by the caller). */
  readonly params: ParamTree;
  /** AdamW state. */
  readonly optimizer: NonNullable<LoadedCheckpoint['optimizer']>;
  /** Best validation metric so far and its step (null before the first evaluation). */
  readonly best: { readonly value: number; readonly step: number } | null;
  /** Sum and count of training losses in the unfinished log window. */
  readonly window: { readonly sum: number; readonly count: number };
  /** Why the resumed run will not be exact (e.g. no optimizer state), to tell the user; else absent. */
  readonly warning?: string;
}

/** How `trainRun` reports and where it writes. */
export interface TrainRunOptions {
  /** The run directory. */
  readonly out: string;
  /** The backend name, recorded in config.json. */
  readonly backend: string;
  /** Continue from this checkpoint (see `loadResume`). */
  readonly resume?: ResumeState;
  /** Stop after this many steps although the schedule spans `config.steps` (resume later). */
  readonly stopAt?: number;
  /** Where the progress bar goes (none: silent). */
  readonly progress?: ProgressStream;
  /** Label in front of the progress bar. */
  readonly label?: string;
  /** Stops the run between steps (after saving `last`), like Ctrl-C. */
  readonly signal?: AbortSignal;
  /** Extra fields for config.json (e.g. the command line). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** What a finished (or stopped) run reports. */
export interface TrainResult {
  /** The run directory. */
  readonly out: string;
  /** Steps completed. */
  readonly step: number;
  /** Whether the run stopped early (`stopAt` or an interrupt). */
  readonly stopped: boolean;
  /** Number of scalar parameters. */
  readonly paramCount: number;
  /** Wall-clock seconds of this process's training (evaluations included). */
  readonly seconds: number;
  /**
   * Wall-clock seconds of the run's training over every session, resumed ones included (the earlier
   * sessions' time as of their last metrics line).
   */
  readonly totalSeconds: number;
  /** The test split scored at the end (else the last evaluation; null if none happened). */
  readonly final: Metrics | null;
  /** The task's headline metric. */
  readonly metric: 'mse' | 'accuracy';
  /** Best headline metric on the validation split and its step. */
  readonly best: { readonly value: number; readonly step: number } | null;
  /** Training steps per second in this process. */
  readonly stepsPerSecond: number;
}

/** Whether `a` is a better value of `metric` than `b`. */
export function isBetter(metric: 'mse' | 'accuracy', a: number, b: number): boolean {
  return metric === 'mse' ? a < b : a > b;
}

/** The headline value of metrics for a task's metric kind. */
export function headline(metric: 'mse' | 'accuracy', m: Pick<Metrics, 'loss' | 'mse' | 'accuracy'>): number {
  return (metric === 'mse' ? m.mse : m.accuracy) ?? m.loss;
}

/**
 * Scores a network on the first `batches` batches of a split of a task (@mru/models' `evaluate`).
 *
 * @param network - The network.
 * @param params - Its parameters.
 * @param task - The task.
 * @param batches - Number of batches (at most one epoch of a finite data set).
 * @param batchSize - Examples per batch.
 * @param split - The split (default `'test'`).
 * @param context - ε and leak to evaluate at (default: the network's own).
 * @returns The combined metrics.
 */
export function evaluateTask(
  network: Network,
  params: ParamTree,
  task: Task,
  batches: number,
  batchSize: number,
  split: Split = 'test',
  context: ApplyContext = {},
): Promise<Metrics> {
  const count = Math.min(batches, task.batchesPerEpoch(split, batchSize));
  return evaluateBatches(network, params, task.batches(split, batchSize, { count }), task, context);
}

/** `evaluateTask` on the test split, the signature `mru eval` calls. */
export function evaluate(
  network: Network,
  params: ParamTree,
  task: Task,
  batches: number,
  batchSize: number,
): Promise<Metrics> {
  return evaluateTask(network, params, task, batches, batchSize, 'test');
}

/**
 * The annealing schedule of a stored config: its own, or the `--anneal` default for configs written
 * before schedules were recorded (`epsilonAnneal: true`).
 *
 * @param config - A training config.
 * @returns The schedule, or undefined without annealing.
 */
export function annealingOf(config: TrainConfig): EpsilonScheduleOptions | undefined {
  if (config.epsilonSchedule) return config.epsilonSchedule;
  return config.epsilonAnneal ? resolveEpsilonSchedule({ totalSteps: config.steps }) : undefined;
}

function checkpointMetadata(
  config: TrainConfig,
  step: number,
  best: { value: number; step: number } | null,
  window: { sum: number; count: number },
): Record<string, string> {
  const schedule = annealingOf(config);
  return {
    mru_cli: CLI_VERSION,
    train_config: JSON.stringify(config),
    step: String(step),
    best: JSON.stringify(best),
    loss_window: JSON.stringify(window),
    rng: `dropout seed of step i = deriveSeed(${config.seed}, 'dropout/<i>'); train batch i = task.batch('train', i, ${config.batch})`,
    ...(schedule
      ? {
          annealing: JSON.stringify({
            schedule,
            step,
            context: annealContext(schedule, Math.max(0, step - 1)),
          }),
        }
      : {}),
  };
}

function isRecord(x: unknown): x is Record<string, number> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function parseJsonMeta(path: string, metadata: Readonly<Record<string, string>>, key: string): unknown {
  const raw = metadata[key];
  if (raw === undefined) {
    throw new RunError(
      `cannot resume from ${path}: it has no '${key}' metadata (not a checkpoint written by 'mru train'); the run directory was left as it was`,
    );
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new RunError(
      `cannot resume from ${path}: metadata '${key}' is not valid JSON (${(error as Error).message})`,
    );
  }
}

/**
 * Reads and validates a checkpoint to resume from. Call it before touching the run directory: any
 * problem (missing file, corrupt bytes, a checkpoint not written by `mru train`) is a `RunError`
 * and nothing has been written.
 *
 * @param path - The checkpoint file.
 * @returns The state to pass to `trainRun` as `resume`.
 * @throws RunError naming the file and what is wrong with it.
 */
export async function loadResume(path: string): Promise<ResumeState> {
  let loaded: Awaited<ReturnType<typeof loadNetworkCheckpoint>>;
  try {
    loaded = await loadNetworkCheckpoint(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such file' : e.message;
    throw new RunError(`cannot resume from ${path}: ${reason}; the run directory was left as it was`, {
      cause: error,
    });
  }
  try {
    const config = parseStoredTrainConfig(path, loaded.metadata.train_config, 'resume from');
    const step = Number(loaded.metadata.step);
    if (!Number.isInteger(step) || step < 0)
      throw new RunError(`cannot resume from ${path}: bad 'step' metadata`);
    let optimizer = loaded.optimizer;
    let warning: string | undefined;
    if (!optimizer) {
      // Fresh moments still train; the user must know the run is no longer an exact continuation.
      warning = `warning: ${path} holds no optimizer state; training continues from step ${step} with fresh AdamW moments, so it will not match an uninterrupted run exactly`;
      optimizer = { step, tensors: {} };
    } else if (optimizer.step !== step) {
      throw new RunError(`cannot resume from ${path}: optimizer step ${optimizer.step} != step ${step}`);
    }
    const best = parseJsonMeta(path, loaded.metadata, 'best') as ResumeState['best'];
    const window = parseJsonMeta(path, loaded.metadata, 'loss_window') as ResumeState['window'];
    if (best !== null && !(isRecord(best) && Number.isFinite(best.value) && Number.isInteger(best.step))) {
      throw new RunError(`cannot resume from ${path}: metadata 'best' is not {value, step} or null`);
    }
    if (!(isRecord(window) && Number.isFinite(window.sum) && Number.isInteger(window.count))) {
      throw new RunError(`cannot resume from ${path}: metadata 'loss_window' is not {sum, count}`);
    }
    checkStoredMemory(path, 'resume from', {
      network: loaded.network.config,
      batch: Math.max(config.batch, config.evalBatchSize ?? 0),
      length: taskLength(config.task, config.taskOptions) ?? 1,
      training: true,
    });
    return {
      ...(warning ? { warning } : {}),
      path,
      config,
      step,
      network: loaded.network,
      params: loaded.params,
      optimizer,
      best,
      window,
    };
  } catch (error) {
    dispose([loaded.params, loaded.optimizer?.tensors ?? {}]);
    throw error;
  }
}

/**
 * Trains (or continues training) a network and writes the run directory.
 *
 * @param config - The run's config (ignored in favour of the checkpoint's when resuming).
 * @param options - Output directory, resume state, stop step, progress.
 * @returns A summary of the run.
 */
export async function trainRun(config: TrainConfig, options: TrainRunOptions): Promise<TrainResult> {
  const resume = options.resume;
  if (resume) config = resume.config;
  const task = await createTask(config.task, config.taskOptions as Record<string, unknown>);
  const network = resume ? resume.network : createNetwork(config.network);
  const optimizer = new AdamW({
    lr: cosineSchedule({ peak: config.lr, totalSteps: config.steps, finalRatio: config.lrFinalRatio }),
    beta1: config.beta1,
    beta2: config.beta2,
    weightDecay: config.weightDecay,
    clipNorm: config.clip,
    meta: network.paramSpecs(),
  });
  const epsilon = annealingOf(config);
  const initial: ParamTree = resume ? resume.params : network.init(config.seed);
  if (resume) optimizer.loadStateDict(resume.optimizer);
  const startStep = optimizer.stepCount;
  let best = resume?.best ? { ...resume.best } : null;
  const window = resume ? { ...resume.window } : { sum: 0, count: 0 };

  const dir = new RunDirectory(options.out);
  const records: MetricRecord[] = resume ? dir.truncateMetrics(startStep) : dir.truncateMetrics(-1);
  // Training time of the sessions before this one, from the last metrics line they kept (the
  // checkpoint holds no wall-clock time, so that a resumed run's files equal an uninterrupted one's).
  const earlier = records.filter((r): r is TrainRecord => r.type === 'train').at(-1)?.elapsed ?? 0;
  const paramCount = network.paramCount();
  dir.writeConfig({
    mru: CLI_VERSION,
    command: 'train',
    backend: options.backend,
    ...config,
    network: network.config,
    paramCount,
    ...(options.extra ?? {}),
  });
  const title = `${config.model} on ${config.task}`;
  // A checkpoint's network config carries the ε (and leak) it was trained at, so loading it elsewhere
  // (`mru eval`, experiment reports) evaluates the function that was trained.
  const t0 = performance.now();
  const save = async (file: string, state: FitState) =>
    saveCheckpoint(dir.file(file), state.params, {
      config: { ...network.config, ...state.context },
      optimizer: optimizer.stateDict(),
      metadata: checkpointMetadata(config, state.step, best, window),
    });
  const appendEval = (step: number, split: 'validation' | 'test', metrics: Metrics): void => {
    const record: EvalRecord = {
      type: 'eval',
      step,
      split,
      loss: metrics.loss,
      ...(metrics.mse !== undefined ? { mse: metrics.mse } : {}),
      ...(metrics.accuracy !== undefined ? { accuracy: metrics.accuracy } : {}),
      ...(metrics.sequenceAccuracy !== undefined ? { sequenceAccuracy: metrics.sequenceAccuracy } : {}),
      count: metrics.count,
    };
    dir.appendMetric(record);
    records.push(record);
  };

  const controller = new AbortController();
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    controller.abort();
  };
  // Signals reach the main thread only; a worker is stopped through `signal`.
  if (isMainThread) process.once('SIGINT', onInterrupt);
  options.signal?.addEventListener('abort', onInterrupt);
  const bar = new ProgressBar({
    total: config.steps,
    start: startStep,
    label: options.label,
    stream: options.progress,
  });
  let lastLoss = Number.NaN;
  let final: Metrics | null = null;
  let result: FitResult<Metrics>;
  try {
    result = await fit<Metrics>({
      network,
      optimizer,
      params: initial,
      seed: config.seed,
      epsilon,
      // Per block and per cell (a hybrid's BMRU and LRU apart): the global norm hides which dominates.
      gradMetrics: (grads) => prefixKeys(gradNormsByGroup(grads), GRAD_NORM_PREFIX),
      steps: config.steps,
      stopAt: options.stopAt,
      data: (i) => task.batch('train', i, config.batch),
      evalEvery: config.evalEvery,
      // "Best" is chosen on the validation split; the test split is scored once, at the end.
      evaluate: (state) =>
        evaluateTask(
          network,
          state.params,
          task,
          config.evalBatches,
          config.evalBatchSize,
          'validation',
          state.context,
        ),
      signal: controller.signal,
      callbacks: {
        onStep: (m, state) => {
          lastLoss = m.loss;
          if (!Number.isFinite(m.loss)) {
            throw new RunError(
              `training diverged at step ${m.step}: the loss is ${m.loss}; try a lower --lr`,
            );
          }
          window.sum += m.loss;
          window.count++;
          if (state.step % config.logEvery === 0 || state.step === config.steps) {
            const record: MetricRecord = {
              type: 'train',
              step: state.step,
              loss: window.sum / window.count,
              lr: m.lr,
              gradNorm: m.gradNorm,
              gradNorms: unprefixKeys(m, GRAD_NORM_PREFIX),
              liveTensors: memory().tensors,
              elapsed: earlier + (performance.now() - t0) / 1000,
            };
            dir.appendMetric(record);
            records.push(record);
            window.sum = 0;
            window.count = 0;
          }
          bar.update(state.step, `loss ${m.loss.toPrecision(4)}`);
        },
        onEvaluate: async (metrics, state) => {
          appendEval(state.step, 'validation', metrics);
          const value = headline(task.metric, metrics);
          if (best === null || isBetter(task.metric, value, best.value)) {
            best = { value, step: state.step };
            await save('best.safetensors', state);
          }
          dir.writePlots(records, task, title);
          bar.log(
            `${options.label ? `${options.label}: ` : ''}step ${state.step}: validation ${task.metric} ${value.toPrecision(4)} (loss ${metrics.loss.toPrecision(4)})`,
          );
        },
        onCheckpoint: (state) => save('last.safetensors', state),
      },
    });
  } catch (error) {
    // `fit` has freed the parameters; the moments are ours to free.
    optimizer.dispose();
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    options.signal?.removeEventListener('abort', onInterrupt);
  }
  const step = result.step;
  try {
    if (step === config.steps && step > startStep) {
      // The test split, scored once with the final parameters.
      const context = annealContext(epsilon, step - 1);
      final = await evaluateTask(
        network,
        result.params,
        task,
        config.evalBatches,
        config.evalBatchSize,
        'test',
        context,
      );
      appendEval(step, 'test', final);
      bar.log(
        `${options.label ? `${options.label}: ` : ''}test ${task.metric} ${headline(task.metric, final).toPrecision(4)} (loss ${final.loss.toPrecision(4)})`,
      );
    }
    dir.writePlots(records, task, title);
  } finally {
    dispose(result.params);
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  bar.finish(Number.isFinite(lastLoss) ? `loss ${lastLoss.toPrecision(4)}` : undefined);
  const stopped = step < config.steps;
  if (stopped && options.progress) {
    options.progress.write(
      `${interrupted ? 'interrupted' : 'stopped'} at step ${step}/${config.steps}; continue with: mru train --resume ${dir.file('last.safetensors')}\n`,
    );
  }
  return {
    out: options.out,
    step,
    stopped,
    paramCount,
    seconds,
    totalSeconds: earlier + seconds,
    final: final ?? lastEval(records),
    metric: task.metric,
    best,
    stepsPerSecond: seconds > 0 ? (step - startStep) / seconds : 0,
  };
}

function lastEval(records: readonly MetricRecord[]): Metrics | null {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (r.type === 'eval')
      return { loss: r.loss, mse: r.mse, accuracy: r.accuracy, count: r.count, sequences: 0 };
  }
  return null;
}
