/**
 * Turns a task definition (its facts plus a function that writes one example) into a {@link Task}.
 *
 * Design: a task author writes only `fill`, which writes one example's inputs, targets and mask into
 * views of the batch arrays. This module owns everything shared: argument checks, allocation,
 * seeding, the mapping from a batch index to examples, iteration and metrics.
 *
 * - Generated tasks: example `p` of a split is written from a generator keyed by
 *   `(seed, task name, split, p)`, so streams are unbounded, random-access, independent of the batch
 *   size, and the train, validation and test streams never share a key.
 * - Finite data sets: example `p` lies in epoch `floor(p / size)`; the training split is visited in a
 *   fresh seeded order each epoch, the validation and test splits always in their stored order. An epoch is
 *   `ceil(size / batchSize)` batches and its last batch may be smaller.
 */

import { ArgumentError } from './errors.js';
import { combineMetrics, computeMetrics, predictionShape } from './metrics.js';
import { hashString, Rng, splitWords } from './rng.js';
import type { Batch, BatchesOptions, Split, SplitSizes, Task, TaskFacts } from './types.js';

/** Views of one example's slice of the batch arrays, for a task's `fill` to write into. */
export interface ExampleView {
  /** `[time, features]`, zero-filled. */
  readonly inputs: Float32Array;
  /** `[outputs]` (regression), `[1]` (classification, last step) or `[time]` (every step), zero-filled. */
  readonly targets: Float32Array | Int32Array;
  /** `[time]`, zero-filled, for readout `'every'`; an empty array otherwise. */
  readonly mask: Float32Array;
}

/** A generated task: its facts and a writer of one example from a keyed generator. */
export interface GeneratedTaskDefinition extends TaskFacts {
  /** The seed the example keys derive from. */
  readonly seed: number;
  /**
   * Writes one example.
   *
   * @param rng - A generator keyed to this example alone.
   * @param example - Zero-filled views to write into.
   */
  fill(rng: Rng, example: ExampleView): void;
}

/** A finite data set: its facts, split sizes, and a writer of one stored example. */
export interface FiniteTaskDefinition extends TaskFacts {
  /** The seed the per-epoch training orders derive from. */
  readonly seed: number;
  /** Examples per split. */
  readonly sizes: SplitSizes;
  /**
   * Writes one example.
   *
   * @param split - The split it belongs to.
   * @param item - Its index within the split, in `0..sizes[split]-1`.
   * @param example - Zero-filled views to write into.
   */
  fill(split: Split, item: number, example: ExampleView): void;
}

const SPLIT_TAG: Readonly<Record<Split, number>> = { train: 0x7a41, validation: 0x7a1d, test: 0x7e57 };
const EPOCH_ORDER_TAG = 0xe90c;

function checkSplit(split: unknown): asserts split is Split {
  if (split !== 'train' && split !== 'validation' && split !== 'test') {
    throw new ArgumentError(`split must be "train", "validation" or "test", got ${JSON.stringify(split)}`);
  }
}

function checkBatchSize(batchSize: unknown): asserts batchSize is number {
  if (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new ArgumentError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  }
}

function checkIndex(name: string, index: unknown): asserts index is number {
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
    throw new ArgumentError(`${name} must be a non-negative integer, got ${String(index)}`);
  }
}

function targetsPerExample(facts: TaskFacts): number {
  if (facts.loss === 'mse') return facts.outputSize;
  return facts.readout === 'every' ? facts.sequenceLength : 1;
}

/** Allocates a batch of `rows` examples and lets `fillRow` write each one. */
function assemble(
  facts: TaskFacts,
  rows: number,
  fillRow: (row: number, example: ExampleView) => void,
): Batch {
  const stepSize = facts.sequenceLength * facts.inputFeatures;
  const perTarget = targetsPerExample(facts);
  const every = facts.readout === 'every';
  const inputs = new Float32Array(rows * stepSize);
  const targets =
    facts.loss === 'mse' ? new Float32Array(rows * perTarget) : new Int32Array(rows * perTarget);
  const mask = every ? new Float32Array(rows * facts.sequenceLength) : undefined;
  const emptyMask = new Float32Array(0);
  for (let row = 0; row < rows; row++) {
    fillRow(row, {
      inputs: inputs.subarray(row * stepSize, (row + 1) * stepSize),
      targets: targets.subarray(row * perTarget, (row + 1) * perTarget),
      mask: mask ? mask.subarray(row * facts.sequenceLength, (row + 1) * facts.sequenceLength) : emptyMask,
    });
  }
  const inputShape = [rows, facts.sequenceLength, facts.inputFeatures] as const;
  const common = { inputs, inputShape, readout: facts.readout, ...(mask ? { mask } : {}) };
  if (facts.loss === 'mse') {
    return { ...common, loss: 'mse', targets: targets as Float32Array, targetShape: [rows, perTarget] };
  }
  return {
    ...common,
    loss: 'cross-entropy',
    targets: targets as Int32Array,
    targetShape: every ? [rows, facts.sequenceLength] : [rows],
    classes: facts.outputSize,
  };
}

