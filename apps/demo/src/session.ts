/**
 * The demo's model work, free of the DOM so that the browser test can run the very same code in Node
 * on the CPU backend and compare: two one-layer networks, one with a BMRU and one with an LRU, of the
 * same width, trained side by side on the same batches of a synthetic memory task, then scored on
 * sequences ten times longer than any they saw.
 *
 * Everything is a pure function of the options (seeded task streams, seeded initialisation, no
 * dropout), so a given seed trains to the same losses on every backend up to float32 rounding.
 */
import { dispose, type Tensor, tensor, tidy, ValueError } from '@mru/core';
import {
  type Batch,
  type ClassificationBatch,
  copyFirstInput,
  flipFlop,
  type Metrics,
  type Task,
} from '@mru/datasets';
import { AdamW, createNetwork, evaluate, type Network, type ParamTree, trainStep } from '@mru/models';

/** The tasks the demo offers: both are pure memory tests with a known answer at any length. */
export const DEMO_TASKS = ['flip-flop', 'copy-first-input'] as const;

/** A task the demo offers. */
export type DemoTaskName = (typeof DEMO_TASKS)[number];

/** The two models trained side by side. */
export const DEMO_MODELS = ['bmru', 'lru'] as const;

/** One of the two models. */
export type DemoModelName = (typeof DEMO_MODELS)[number];

/** What the demo trains, and how. */
export interface DemoOptions {
  /** The task (default `'flip-flop'`). */
  readonly task?: DemoTaskName;
  /** Seed of the task streams and of both networks' initialisation, a non-negative integer (default 0). */
  readonly seed?: number;
  /** Training sequence length (default 64); the long test uses ten times it. */
  readonly length?: number;
  /** Sequences per batch (default 16). */
  readonly batch?: number;
  /** Width of the residual stream and of the recurrent state (default 16). */
  readonly width?: number;
  /** AdamW learning rate (default 1e-2). */
  readonly lr?: number;
}

/** {@link DemoOptions} with every default filled in. */
export type ResolvedDemoOptions = Required<DemoOptions>;

/** The defaults: small enough to train in a few seconds on a laptop's CPU. */
export const DEMO_DEFAULTS: ResolvedDemoOptions = {
  task: 'flip-flop',
  seed: 0,
  length: 64,
  batch: 16,
  width: 16,
  lr: 1e-2,
};

