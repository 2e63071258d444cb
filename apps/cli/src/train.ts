/**
 * The training loop behind `mru train` and the experiment presets.
 *
 * Design, with resumability as the organising constraint: everything random is a pure function of
 * the run seed and the step number, never of how many steps this process has run.
 *
 * - Data: training batch `i` is `task.batch('train', i, batch)`, keyed by (seed, i) in @mru/datasets.
 * - Dropout: step `i` uses the seed `deriveSeed(seed, 'dropout/<i>')`.
 * - Optimizer: AdamW with its moments and step count restored from the checkpoint; the cosine
 *   learning rate is a function of that step count.
 * - Bookkeeping (best metric so far, the running loss of the current log window) travels in the
 *   checkpoint's metadata.
 *
 * So `N` steps, a checkpoint, and `M` more steps in another process give bit-for-bit the parameters
 * of `N + M` uninterrupted steps. Each step runs `valueAndGrad` and the optimizer update, then
 * disposes the loss, gradients and batch tensors: the live tensor count is constant over the run.
 * Checkpoints (`last` at every evaluation and at the end, `best` when the test metric improves) are
 * written atomically by @mru/models; a checkpoint to resume from is read and validated before the
 * run directory is touched, so a corrupt file leaves the directory as it was.
 */

import { isMainThread } from 'node:worker_threads';
import {
  add,
  crossEntropy,
  dispose,
  div,
  memory,
  mse,
  mul,
  square,
  sum,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
} from '@mru/core';
import {
  type Batch,
  combineMetrics,
  createTask,
  type Metrics,
  type Task,
  type TaskName,
} from '@mru/datasets';
import {
  AdamW,
  cosineSchedule,
  createNetwork,
  deriveSeed,
  epsilonAnnealingFor,
  type LoadedCheckpoint,
  type Network,
  type NetworkConfig,
  type ParamTree,
} from '@mru/models';
import { loadNetworkCheckpoint, saveCheckpoint } from '@mru/models/node';
import { checkStoredMemory, parseStoredTrainConfig } from './config.js';
import { RunError } from './errors.js';
import { taskLength } from './limits.js';
import type { ModelName } from './models.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import { type EvalRecord, type MetricRecord, RunDirectory } from './rundir.js';

/** The version written into run directories and checkpoints. */
export const CLI_VERSION = '0.1.0';

/** Everything that decides a training run's numbers (stored in config.json and in checkpoints). */
export interface TrainConfig {
  /** Task name. */
  readonly task: TaskName;
  /** The task's resolved options (length, seed...). */
  readonly taskOptions: Readonly<Record<string, number | string | boolean>>;
  /** Command-line model name. */
  readonly model: ModelName;
  /** The network config given to `createNetwork`. */
  readonly network: NetworkConfig;
  /** Total optimizer steps (the length of the learning-rate schedule). */
  readonly steps: number;
  /** Examples per training batch. */
  readonly batch: number;
  /** Seed of initialisation and dropout (the task has its own seed option, by default the same). */
  readonly seed: number;
  /** Peak learning rate. */
  readonly lr: number;
  /** Final learning rate as a fraction of the peak (cosine decay). */
  readonly lrFinalRatio: number;
  /** AdamW β1. */
  readonly beta1: number;
  /** AdamW β2. */
  readonly beta2: number;
  /** AdamW decoupled weight decay (not on norms, biases, gains, LRU recurrent parameters). */
  readonly weightDecay: number;
  /** Gradient clipping: maximum global L2 norm. */
  readonly clip: number;
  /** Evaluate every this many steps (and at the last step). */
  readonly evalEvery: number;
  /** Test batches per evaluation. */
  readonly evalBatches: number;
  /** Examples per test batch. */
  readonly evalBatchSize: number;
  /** Write a training metrics line every this many steps. */
  readonly logEvery: number;
  /**
   * ε annealing of the BMRU cells (see the models guide): trained as CMRUs (ε = 1) for the first 10% of the
   * steps, ε decayed linearly to 0 over the next 50%, plain BMRUs after that.
   */
  readonly epsilonAnneal?: boolean;
}

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
  /** Best test metric so far and its step (null before the first evaluation). */
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
  /** The last evaluation (null if none happened). */
  readonly final: Metrics | null;
  /** The task's headline metric. */
  readonly metric: 'mse' | 'accuracy';
  /** Best headline metric and its step. */
  readonly best: { readonly value: number; readonly step: number } | null;
  /** Training steps per second in this process. */
  readonly stepsPerSecond: number;
}

