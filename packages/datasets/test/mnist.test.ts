import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Batch,
  downsampleImage,
  MNIST_PIXELS,
  type MnistData,
  mnistDataFromDigits,
  mnistPermutation,
  mnistSplit,
  mnistTask,
  type Task,
} from '../src/index.js';
import { loadMnist, permutedMnist, sequentialMnist } from '../src/mnist.js';

// Loading the package's 21 MB of JSON takes a few hundred milliseconds: once for the whole file.
let data: MnistData;
let sequential: Task;
beforeAll(async () => {
  data = await loadMnist();
  sequential = await sequentialMnist({ seed: 3 });
});

/** The stored index of the digit in row `b`, found by its pixels (tests only: slow, exact). */
function imageKey(batch: Batch, b: number): string {
  const pixels = batch.inputs.subarray(b * batch.inputShape[1], b * batch.inputShape[1] + MNIST_PIXELS);
  return Array.from(pixels, (v) => Math.round(v * 255)).join(',');
}

describe('MNIST data', () => {
  it('loads the 10,000 digits of the npm package once, as integer intensities', async () => {
    expect(await loadMnist()).toBe(data);
    expect(data.count).toBe(10_000);
    expect(data.images.length).toBe(10_000 * MNIST_PIXELS);
    const perLabel = new Array(10).fill(0);
    for (const label of data.labels) perLabel[label]++;
    expect(perLabel).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(Math.max(...data.images.subarray(0, 100 * MNIST_PIXELS))).toBe(255);
  });

  it('recovers intensities from the package values (intensity / 255 rounded to 3 decimals)', () => {
    const converted = mnistDataFromDigits([
      { raw: new Array(MNIST_PIXELS).fill(0).map((_, i) => [0, 0.992, 1, 0.004][i % 4]) },
    ]);
    expect(Array.from(converted.images.subarray(0, 4))).toEqual([0, 253, 255, 1]);
    expect(() => mnistDataFromDigits([{ raw: [0, 1] }])).toThrow(/not a multiple of 784/);
  });

  it('splits 7,000 / 1,000 / 2,000 disjointly and deterministically', () => {
    const split = mnistSplit(10_000);
    expect(split.train.length).toBe(7000);
    expect(split.validation.length).toBe(1000);
    expect(split.test.length).toBe(2000);
    const all = new Set([...split.train, ...split.validation, ...split.test]);
    expect(all.size).toBe(10_000);
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBe(9999);
    expect(Array.from(mnistSplit(10_000).test)).toEqual(Array.from(split.test));
    expect(Array.from(mnistSplit(10_000).validation)).toEqual(Array.from(split.validation));
    // The validation digits hold every class too.
    expect(new Set(Array.from(split.validation, (i) => data.labels[i])).size).toBe(10);
    // The split is a shuffle, not digits 0-7 versus 8-9: the test set holds every class.
    expect(new Set(Array.from(split.test, (i) => data.labels[i])).size).toBe(10);
  });

  it('has one fixed pixel permutation per permutation seed', () => {
    const perm = mnistPermutation();
    expect(Array.from(perm).sort((a, b) => a - b)).toEqual(Array.from({ length: MNIST_PIXELS }, (_, i) => i));
    expect(Array.from(mnistPermutation(0))).toEqual(Array.from(perm));
    expect(Array.from(mnistPermutation(1))).not.toEqual(Array.from(perm));
  });
});

