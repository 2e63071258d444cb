/**
 * From command-line values to a `TrainConfig`: defaults, validation and the mapping of `--seq-len`
 * and `--task-opt` onto a task's own options.
 *
 * Design: every default lives here, once, and the resolved config (every value filled in) is what
 * config.json and the checkpoints store, so a run can always be reproduced from its directory. The
 * task's seed follows `--seed` unless `--task-opt seed=N` says otherwise. `--seq-len T` sets the
 * task's `length` option; for the MNIST tasks, whose length is 784 pixels plus appended zeros, it
 * sets `appendedZeros = T - 784`.
 */
import { createTask, type TaskName, taskNames, tasks } from '@mru/datasets';
import {
  type EpsilonScheduleOptions,
  type NetworkConfig,
  type ResolvedEpsilonSchedule,
  resolveEpsilonSchedule,
  resolveNetworkConfig,
} from '@mru/models';
import { choiceOption, intOption, keyValueOptions, numberOption, OPTIONS } from './args.js';
import { RunError, UsageError } from './errors.js';
import { LIMITS, memoryProblem, taskLength } from './limits.js';
import { MODEL_NAMES, type ModelName, networkConfig } from './models.js';
import { applyNetOptions } from './net-options.js';

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
  /** Evaluate on the validation split every this many steps (and at the last step). */
  readonly evalEvery: number;
  /** Batches per evaluation (validation during the run, test at the end). */
  readonly evalBatches: number;
  /** Examples per evaluation batch. */
  readonly evalBatchSize: number;
  /** Write a training metrics line every this many steps. */
  readonly logEvery: number;
  /**
   * ε annealing of the BMRU cells (see the models guide), evaluated by the training step from the step index;
   * `--anneal` gives `{ totalSteps: steps, start: 1, end: 0, hold: 0.1, ramp: 0.5 }`: trained as CMRUs
   * for the first 10% of the steps, ε decayed linearly to 0 over the next 50%, plain BMRUs after that.
   */
  readonly epsilonSchedule?: ResolvedEpsilonSchedule;
  /** Written by versions before `epsilonSchedule`: true means the `--anneal` default schedule. */
  readonly epsilonAnneal?: boolean;
}

/** The options of `mru train`. */
export const TRAIN_OPTIONS: readonly string[] = [
  'task',
  'model',
  'backend',
  'd-model',
  'd-state',
  'layers',
  'mlp',
  'dropout',
  'steps',
  'batch',
  'seed',
  'lr',
  'weight-decay',
  'clip',
  'anneal',
  'anneal-hold',
  'anneal-ramp',
  'anneal-target',
  'seq-len',
  'task-opt',
  'net-opt',
  'out',
  'resume',
  'stop-at',
  'eval-every',
  'eval-batches',
  'log-every',
  'force',
  'quiet',
  'help',
];

/** Options that shape a run and therefore cannot change when resuming from a checkpoint. */
export const RESUME_FIXED: readonly string[] = TRAIN_OPTIONS.filter(
  (name) =>
    !['backend', 'steps', 'out', 'resume', 'stop-at', 'quiet', 'help', 'force'].includes(name) &&
    OPTIONS[name],
);

/** Default sizes and hyperparameters of `mru train` (the training defaults of the models guide where it gives them). */
export const TRAIN_DEFAULTS = {
  task: 'copy-first-input' as TaskName,
  model: 'bmru' as const,
  dModel: 32,
  dState: 32,
  layers: 2,
  mlp: 4,
  dropout: 0.1,
  steps: 400,
  batch: 64,
  seed: 0,
  lr: 1e-3,
  lrFinalRatio: 0.01,
  beta1: 0.9,
  beta2: 0.99,
  weightDecay: 1e-4,
  clip: 1,
  evalBatches: 4,
  logEvery: 10,
};