/** Tensors of one batch on the current backend. */
interface BatchTensors {
  readonly x: Tensor;
  readonly target: Tensor;
  readonly mask: Tensor | null;
  readonly maskCount: number;
}

function toTensors(batch: Batch): BatchTensors {
  const x = tensor(batch.inputs, { shape: batch.inputShape });
  const target = tensor(batch.targets, { shape: batch.targetShape });
  if (!batch.mask) return { x, target, mask: null, maskCount: 0 };
  let count = 0;
  for (let i = 0; i < batch.mask.length; i++) count += batch.mask[i];
  return { x, target, mask: tensor(batch.mask, { shape: batch.targetShape }), maskCount: count };
}

/**
 * The training loss of network outputs for a task: MSE for regression, cross-entropy for
 * classification (a masked mean over the counted steps when every step is read).
 *
 * @param task - The task (decides the loss).
 * @param output - Network outputs, `[B, out]` or `[B, T, classes]`.
 * @param t - The batch tensors.
 * @returns A scalar loss tensor.
 */
export function taskLoss(task: Task, output: Tensor, t: BatchTensors): Tensor {
  switch (task.loss) {
    case 'mse':
      return mse(output, t.target);
    case 'cross-entropy': {
      if (!t.mask) return crossEntropy(output, t.target);
      const perStep = crossEntropy(output, t.target, 'none');
      return div(sum(mul(perStep, t.mask)), Math.max(1, t.maskCount));
    }
    default: {
      const never: never = task.loss;
      throw new Error(`unknown loss ${String(never)}`);
    }
  }
}

/** Whether `a` is a better value of `metric` than `b`. */
export function isBetter(metric: 'mse' | 'accuracy', a: number, b: number): boolean {
  return metric === 'mse' ? a < b : a > b;
}

/** The headline value of metrics for a task's metric kind. */
export function headline(metric: 'mse' | 'accuracy', m: Metrics): number {
  return (metric === 'mse' ? m.mse : m.accuracy) ?? m.loss;
}

/**
 * Scores a network on the first `batches` test batches of a task.
 *
 * @param network - The network.
 * @param params - Its parameters.
 * @param task - The task.
 * @param batches - Number of test batches.
 * @param batchSize - Examples per batch.
 * @returns The combined metrics.
 */
