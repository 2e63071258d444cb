/**
 * `@mru/datasets`: seeded, deterministic, backend-free tasks for memory recurrent units.
 *
 * Every task yields batches of plain typed arrays with their shapes (no tensor library needed), a
 * loss kind, a readout and its own metrics. Start with {@link createTask} or a task factory. The MNIST
 * loaders (`loadMnist`, `sequentialMnist`, `permutedMnist`) live in the entry point
 * `@mru/datasets/mnist`, so that bundles without MNIST do not carry its 20 MB of digits.
 *
 * @packageDocumentation
 */

export { ArgumentError, DatasetError, OptionError, UnknownTaskError } from './errors.js';
export { combineMetrics, computeMetrics, predictionShape } from './metrics.js';
export {
  type EnumOptionSpec,
  type IntegerOptionSpec,
  MAX_LENGTH,
  MAX_SEED,
  type NumberOptionSpec,
  type OptionSpec,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
export {
  createTask,
  isTaskName,
  type TaskEntry,
  type TaskName,
  type TaskOptionsByName,
  taskNames,
  tasks,
} from './registry.js';
export { hashString, Rng, splitWords } from './rng.js';
export {
  type ExampleView,
  type FiniteTaskDefinition,
  finiteTask,
  type GeneratedTaskDefinition,
  generatedTask,
} from './task.js';
export { type AddingOptions, adding, addingOptions } from './tasks/adding.js';
export {
  type CopyFirstInputOptions,
  copyFirstInput,
  copyFirstInputOptions,
} from './tasks/copy-first-input.js';
export { type DenoisingOptions, denoising, denoisingOptions } from './tasks/denoising.js';
export { type FlipFlopEncoding, type FlipFlopOptions, flipFlop, flipFlopOptions } from './tasks/flip-flop.js';
export {
  downsampleImage,
  MNIST_CLASSES,
  MNIST_DOWNSAMPLE_FACTORS,
  MNIST_PIXELS,
  type MnistData,
  type MnistSplit,
  mnistDataFromDigits,
  mnistPermutation,
  mnistSplit,
  mnistTask,
  type PermutedMnistOptions,
  permutedMnistOptions,
  type SequentialMnistOptions,
  sequentialMnistOptions,
} from './tasks/mnist.js';
export { type SelectiveCopyOptions, selectiveCopy, selectiveCopyOptions } from './tasks/selective-copy.js';
export type {
  Batch,
  BatchBase,
  BatchesOptions,
  ClassificationBatch,
  LossKind,
  MetricKind,
  Metrics,
  Readout,
  RegressionBatch,
  Split,
  SplitSizes,
  Task,
  TaskFacts,
} from './types.js';
