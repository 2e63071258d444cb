/**
 * The shapes every task shares: a batch of plain typed arrays with their shapes, and the task
 * interface a training loop drives.
 *
 * Design: a batch is self-describing. `loss` says which loss to apply, `readout` says which of the
 * model's time steps the targets belong to, and every array is row-major with its shape beside it,
 * so turning a batch into tensors is one constructor call per array, with no knowledge of the task.
 */

/**
 * The three disjoint streams of a task: training, validation (to choose checkpoints and settings
 * on) and the held-out test stream (scored once, at the end).
 */
export type Split = 'train' | 'validation' | 'test';

/** The loss a task is trained with. */
export type LossKind = 'mse' | 'cross-entropy';

/** The headline metric of a task: mean squared error (lower is better) or accuracy (higher is better). */
export type MetricKind = 'mse' | 'accuracy';

/**
 * Which of the model's outputs the targets refer to.
 *
 * - `'last'`: one output per sequence, read at the last time step.
 * - `'every'`: one output per time step; a `mask` says which steps count.
 */
export type Readout = 'last' | 'every';

/** Fields every batch has. */
export interface BatchBase {
  /** Model inputs, row-major `[batch, time, features]`. */
  readonly inputs: Float32Array;
  /** `[batch, time, features]`. The batch dimension may be smaller than asked at the end of an epoch of a finite data set. */
  readonly inputShape: readonly [batch: number, time: number, features: number];
  /** Which model outputs the targets refer to. */
  readonly readout: Readout;
  /**
   * Present for `readout: 'every'`: 1 where a step's target counts, 0 where it does not, with shape
   * `targetShape` (`[batch, time]`). Losses and metrics are means over the counted steps. Targets at
   * masked-out steps hold 0, a valid class, so they can be gathered safely.
   */
  readonly mask?: Float32Array;
}

/** A batch of a regression task (loss `'mse'`), read at the last step. */
export interface RegressionBatch extends BatchBase {
  /** The loss to apply. */
  readonly loss: 'mse';
  /** Real targets, row-major `[batch, outputs]`. */
  readonly targets: Float32Array;
  /** `[batch, outputs]`. */
  readonly targetShape: readonly [batch: number, outputs: number];
}

/** A batch of a classification task (loss `'cross-entropy'`). */
export interface ClassificationBatch extends BatchBase {
  /** The loss to apply. */
  readonly loss: 'cross-entropy';
  /** Class indices in `0..classes-1`: `[batch]` for readout `'last'`, `[batch, time]` for `'every'`. */
  readonly targets: Int32Array;
  /** `[batch]` or `[batch, time]`. */
  readonly targetShape: readonly [batch: number] | readonly [batch: number, time: number];
  /** The number of classes (the model's output size). */
  readonly classes: number;
}

/**
 * One batch of examples.
 *
 * Switch on `loss`: an `'mse'` batch has real `Float32Array` targets `[batch, outputs]` read at the
 * last step; a `'cross-entropy'` batch has `Int32Array` class indices, `[batch]` (last step) or
 * `[batch, time]` with a `mask` (every step).
 */
export type Batch = RegressionBatch | ClassificationBatch;

/**
 * Metrics of predictions against one batch's targets, computed in float64.
 *
 * Means are over `count` items (sequences, or counted time steps for readout `'every'`), so metrics
 * of several batches combine with {@link combineMetrics}.
 */
export interface Metrics {
  /** The task's loss: mean squared error, or mean cross-entropy (natural log) of the logits. */
  readonly loss: number;
  /** Mean squared error (regression tasks). */
  readonly mse?: number;
  /** Fraction of items whose argmax prediction is the target class (classification tasks). */
  readonly accuracy?: number;
  /** Fraction of sequences whose every counted step is right (classification with readout `'every'`). */
  readonly sequenceAccuracy?: number;
  /** How many items the means are over (values for `mse`: sequences times outputs). */
  readonly count: number;
  /** How many sequences the batch held. */
  readonly sequences: number;
}

/**
 * Options of {@link Task.batches}.
 */
export interface BatchesOptions {
  /** The first batch index (default 0). */
  readonly start?: number;
  /** How many batches to yield (default: one epoch for a finite data set, unbounded otherwise). */
  readonly count?: number;
}