/** How much longer the test sequences are than the training ones. */
export const LONG_FACTOR = 10;

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValueError('DemoSession', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * Fills in defaults and validates: the options may come from a URL.
 *
 * @param options - What the caller set.
 * @returns Every option, checked.
 * @throws ValueError naming the option and its allowed range.
 */
export function resolveDemoOptions(options: DemoOptions = {}): ResolvedDemoOptions {
  const o = { ...DEMO_DEFAULTS, ...options };
  if (!DEMO_TASKS.includes(o.task)) {
    throw new ValueError(
      'DemoSession',
      `task must be one of ${DEMO_TASKS.join(', ')}, got ${String(o.task)}`,
    );
  }
  checkInteger('seed', o.seed, 0, 2 ** 31 - 1);
  checkInteger('length', o.length, 2, 10_000);
  checkInteger('batch', o.batch, 1, 1024);
  checkInteger('width', o.width, 1, 256);
  if (!(o.lr > 0 && o.lr <= 1)) throw new ValueError('DemoSession', `lr must be in (0, 1], got ${o.lr}`);
  return o;
}

/**
 * The task at a sequence length. flip-flop uses the signed encoding (one feature) and sets a bit on
 * 5% of the steps, so the gaps a model must bridge average 20 steps and, at ten times the length,
 * run to a few hundred.
 *
 * @param name - The task.
 * @param length - Sequence length.
 * @param seed - Seed of its streams.
 * @returns The task.
 */
export function demoTask(name: DemoTaskName, length: number, seed: number): Task {
  return name === 'flip-flop'
    ? flipFlop({ length, seed, encoding: 'signed', setProbability: 0.05 })
    : copyFirstInput({ length, seed });
}

/** One of the two models: its network, parameters and optimizer. */
export class DemoModel {
  /** `'bmru'` or `'lru'`. */
  readonly name: DemoModelName;
  /** The network (one block around the cell, a linear readout). */
  readonly network: Network;
  /** The current parameters. */
  params: ParamTree;
  readonly #optimizer: AdamW;

  /**
   * Builds the model for a task.
   *
   * @param name - Which cell.
   * @param task - The training task (sets input, output and readout).
   * @param options - Width, learning rate and seed.
   */
  constructor(name: DemoModelName, task: Task, options: ResolvedDemoOptions) {
    this.name = name;
    this.network = createNetwork({
      dIn: task.inputFeatures,
      dModel: options.width,
      dOut: task.outputSize,
      nLayers: 1,
      dropout: 0,
      readout: task.readout === 'every' ? 'all' : 'last',
      cell: { type: name, dState: options.width },
    });
    this.params = this.network.init(options.seed);
    this.#optimizer = new AdamW({ lr: options.lr, clipNorm: 1, meta: this.network.paramSpecs() });
  }

  /**
   * One optimizer step on a batch.
   *
   * @param batch - A batch of the training task.
   * @returns The loss before the step.
   */
  async trainStep(batch: Batch): Promise<number> {
    // The one training step of @mru/models (the CLI's too): masked task loss, clipping, AdamW.
    const { params, metrics } = await trainStep(
      { network: this.network, optimizer: this.#optimizer },
      this.params,
      batch,
    );
    this.params = params;
    return metrics.loss;
  }

  /** Frees the parameters. */
  dispose(): void {
    dispose(this.params);
  }
}

/**
 * Adds, per time step, the counted targets of a classification batch and how many of them the
 * predictions' argmax got right.
 */
function tally(
  predictions: ArrayLike<number>,
  batch: ClassificationBatch,
  right: Float64Array,
  counted: Float64Array,
): void {
  const { classes, mask, targets } = batch;
  if (!mask) return;
  const length = right.length;
  for (let j = 0; j < mask.length; j++) {
    if (mask[j] === 0) continue;
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (predictions[j * classes + c] > predictions[j * classes + best]) best = c;
    }
    if (best === targets[j]) right[j % length]++;
    counted[j % length]++;
  }
}

/** The BMRU's states on one sequence, for the switching view. */
export interface StateTrace {
  /** Time steps. */
  readonly length: number;
  /** Units. */
  readonly units: number;
  /**
   * `[length, units]` row-major: exactly ±1 once a unit has switched; before its first switch a unit
   * holds its learned initial state `s0`, near ±1.
   */
  readonly states: Float32Array;
  /** The sequence's inputs, `[length, features]`. */
  readonly inputs: Float32Array;
}

/** One model's score on the long test sequences. */
export interface LongResult {
  /** The task's metrics over the test batches. */
  readonly metrics: Metrics;
  /**
   * Per-step accuracy over the counted steps (flip-flop), `length` values (NaN where nothing counted);
   * empty for copy-first-input, which is read at the last step only.
   */
  readonly accuracyByStep: number[];
}

/** Two models trained side by side on one task. */
export class DemoSession {
  /** The options, defaults filled in. */
  readonly options: ResolvedDemoOptions;
  /** The training task. */
  readonly task: Task;
  /** The BMRU and the LRU. */
  readonly models: Readonly<Record<DemoModelName, DemoModel>>;
  /** Steps trained so far. */
  steps = 0;

  /**
   * Builds both models. Set the backend first (`setBackend` of @mru/core).
   *
   * @param options - Task, seed and sizes.
   */
  constructor(options: DemoOptions = {}) {
    this.options = resolveDemoOptions(options);
    this.task = demoTask(this.options.task, this.options.length, this.options.seed);
    this.models = {
      bmru: new DemoModel('bmru', this.task, this.options),
      lru: new DemoModel('lru', this.task, this.options),
    };
  }

  /**
   * Trains both models one step on the same training batch.
   *
   * @returns Each model's loss before the step.
   */
  async trainStep(): Promise<Record<DemoModelName, number>> {
    const batch = this.task.batch('train', this.steps, this.options.batch);
    const bmru = await this.models.bmru.trainStep(batch);
    const lru = await this.models.lru.trainStep(batch);
    this.steps++;
    return { bmru, lru };
  }

  /**
   * The BMRU's state at every step of one test sequence, stepping the network one step at a time
   * (the recurrent form; the parallel scan gives the same states).
   *
   * @param length - How many steps to trace (default the training length).
   * @returns The states and the inputs.
   */
  async bmruStates(length = this.options.length): Promise<StateTrace> {
    const task = demoTask(this.options.task, length, this.options.seed);
    const batch = task.batch('test', 0, 1);
    const { network, params } = this.models.bmru;
    const features = batch.inputShape[2];
    const units = this.options.width;
    const trace = tidy(() => {
      let state = network.initialState(params, 1);
      const rows: Tensor[] = [];
      for (let t = 0; t < length; t++) {
        const x = tensor(batch.inputs.subarray(t * features, (t + 1) * features), { shape: [1, features] });
        state = network.step(params, x, state).state;
        rows.push(state[0][0].s);
      }
      return rows;
    });
    const states = new Float32Array(length * units);
    for (const [t, row] of trace.entries()) states.set(await row.data(), t * units);
    dispose(trace);
    return { length, units, states, inputs: batch.inputs };
  }

  /**
   * Scores both models on test sequences `LONG_FACTOR` times the training length.
   *
   * @param batches - Test batches of `options.batch` sequences each (default 2).
   * @returns Each model's metrics and, for flip-flop, its accuracy at every step.
   */
  async evaluateLong(batches = 2): Promise<Record<DemoModelName, LongResult>> {
    const length = this.options.length * LONG_FACTOR;
    const task = demoTask(this.options.task, length, this.options.seed);
    const out = {} as Record<DemoModelName, LongResult>;
    for (const name of DEMO_MODELS) {
      const right = new Float64Array(length);
      const counted = new Float64Array(length);
      // The task scores each batch; the wrapper also tallies, for flip-flop, which steps were right.
      const scorer = {
        metrics: (predictions: ArrayLike<number>, batch: Batch): Metrics => {
          if (batch.loss === 'cross-entropy') tally(predictions, batch, right, counted);
          return task.metrics(predictions, batch);
        },
        combineMetrics: (parts: readonly Metrics[]) => task.combineMetrics(parts),
      };
      const { network, params } = this.models[name];
      const batchesOfTask = task.batches('test', this.options.batch, { count: batches });
      const metrics = await evaluate(network, params, batchesOfTask, scorer);
      out[name] = {
        metrics,
        accuracyByStep: task.loss === 'mse' ? [] : Array.from(right, (r, t) => r / counted[t]),
      };
    }
    return out;
  }

  /** Frees both models' tensors. */
  dispose(): void {
    this.models.bmru.dispose();
    this.models.lru.dispose();
  }
}