export async function evaluate(
  network: Network,
  params: ParamTree,
  task: Task,
  batches: number,
  batchSize: number,
): Promise<Metrics> {
  const parts: Metrics[] = [];
  const perEpoch = task.batchesPerEpoch('test', batchSize);
  for (let i = 0; i < Math.min(batches, perEpoch); i++) {
    const batch = task.batch('test', i, batchSize);
    const out = tidy(() => network.apply(params, tensor(batch.inputs, { shape: batch.inputShape })));
    const predictions = await out.data();
    out.dispose();
    parts.push(task.metrics(predictions, batch));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return combineMetrics(parts);
}

function checkpointMetadata(
  config: TrainConfig,
  step: number,
  best: { value: number; step: number } | null,
  window: { sum: number; count: number },
): Record<string, string> {
  return {
    mru_cli: CLI_VERSION,
    train_config: JSON.stringify(config),
    step: String(step),
    best: JSON.stringify(best),
    loss_window: JSON.stringify(window),
    rng: `dropout seed of step i = deriveSeed(${config.seed}, 'dropout/<i>'); train batch i = task.batch('train', i, ${config.batch})`,
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
  const meta = network.paramSpecs();
  const optimizer = new AdamW({
    lr: cosineSchedule({ peak: config.lr, totalSteps: config.steps, finalRatio: config.lrFinalRatio }),
    beta1: config.beta1,
    beta2: config.beta2,
    weightDecay: config.weightDecay,
    clipNorm: config.clip,
    meta,
  });
  // A pure function of the step, so a resumed run anneals exactly as an uninterrupted one.
  const epsilon = config.epsilonAnneal ? epsilonAnnealingFor(config.steps) : null;
  let params: ParamTree = resume ? resume.params : network.init(config.seed);
  if (resume) optimizer.loadStateDict(resume.optimizer);
  let step = resume ? resume.step : 0;
  let best = resume?.best ? { ...resume.best } : null;
  const window = resume ? { ...resume.window } : { sum: 0, count: 0 };
  const end = Math.min(config.steps, options.stopAt ?? config.steps);

  const dir = new RunDirectory(options.out);
  const records: MetricRecord[] = resume ? dir.truncateMetrics(step) : dir.truncateMetrics(-1);
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
  const save = async (file: string) =>
    saveCheckpoint(dir.file(file), params, {
      config: network.config,
      optimizer: optimizer.stateDict(),
      metadata: checkpointMetadata(config, step, best, window),
    });

  const lossAndGrad = valueAndGrad((p: ParamTree, t: BatchTensors, dropoutSeed: number) => {
    const { output, switchRate } = network.applyWithStats(p, t.x, { train: true, seed: dropoutSeed });
    const loss = taskLoss(task, output, t);
    const penalty = network.config.switchPenalty ?? 0;
    return penalty > 0 && switchRate ? add(loss, mul(square(switchRate), penalty)) : loss;
  });

  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  // Signals reach the main thread only; a worker is stopped through `signal`.
  if (isMainThread) process.once('SIGINT', onInterrupt);
  options.signal?.addEventListener('abort', onInterrupt);
  const bar = new ProgressBar({
    total: config.steps,
    start: step,
    label: options.label,
    stream: options.progress,
  });
  const t0 = performance.now();
  const startStep = step;
  let final: Metrics | null = null;
  let lastLoss = Number.NaN;
  try {
    while (step < end && !interrupted) {
      if (epsilon) network.setEpsilon(epsilon(step));
      const dropoutSeed = deriveSeed(config.seed, `dropout/${step}`);
      // The scope frees the batch tensors and anything else the step creates but does not return.
      const { value, grads } = tidy(() =>
        lossAndGrad(params, toTensors(task.batch('train', step, config.batch)), dropoutSeed),
      );
      const lr = optimizer.currentLr();
      params = optimizer.step(params, grads);
      dispose(grads);
      lastLoss = (await value.data())[0];
      value.dispose();
      const gradNorm = optimizer.lastGradNorm ? (await optimizer.lastGradNorm.data())[0] : Number.NaN;
      if (!Number.isFinite(lastLoss)) {
        throw new RunError(
          `training diverged at step ${step + 1}: the loss is ${lastLoss}; try a lower --lr`,
        );
      }
      step++;
      window.sum += lastLoss;
      window.count++;
      if (step % config.logEvery === 0 || step === config.steps) {
        const record: MetricRecord = {
          type: 'train',
          step,
          loss: window.sum / window.count,
          lr,
          gradNorm,
          liveTensors: memory().tensors,
          elapsed: (performance.now() - t0) / 1000,
        };
        dir.appendMetric(record);
        records.push(record);
        window.sum = 0;
        window.count = 0;
      }
      bar.update(step, `loss ${lastLoss.toPrecision(4)}`);
      if (step % config.evalEvery === 0 || step === config.steps) {
        const metrics = await evaluate(network, params, task, config.evalBatches, config.evalBatchSize);
        final = metrics;
        const record: EvalRecord = {
          type: 'eval',
          step,
          split: 'test',
          loss: metrics.loss,
          ...(metrics.mse !== undefined ? { mse: metrics.mse } : {}),
          ...(metrics.accuracy !== undefined ? { accuracy: metrics.accuracy } : {}),
          ...(metrics.sequenceAccuracy !== undefined ? { sequenceAccuracy: metrics.sequenceAccuracy } : {}),
          count: metrics.count,
        };
        dir.appendMetric(record);
        records.push(record);
        const value = headline(task.metric, metrics);
        if (best === null || isBetter(task.metric, value, best.value)) {
          best = { value, step };
          await save('best.safetensors');
        }
        await save('last.safetensors');
        dir.writePlots(records, task.metric, title);
        bar.log(
          `${options.label ? `${options.label}: ` : ''}step ${step}: test ${task.metric} ${value.toPrecision(4)} (loss ${metrics.loss.toPrecision(4)})`,
        );
      }
      // A macrotask turn per step, so a Ctrl-C (SIGINT) is seen between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (step > startStep && step % config.evalEvery !== 0 && step !== config.steps)
      await save('last.safetensors');
    dir.writePlots(records, task.metric, title);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    options.signal?.removeEventListener('abort', onInterrupt);
    dispose(params);
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