/** The sizes of a finite data set's splits. */
export interface SplitSizes {
  /** Number of training examples. */
  readonly train: number;
  /** Number of validation examples. */
  readonly validation: number;
  /** Number of test examples. */
  readonly test: number;
}

/** The facts of a task that a training loop needs to build a model for it and to score it. */
export interface TaskFacts {
  /** The registry name, e.g. `'copy-first-input'`. */
  readonly name: string;
  /** One sentence on what the task asks of a model. */
  readonly description: string;
  /** The options after defaults were filled in and validation passed. */
  readonly options: Readonly<Record<string, number | string>>;
  /** Number of input features per time step (`inputShape[2]`). */
  readonly inputFeatures: number;
  /** Number of model outputs per read step: regression outputs, or classes. */
  readonly outputSize: number;
  /** Number of time steps of every sequence (`inputShape[1]`). */
  readonly sequenceLength: number;
  /** The loss to train with. */
  readonly loss: LossKind;
  /** The headline metric. */
  readonly metric: MetricKind;
  /** Which model outputs the targets refer to. */
  readonly readout: Readout;
}

/**
 * A task: a deterministic source of batches plus the facts a training loop needs to build a model
 * for it and to score it.
 *
 * Determinism: for given options (including `seed`), `batch(split, index, batchSize)` always returns
 * identical arrays. The train, validation and test streams are generated from different derived keys
 * (or, for MNIST, drawn from disjoint sets of digits).
 */
export interface Task extends TaskFacts {
  /** Split sizes of a finite data set; `undefined` for generated tasks, whose streams are unbounded. */
  readonly sizes: SplitSizes | undefined;

  /**
   * Returns one batch. Example `p = index * batchSize + b` of the split's stream fills row `b`, so an
   * example does not depend on the batch size. For a finite data set the stream is a sequence of
   * epochs (the training split reshuffled for each epoch from the seed, the test split in a fixed
   * order); an epoch is `ceil(size / batchSize)` batches, the last one possibly smaller.
   *
   * @param split - `'train'`, `'validation'` or `'test'`.
   * @param index - The batch index, a non-negative integer.
   * @param batchSize - Examples per batch, a positive integer.
   * @returns A fresh batch (its arrays are not shared with any other batch).
   * @throws {@link ArgumentError} on a bad split, index or batch size.
   */
  batch(split: Split, index: number, batchSize: number): Batch;

  /**
   * Iterates `batch(split, start + i, batchSize)` for `i = 0, 1, ...`.
   *
   * @param split - `'train'`, `'validation'` or `'test'`.
   * @param batchSize - Examples per batch.
   * @param options - First index and count.
   * @returns An iterable of batches.
   */
  batches(split: Split, batchSize: number, options?: BatchesOptions): IterableIterator<Batch>;

  /**
   * Number of batches in one epoch of a split for a batch size: `ceil(size / batchSize)` for a finite
   * data set, `Infinity` for a generated task.
   *
   * @param split - `'train'`, `'validation'` or `'test'`.
   * @param batchSize - Examples per batch.
   * @returns The batch count of one epoch.
   */
  batchesPerEpoch(split: Split, batchSize: number): number;

  /**
   * The shape predictions must have for a batch: `[batch, outputs]` (readout `'last'`) or
   * `[batch, time, outputs]` (readout `'every'`); for classification, `outputs` is `classes` logits.
   *
   * @param batch - A batch of this task.
   * @returns The expected prediction shape.
   */
  predictionShape(batch: Batch): number[];

  /**
   * Scores predictions (real outputs, or logits for classification) against a batch's targets.
   *
   * @param predictions - Row-major, shaped as {@link Task.predictionShape} says.
   * @param batch - The batch the predictions are for.
   * @returns The task's loss and metrics.
   * @throws {@link ArgumentError} when `predictions` has the wrong length.
   */
  metrics(predictions: ArrayLike<number>, batch: Batch): Metrics;

  /**
   * Combines the metrics of several batches of this task ({@link combineMetrics}), so a task is the
   * whole scorer an evaluation loop needs (`evaluate` of `@mru/models` takes it as is).
   *
   * @param parts - Metrics of batches.
   * @returns The metrics of their union.
   */
  combineMetrics(parts: readonly Metrics[]): Metrics;
}
