/**
 * One run of an experiment preset, as plain data in and plain data out, so it can execute either in
 * this thread or in a worker thread (presets train their runs side by side on multi-core machines).
 *
 * A run is: resolve the `mru train` values into a config, train into its run directory, then rescore
 * the `last` checkpoint on the test split (with a tolerance score for regression tasks) and on any
 * extra task options (e.g. 10x and 100x longer sequences), so every number in a results table comes
 * from what the run directory holds.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dispose } from '@mru/core';
import { type Batch, createTask, type Metrics } from '@mru/datasets';
import { evaluate } from '@mru/models';
import { loadNetworkCheckpoint } from '@mru/models/node';
import { resolveTrainConfig, type TrainConfig } from './config.js';
import { RunError } from './errors.js';
import type { ModelName } from './models.js';
import type { ProgressStream } from './progress.js';
import { loadResume, type ResumeState, type TrainResult, trainRun } from './train.js';

/** Tolerance of the "within" score of regression tasks: |prediction - target| < 0.25. */
export const WITHIN_TOLERANCE = 0.25;

/** Command-line values as `mru train` parses them. */
export type RunValues = Readonly<Record<string, string | readonly string[]>>;

/** An extra evaluation of a trained run on other task options. */
export interface ExtraEval {
  /** Column label, e.g. `10T`. */
  readonly label: string;
  /** `mru train` values describing the task to score on. */
  readonly values: RunValues;
  /** Examples per test batch. */
  readonly batch: number;
  /** Test batches. */
  readonly batches: number;
}

/** One run of a preset. */
export interface RunSpec {
  /** Subdirectory of the experiment directory. */
  readonly name: string;
  /** The model (also in `values`). */
  readonly model: ModelName;
  /** Values for `mru train`. */
  readonly values: RunValues;
  /** Extra evaluations. */
  readonly extraEvals?: readonly ExtraEval[];
}

/** A run ready to execute: its spec plus where and how. */
export interface RunJob {
  /** The run. */
  readonly spec: RunSpec;
  /** Its run directory. */
  readonly out: string;
  /** Backend name. */
  readonly backend: string;
  /** Progress label. */
  readonly label: string;
  /** The experiment's name (recorded in config.json). */
  readonly experiment: string;
  /**
   * Continue the run from its directory's `last.safetensors` when there is one (`mru experiment
   * --resume`); a finished run is then rescored, not retrained.
   */
  readonly resume?: boolean;
  /** Stop training after this step (`mru experiment --stop-at`); continue later with `resume`. */
  readonly stopAt?: number;
}

/** Test metrics with the tolerance score of regression tasks. */
export type ScoredMetrics = Metrics & { readonly within?: number };

/** What a run produced. */
export interface RunOutcome {
  /** The run. */
  readonly spec: RunSpec;
  /** The training summary. */
  readonly result: TrainResult;
  /** The last checkpoint scored on the test split. */
  readonly test: ScoredMetrics;
  /** Extra evaluations by label. */
  readonly extra: Readonly<Record<string, Metrics>>;
}

/**
 * Scores a checkpoint on the test split of the task described by `values`.
 *
 * @param path - The checkpoint.
 * @param values - `mru train` values naming the task and its options.
 * @param batches - Test batches.
 * @param batchSize - Examples per batch.
 * @returns Metrics, plus `within` for regression tasks.
 */