function build(
  facts: TaskFacts,
  sizes: SplitSizes | undefined,
  makeBatch: (split: Split, index: number, batchSize: number) => Batch,
): Task {
  if (facts.loss === 'mse' && facts.readout !== 'last') {
    throw new ArgumentError(
      `${facts.name}: regression (mse) tasks are read at the last step (readout 'last')`,
    );
  }
  const batchesPerEpoch = (split: Split, batchSize: number): number => {
    checkSplit(split);
    checkBatchSize(batchSize);
    return sizes === undefined ? Number.POSITIVE_INFINITY : Math.ceil(sizes[split] / batchSize);
  };
  const task: Task = {
    name: facts.name,
    description: facts.description,
    options: Object.freeze({ ...facts.options }),
    inputFeatures: facts.inputFeatures,
    outputSize: facts.outputSize,
    sequenceLength: facts.sequenceLength,
    loss: facts.loss,
    metric: facts.metric,
    readout: facts.readout,
    sizes,
    batch(split, index, batchSize) {
      checkSplit(split);
      checkIndex('batch index', index);
      checkBatchSize(batchSize);
      return makeBatch(split, index, batchSize);
    },
    batches(split, batchSize, options: BatchesOptions = {}) {
      // Validate now, not at the first `next()`, so a bad call fails where it is made.
      const perEpoch = batchesPerEpoch(split, batchSize);
      const start = options.start ?? 0;
      checkIndex('start', start);
      const count = options.count ?? perEpoch;
      if (count !== Number.POSITIVE_INFINITY) checkIndex('count', count);
      return (function* () {
        for (let i = 0; i < count; i++) yield task.batch(split, start + i, batchSize);
      })();
    },
    batchesPerEpoch,
    predictionShape,
    metrics: computeMetrics,
    combineMetrics,
  };
  return Object.freeze(task);
}

/**
 * Builds a task whose examples are generated on demand from keyed generators.
 *
 * @param definition - The task's facts, seed and example writer.
 * @returns The task.
 */
export function generatedTask(definition: GeneratedTaskDefinition): Task {
  const [seedLow, seedHigh] = splitWords(definition.seed);
  const nameTag = hashString(definition.name);
  return build(definition, undefined, (split, index, batchSize) => {
    const first = index * batchSize;
    if (!Number.isSafeInteger(first + batchSize)) {
      throw new ArgumentError(
        `batch index ${index} times batchSize ${batchSize} exceeds the safe integer range`,
      );
    }
    return assemble(definition, batchSize, (row, example) => {
      const [low, high] = splitWords(first + row);
      definition.fill(Rng.fromKey([seedLow, seedHigh, nameTag, SPLIT_TAG[split], low, high]), example);
    });
  });
}

/**
 * Builds a task over a finite data set, served in epochs.
 *
 * @param definition - The task's facts, seed, split sizes and example writer.
 * @returns The task.
 */
export function finiteTask(definition: FiniteTaskDefinition): Task {
  const [seedLow, seedHigh] = splitWords(definition.seed);
  const nameTag = hashString(definition.name);
  let cachedEpoch = -1;
  let cachedOrder: Int32Array = new Int32Array(0);
  const trainOrder = (epoch: number): Int32Array => {
    if (epoch !== cachedEpoch) {
      const [low, high] = splitWords(epoch);
      const rng = Rng.fromKey([seedLow, seedHigh, nameTag, EPOCH_ORDER_TAG, low, high]);
      cachedOrder = rng.permutation(definition.sizes.train);
      cachedEpoch = epoch;
    }
    return cachedOrder;
  };
  return build(definition, definition.sizes, (split, index, batchSize) => {
    const size = definition.sizes[split];
    if (size === 0) throw new ArgumentError(`${definition.name}: the ${split} split is empty`);
    const perEpoch = Math.ceil(size / batchSize);
    const epoch = Math.floor(index / perEpoch);
    const first = (index % perEpoch) * batchSize;
    const rows = Math.min(batchSize, size - first);
    const order = split === 'train' ? trainOrder(epoch) : undefined;
    return assemble(definition, rows, (row, example) => {
      const position = first + row;
      definition.fill(split, order ? order[position] : position, example);
    });
  });
}