describe('sequential MNIST', () => {
  it('yields pixels / 255 in [0, 1] and labels 0..9 read at the last step', () => {
    expect(sequential).toMatchObject({
      name: 'sequential-mnist',
      inputFeatures: 1,
      outputSize: 10,
      sequenceLength: 784,
      loss: 'cross-entropy',
      metric: 'accuracy',
      readout: 'last',
      sizes: { train: 7000, validation: 1000, test: 2000 },
    });
    const batch = sequential.batch('test', 0, 50);
    expect(batch.inputShape).toEqual([50, 784, 1]);
    expect(batch.targetShape).toEqual([50]);
    expect(Math.min(...batch.inputs)).toBe(0);
    expect(Math.max(...batch.inputs)).toBe(1);
    // Every value is k / 255 for an integer k.
    expect(batch.inputs.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-4)).toBe(true);
    expect(new Set(batch.targets).size).toBeGreaterThan(5);
    expect(batch.targets.every((label) => label >= 0 && label <= 9)).toBe(true);
    // Row b of test batch 0 is the test split's b-th digit, with its label.
    const split = mnistSplit(10_000);
    const digit = split.test[7];
    expect(batch.targets[7]).toBe(data.labels[digit]);
    expect(imageKey(batch, 7)).toBe(
      Array.from(data.images.subarray(digit * 784, (digit + 1) * 784)).join(','),
    );
  });

  it('serves the test split in a fixed order in epochs with a smaller last batch', () => {
    expect(sequential.batchesPerEpoch('test', 64)).toBe(32);
    const last = sequential.batch('test', 31, 64);
    expect(last.inputShape[0]).toBe(2000 - 31 * 64);
    const batches = [...sequential.batches('test', 500)];
    expect(batches.map((b) => b.inputShape[0])).toEqual([500, 500, 500, 500]);
    // The next epoch of the test split repeats it exactly.
    expect(Array.from(sequential.batch('test', 4, 500).targets)).toEqual(Array.from(batches[0].targets));
  });

  it('visits every training digit once per epoch, reshuffled by the seed for each epoch', () => {
    const epoch0 = sequential.batch('train', 0, 7000);
    const epoch1 = sequential.batch('train', 1, 7000);
    const train = new Set(Array.from(mnistSplit(10_000).train));
    const labelCounts = (batch: Batch) => {
      const counts = new Array(10).fill(0);
      for (const label of batch.targets) counts[label]++;
      return counts;
    };
    const expectedCounts = new Array(10).fill(0);
    for (const i of train) expectedCounts[data.labels[i]]++;
    expect(labelCounts(epoch0)).toEqual(expectedCounts);
    expect(labelCounts(epoch1)).toEqual(expectedCounts);
    expect(Array.from(epoch1.targets)).not.toEqual(Array.from(epoch0.targets));
    // Train and test digits never overlap (compared by pixels on a sample of each).
    const testKeys = new Set(
      Array.from({ length: 200 }, (_, b) => imageKey(sequential.batch('test', 0, 200), b)),
    );
    const trainBatch = sequential.batch('train', 0, 400);
    let shared = 0;
    for (let b = 0; b < 400; b++) if (testKeys.has(imageKey(trainBatch, b))) shared++;
    expect(shared).toBe(0);
  });

  it('is deterministic for a seed, and the seed orders training only', async () => {
    const same = await sequentialMnist({ seed: 3 });
    expect(Array.from(same.batch('train', 3, 16).inputs)).toEqual(
      Array.from(sequential.batch('train', 3, 16).inputs),
    );
    const other = await sequentialMnist({ seed: 4 });
    expect(Array.from(other.batch('train', 3, 16).targets)).not.toEqual(
      Array.from(sequential.batch('train', 3, 16).targets),
    );
    expect(Array.from(other.batch('test', 0, 16).inputs)).toEqual(
      Array.from(sequential.batch('test', 0, 16).inputs),
    );
  });

  it('appends zeros after the pixels', () => {
    const task = mnistTask(data, false, { appendedZeros: 300 });
    expect(task.sequenceLength).toBe(1084);
    const batch = task.batch('test', 0, 4);
    const plain = sequential.batch('test', 0, 4);
    for (let b = 0; b < 4; b++) {
      const seq = batch.inputs.subarray(b * 1084, (b + 1) * 1084);
      expect(Array.from(seq.subarray(0, 784))).toEqual(
        Array.from(plain.inputs.subarray(b * 784, (b + 1) * 784)),
      );
      expect(seq.subarray(784).every((v) => v === 0)).toBe(true);
    }
  });
});