export async function scoreCheckpoint(
  path: string,
  values: RunValues,
  batches: number,
  batchSize: number,
): Promise<ScoredMetrics> {
  const config = await resolveTrainConfig(values);
  const task = await createTask(config.task, config.taskOptions as Record<string, unknown>);
  const loaded = await loadNetworkCheckpoint(path);
  try {
    // The task's own scores, plus the share of regression outputs within the tolerance.
    type Scored = { readonly metrics: Metrics; readonly within: number; readonly count: number };
    const scorer = {
      metrics(predictions: ArrayLike<number>, batch: Batch): Scored {
        let within = 0;
        if (batch.loss === 'mse') {
          for (let j = 0; j < batch.targets.length; j++)
            if (Math.abs(predictions[j] - batch.targets[j]) < WITHIN_TOLERANCE) within++;
        }
        const count = batch.loss === 'mse' ? batch.targets.length : 0;
        return { metrics: task.metrics(predictions, batch), within, count };
      },
      combineMetrics(parts: readonly Scored[]): Scored {
        return {
          metrics: task.combineMetrics(parts.map((p) => p.metrics)),
          within: parts.reduce((s, p) => s + p.within, 0),
          count: parts.reduce((s, p) => s + p.count, 0),
        };
      },
    };
    const count = Math.min(batches, task.batchesPerEpoch('test', batchSize));
    const scored = await evaluate(
      loaded.network,
      loaded.params,
      task.batches('test', batchSize, { count }),
      scorer,
    );
    return scored.count > 0 ? { ...scored.metrics, within: scored.within / scored.count } : scored.metrics;
  } finally {
    dispose(loaded.params);
  }
}

/**
 * Trains and scores one run (the backend must already be current).
 *
 * @param job - The run and where it goes.
 * @param progress - Where its progress bar goes.
 * @param signal - Stops training between steps.
 * @returns The outcome; `result.stopped` is set when interrupted (then nothing is scored).
 */
export async function executeRun(
  job: RunJob,
  progress?: ProgressStream,
  signal?: AbortSignal,
): Promise<RunOutcome> {
  const config = await resolveTrainConfig(job.spec.values);
  const last = join(job.out, 'last.safetensors');
  const resume = job.resume && existsSync(last) ? await resumeMatching(last, config) : undefined;
  if (resume?.warning) progress?.write(`${job.label}: ${resume.warning}\n`);
  const stopAt = job.stopAt !== undefined && job.stopAt < config.steps ? job.stopAt : undefined;
  if (resume && stopAt !== undefined && resume.step >= stopAt) {
    dispose([resume.params, resume.optimizer.tensors]);
    throw new RunError(`--stop-at ${stopAt} is not after step ${resume.step} of ${last}`);
  }
  const result = await trainRun(config, {
    out: job.out,
    backend: job.backend,
    progress,
    label: job.label,
    signal,
    resume,
    stopAt,
    extra: { experiment: job.experiment },
  });
  if (result.stopped)
    return { spec: job.spec, result, test: { loss: Number.NaN, count: 0, sequences: 0 }, extra: {} };
  const test = await scoreCheckpoint(last, job.spec.values, config.evalBatches, config.evalBatchSize);
  const extra: Record<string, Metrics> = {};
  for (const e of job.spec.extraEvals ?? []) {
    progress?.write(`${job.label}: evaluating at ${e.label} (T = ${e.values['seq-len']})\n`);
    extra[e.label] = await scoreCheckpoint(last, e.values, e.batches, e.batch);
  }
  return { spec: job.spec, result, test, extra };
}

/**
 * Loads `path` to continue a run of an experiment, refusing a checkpoint trained with other options
 * than the preset gives now (another `--seed` or `--steps`, or another version of the preset).
 */
async function resumeMatching(path: string, config: TrainConfig): Promise<ResumeState> {
  const resume = await loadResume(path);
  const field = (c: TrainConfig, key: string) => canonical((c as unknown as Record<string, unknown>)[key]);
  const differs = Object.keys({ ...config, ...resume.config }).filter(
    (key) => field(config, key) !== field(resume.config, key),
  );
  if (differs.length > 0) {
    dispose([resume.params, resume.optimizer.tensors]);
    throw new RunError(
      `cannot resume ${path}: it was trained with other options than this experiment gives (${differs.join(', ')} differ); use the --seed and --steps it was started with, or another --out`,
    );
  }
  return resume;
}

/** JSON with sorted keys, so that two equal configs compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