/** The local time as `YYYYMMDD-HHMMSS`, for default run directory names. */
export function timestamp(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * The task options from `--seq-len` and `--task-opt` on top of `base`.
 *
 * @param task - The task name.
 * @param values - Parsed command-line values.
 * @param base - Options to start from (e.g. a checkpoint's).
 * @returns The options object for `createTask` (validated there).
 * @throws UsageError when `--seq-len` does not apply to the task.
 */
export function resolveTaskOptions(
  task: TaskName,
  values: Readonly<Record<string, unknown>>,
  base: Record<string, unknown> = {},
): Record<string, unknown> {
  const options: Record<string, unknown> = { ...base, ...keyValueOptions(values['task-opt']) };
  if (values['seq-len'] !== undefined) {
    const names = tasks[task].options.map((o) => o.name);
    const max = LIMITS['seq-len'];
    if (names.includes('length')) options.length = intOption('seq-len', values['seq-len'], 0, 1, max);
    else if (names.includes('appendedZeros')) {
      options.appendedZeros = intOption('seq-len', values['seq-len'], 0, 784, max) - 784;
    } else throw new UsageError(`--seq-len does not apply to task '${task}'`);
  }
  return options;
}

/**
 * Resolves the values of `mru train` into a full `TrainConfig` (the task is created once to learn its
 * input and output sizes and to validate its options).
 *
 * @param values - Parsed command-line values.
 * @returns The config.
 * @throws UsageError on an unknown task or model or a bad value; the datasets' `OptionError` on a bad
 * task option.
 */
export async function resolveTrainConfig(values: Readonly<Record<string, unknown>>): Promise<TrainConfig> {
  const d = TRAIN_DEFAULTS;
  const task = choiceOption('task', values.task, taskNames, d.task);
  const model = choiceOption('model', values.model, MODEL_NAMES, d.model);
  const seed = intOption('seed', values.seed, d.seed, 0);
  const steps = intOption('steps', values.steps, d.steps, 1);
  const batch = intOption('batch', values.batch, d.batch, 1, LIMITS.batch);
  const taskOptions = resolveTaskOptions(task, values);
  taskOptions.seed ??= seed;
  const created = await createTask(task, taskOptions);
  const network = resolveNetworkConfig(
    applyNetOptions(
      networkConfig(model, created, {
        dModel: intOption('d-model', values['d-model'], d.dModel, 1, LIMITS['d-model']),
        dState: intOption('d-state', values['d-state'], d.dState, 1, LIMITS['d-state']),
        layers: intOption('layers', values.layers, d.layers, 1, LIMITS.layers),
        mlp: intOption('mlp', values.mlp, d.mlp, 0, LIMITS.mlp),
        dropout: numberOption('dropout', values.dropout, d.dropout, 0, 0.99),
      }),
      values['net-opt'],
    ),
  );
  const evalEvery = intOption(
    'eval-every',
    values['eval-every'],
    Math.max(1, Math.round(steps / 10)),
    1,
    LIMITS['eval-every'],
  );
  // Before anything is allocated: the sizes are each bounded, but not their product.
  const problem = memoryProblem({ network, batch, length: created.sequenceLength, training: true });
  if (problem) throw new UsageError(problem);
  return {
    task,
    taskOptions: created.options,
    model,
    network,
    steps,
    batch,
    seed,
    lr: numberOption('lr', values.lr, d.lr, 0, 10, true),
    lrFinalRatio: d.lrFinalRatio,
    beta1: d.beta1,
    beta2: d.beta2,
    weightDecay: numberOption('weight-decay', values['weight-decay'], d.weightDecay, 0, 1),
    clip: numberOption('clip', values.clip, d.clip, 0, Number.POSITIVE_INFINITY, true),
    evalEvery,
    evalBatches: intOption('eval-batches', values['eval-batches'], d.evalBatches, 1, LIMITS['eval-batches']),
    evalBatchSize: batch,
    logEvery: intOption(
      'log-every',
      values['log-every'],
      // At least ~100 points on the train curve (every step of a short run), at most a line per 10.
      Math.max(1, Math.min(d.logEvery, Math.floor(steps / 100))),
      1,
      LIMITS['log-every'],
    ),
    ...annealOptions(values, steps),
  };
}

const ANNEAL_TARGETS = ['epsilon', 'leak', 'both'] as const;

/**
 * The ε (or leak) annealing schedule of `--anneal` and its `--anneal-*` refinements, which imply it.
 *
 * @param values - Parsed command-line values.
 * @param steps - The run's length (the schedule's fractions refer to it).
 * @returns `{ epsilonSchedule }`, or nothing without annealing.
 * @throws UsageError on a bad fraction or target.
 */
function annealOptions(
  values: Readonly<Record<string, unknown>>,
  steps: number,
): { epsilonSchedule?: ResolvedEpsilonSchedule } {
  const refined = ['anneal-hold', 'anneal-ramp', 'anneal-target'].some((n) => values[n] !== undefined);
  if (!(values.anneal === true || values.anneal === 'true' || refined)) return {};
  const hold = numberOption('anneal-hold', values['anneal-hold'], 0.1, 0, 1);
  const ramp = numberOption('anneal-ramp', values['anneal-ramp'], 0.5, 0, 1);
  const target = choiceOption('anneal-target', values['anneal-target'], ANNEAL_TARGETS, 'epsilon');
  if (hold + ramp > 1 + 1e-12) {
    throw new UsageError(`--anneal-hold ${hold} plus --anneal-ramp ${ramp} exceed the whole run (1)`);
  }
  return { epsilonSchedule: resolveEpsilonSchedule({ totalSteps: steps, hold, ramp, target }) };
}

/**
 * Parses and validates the `train_config` a checkpoint stores, before anything is built from it: the
 * file may be damaged or edited (`null`, not JSON, a size of 1e9), and every field is read later by
 * code that trusts it.
 *
 * @param source - The checkpoint path, for messages.
 * @param raw - The metadata string (undefined when absent).
 * @param purpose - What the config is for (`resume from`, `evaluate`), for messages.
 * @returns The config.
 * @throws RunError naming the file and the first bad field.
 */
export function parseStoredTrainConfig(
  source: string,
  raw: string | undefined,
  purpose: string,
): TrainConfig {
  const fail = (why: string): never => {
    throw new RunError(`cannot ${purpose} ${source}: ${why}`);
  };
  if (raw === undefined) fail("it has no 'train_config' metadata (not a checkpoint written by 'mru train')");
  let c: unknown;
  try {
    c = JSON.parse(raw as string);
  } catch (error) {
    fail(`metadata 'train_config' is not valid JSON (${(error as Error).message})`);
  }
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    fail(`metadata 'train_config' is ${c === null ? 'null' : typeof c}, not a config object`);
  }
  const o = c as Record<string, unknown>;
  const field = (name: string, ok: (v: unknown) => boolean, what: string) => {
    if (!ok(o[name]))
      fail(`'train_config.${name}' is ${JSON.stringify(o[name]) ?? 'absent'}; expected ${what}`);
  };
  const int = (lo: number, hi: number) => (v: unknown) =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const obj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  field('task', (v) => (taskNames as readonly unknown[]).includes(v), `one of ${taskNames.join(', ')}`);
  field('model', (v) => (MODEL_NAMES as readonly unknown[]).includes(v), `one of ${MODEL_NAMES.join(', ')}`);
  field('taskOptions', obj, 'an object');
  field('network', obj, 'an object');
  field('steps', int(1, Number.MAX_SAFE_INTEGER), 'a positive integer');
  field('batch', int(1, LIMITS.batch), `an integer in [1, ${LIMITS.batch}]`);
  field('seed', int(0, Number.MAX_SAFE_INTEGER), 'a non-negative integer');
  field('evalEvery', int(1, LIMITS['eval-every']), 'a positive integer');
  field('evalBatches', int(1, LIMITS['eval-batches']), `an integer in [1, ${LIMITS['eval-batches']}]`);
  if (o.evalBatchSize !== undefined)
    field('evalBatchSize', int(1, LIMITS.batch), `an integer in [1, ${LIMITS.batch}]`);
  field('logEvery', int(1, LIMITS['log-every']), 'a positive integer');
  for (const name of ['lr', 'lrFinalRatio', 'beta1', 'beta2', 'weightDecay', 'clip'])
    field(name, num, 'a finite number');
  if (o.epsilonAnneal !== undefined) field('epsilonAnneal', (v) => typeof v === 'boolean', 'true or false');
  if (o.epsilonSchedule !== undefined) {
    try {
      resolveEpsilonSchedule(o.epsilonSchedule as EpsilonScheduleOptions);
    } catch (error) {
      fail(`'train_config.epsilonSchedule' is not a valid schedule (${(error as Error).message})`);
    }
  }
  const length = taskLength(o.task as TaskName, o.taskOptions as Record<string, unknown>);
  if (length !== null && !(Number.isInteger(length) && length >= 1 && length <= LIMITS['seq-len'])) {
    fail(`its task length ${length} is outside [1, ${LIMITS['seq-len']}]`);
  }
  return o as unknown as TrainConfig;
}

/**
 * Throws a `RunError` when one step of a stored config would not fit in memory (see `memoryProblem`).
 *
 * @param source - The checkpoint path.
 * @param purpose - `resume from` or `evaluate`.
 * @param facts - The sizes.
 */
export function checkStoredMemory(
  source: string,
  purpose: string,
  facts: Parameters<typeof memoryProblem>[0],
): void {
  const problem = memoryProblem(facts);
  if (problem) throw new RunError(`cannot ${purpose} ${source}: ${problem}`);
}