describe('permuted MNIST', () => {
  it('shows the same digits with pixels in the fixed permuted order', async () => {
    const task = await permutedMnist({ seed: 3 });
    expect(task.name).toBe('permuted-mnist');
    const perm = mnistPermutation(0);
    const permuted = task.batch('test', 2, 8);
    const plain = sequential.batch('test', 2, 8);
    expect(Array.from(permuted.targets)).toEqual(Array.from(plain.targets));
    for (let b = 0; b < 8; b++) {
      for (let t = 0; t < 784; t++) {
        expect(permuted.inputs[b * 784 + t]).toBe(plain.inputs[b * 784 + perm[t]]);
      }
    }
    const otherPermutation = mnistTask(data, true, { permutationSeed: 1 });
    expect(Array.from(otherPermutation.batch('test', 2, 8).inputs)).not.toEqual(Array.from(permuted.inputs));
  });

  it('validates options', async () => {
    await expect(sequentialMnist({ appendedZeros: -1 })).rejects.toThrow(
      'sequential-mnist: option "appendedZeros" must be an integer in [0, 1000000], got -1',
    );
    await expect(sequentialMnist({ permutationSeed: 1 } as never)).rejects.toThrow(
      'sequential-mnist: unknown option "permutationSeed"; valid options: appendedZeros, seed',
    );
    await expect(permutedMnist({ permutationSeed: 0.5 })).rejects.toThrow(
      /"permutationSeed" must be an integer/,
    );
  });
});

describe('MNIST options: downsampling and centred pixels', () => {
  it('downsample 2 gives 196 steps of 2 x 2 block means; centred shifts by -0.5', async () => {
    const small = await sequentialMnist({ seed: 3, downsample: 2, appendedZeros: 4 });
    expect(small.sequenceLength).toBe(200);
    const full = sequential.batch('test', 0, 2);
    const b = small.batch('test', 0, 2);
    expect(b.inputShape).toEqual([2, 200, 1]);
    for (let row = 0; row < 2; row++) {
      const image = full.inputs.subarray(row * 784, row * 784 + 784);
      for (const [r, c] of [
        [0, 0],
        [7, 7],
        [10, 3],
        [13, 13],
      ]) {
        const expected =
          (image[2 * r * 28 + 2 * c] +
            image[2 * r * 28 + 2 * c + 1] +
            image[(2 * r + 1) * 28 + 2 * c] +
            image[(2 * r + 1) * 28 + 2 * c + 1]) /
          4;
        expect(b.inputs[row * 200 + r * 14 + c]).toBeCloseTo(expected, 5);
      }
      expect(Array.from(b.inputs.subarray(row * 200 + 196, row * 200 + 200))).toEqual([0, 0, 0, 0]);
    }
    expect(Array.from(b.targets)).toEqual(Array.from(full.targets));
    const centred = await sequentialMnist({ seed: 3, pixelRange: 'centred' });
    const c = centred.batch('test', 0, 2);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < c.inputs.length; i++) {
      expect(c.inputs[i]).toBeCloseTo(full.inputs[i] - 0.5, 6);
      lo = Math.min(lo, c.inputs[i]);
      hi = Math.max(hi, c.inputs[i]);
    }
    expect(lo).toBe(-0.5);
    expect(hi).toBeCloseTo(0.5, 6);
  });

  it('downsampleImage averages blocks exactly and rejects factors that do not divide 28', async () => {
    const ramp = Array.from({ length: 784 }, (_, i) => i);
    const pooled = downsampleImage(ramp, 28);
    expect(Array.from(pooled)).toEqual([391.5]);
    await expect(sequentialMnist({ downsample: 3 })).rejects.toThrow(/must divide 28/);
    const permuted = await permutedMnist({ downsample: 4 });
    expect(permuted.sequenceLength).toBe(49);
  });
});
