import { describe, expect, it } from 'vitest';
import {
  adding,
  type Batch,
  copyFirstInput,
  denoising,
  flipFlop,
  OptionError,
  selectiveCopy,
  type Task,
} from '../src/index.js';
import { input, row } from './helpers.js';

const factories: Record<string, (seed: number) => Task> = {
  'copy-first-input': (seed) => copyFirstInput({ length: 12, seed }),
  denoising: (seed) => denoising({ length: 30, noEnd: 10, seed }),
  adding: (seed) => adding({ length: 12, seed }),
  'flip-flop': (seed) => flipFlop({ length: 25, setProbability: 0.2, seed }),
  'selective-copy': (seed) => selectiveCopy({ length: 20, tokens: 4, seed }),
};

function arrays(batch: Batch): number[][] {
  return [Array.from(batch.inputs), Array.from(batch.targets), Array.from(batch.mask ?? [])];
}

describe.each(Object.entries(factories))('%s: determinism and shapes', (name, make) => {
  const task = make(1);

  it('has consistent facts and shapes', () => {
    expect(task.name).toBe(name);
    expect(task.sizes).toBeUndefined();
    expect(task.batchesPerEpoch('train', 8)).toBe(Number.POSITIVE_INFINITY);
    const batch = task.batch('train', 0, 3);
    expect(batch.inputShape).toEqual([3, task.sequenceLength, task.inputFeatures]);
    expect(batch.inputs.length).toBe(3 * task.sequenceLength * task.inputFeatures);
    expect(batch.loss).toBe(task.loss);
    expect(batch.readout).toBe(task.readout);
    if (batch.loss === 'mse') {
      expect(batch.targetShape).toEqual([3, task.outputSize]);
      expect(batch.targets).toBeInstanceOf(Float32Array);
      expect(batch.mask).toBeUndefined();
    } else {
      expect(batch.classes).toBe(task.outputSize);
      expect(batch.targets).toBeInstanceOf(Int32Array);
      expect(batch.targetShape).toEqual([3, task.sequenceLength]);
      expect(batch.mask?.length).toBe(3 * task.sequenceLength);
      for (const target of batch.targets) expect(target >= 0 && target < task.outputSize).toBe(true);
    }
    expect(batch.targets.length).toBe(batch.targetShape.reduce((a, b) => a * b, 1));
    expect(task.predictionShape(batch)).toEqual(
      task.readout === 'every' ? [3, task.sequenceLength, task.outputSize] : [3, task.outputSize],
    );
  });

  it('gives identical arrays for the same seed and index, different ones otherwise', () => {
    const again = make(1);
    expect(arrays(again.batch('train', 5, 4))).toEqual(arrays(task.batch('train', 5, 4)));
    expect(arrays(task.batch('train', 5, 4))).toEqual(arrays(task.batch('train', 5, 4)));
    expect(Array.from(make(2).batch('train', 5, 4).inputs)).not.toEqual(
      Array.from(task.batch('train', 5, 4).inputs),
    );
    expect(Array.from(task.batch('train', 6, 4).inputs)).not.toEqual(
      Array.from(task.batch('train', 5, 4).inputs),
    );
    expect(Array.from(task.batch('test', 5, 4).inputs)).not.toEqual(
      Array.from(task.batch('train', 5, 4).inputs),
    );
    // The validation stream is a third stream, disjoint from both, and as deterministic.
    const validation = Array.from(task.batch('validation', 5, 4).inputs);
    expect(validation).not.toEqual(Array.from(task.batch('train', 5, 4).inputs));
    expect(validation).not.toEqual(Array.from(task.batch('test', 5, 4).inputs));
    expect(Array.from(again.batch('validation', 5, 4).inputs)).toEqual(validation);
  });

  it('serves example p in the same form whatever the batch size', () => {
    const big = task.batch('test', 1, 4); // examples 4..7
    const small = task.batch('test', 3, 2); // examples 6..7
    expect(Array.from(small.inputs)).toEqual(
      Array.from(row(big.inputs, big.inputShape, 2)).concat(Array.from(row(big.inputs, big.inputShape, 3))),
    );
    expect(Array.from(small.targets)).toEqual(Array.from(big.targets.subarray(big.targets.length / 2)));
  });

  it('iterates batches in index order', () => {
    const list = [...task.batches('train', 2, { start: 3, count: 2 })];
    expect(list.length).toBe(2);
    expect(arrays(list[1])).toEqual(arrays(task.batch('train', 4, 2)));
    const first = task.batches('test', 2).next();
    expect(first.done).toBe(false);
  });

  it('rejects bad batch arguments with clear errors', () => {
    expect(() => task.batch('valid' as 'train', 0, 2)).toThrow(
      /split must be "train", "validation" or "test", got "valid"/,
    );
    expect(() => task.batch('train', -1, 2)).toThrow(/batch index must be a non-negative integer, got -1/);
    expect(() => task.batch('train', 0, 0)).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => task.batch('train', 0, 1.5)).toThrow(/batchSize/);
    expect(() => task.batches('train', 2, { count: -2 })).toThrow(/count must be a non-negative integer/);
  });
});

describe('copy-first-input', () => {
  it('targets x_1, with Gaussian inputs', () => {
    const task = copyFirstInput({ length: 50, seed: 3 });
    const batch = task.batch('train', 0, 200);
    let sumSq = 0;
    for (let b = 0; b < 200; b++) {
      expect(batch.targets[b]).toBe(input(batch, b, 0, 0));
      for (let t = 0; t < 50; t++) sumSq += input(batch, b, t, 0) ** 2;
    }
    expect(sumSq / (200 * 50)).toBeGreaterThan(0.9);
    expect(sumSq / (200 * 50)).toBeLessThan(1.1);
    expect(task).toMatchObject({
      loss: 'mse',
      metric: 'mse',
      readout: 'last',
      outputSize: 1,
      inputFeatures: 1,
    });
    expect(copyFirstInput().sequenceLength).toBe(100);
  });

  it('validates its options', () => {
    expect(() => copyFirstInput({ length: 0 })).toThrow(OptionError);
    expect(() => copyFirstInput({ length: 0 })).toThrow(
      'copy-first-input: option "length" must be an integer in [1, 1000000], got 0',
    );
    expect(() => copyFirstInput({ length: 2.5 })).toThrow(/"length" must be an integer/);
    expect(() => copyFirstInput({ length: '5' as unknown as number })).toThrow(/got "5" \(a string\)/);
    expect(() => copyFirstInput({ seed: -1 })).toThrow(
      /"seed" must be an integer in \[0, 9007199254740991\]/,
    );
    expect(() => copyFirstInput({ lenght: 5 } as never)).toThrow(
      'copy-first-input: unknown option "lenght"; valid options: length, seed',
    );
    try {
      copyFirstInput({ length: -3 });
    } catch (error) {
      expect(error).toMatchObject({ name: 'OptionError', task: 'copy-first-input', option: 'length' });
    }
  });
});

describe('denoising', () => {
  it('marks exactly `relevant` positions within the first T - noEnd steps and targets their values in order', () => {
    for (const noEnd of [0, 200]) {
      const task = denoising({ noEnd, seed: 9 });
      expect(task.sequenceLength).toBe(401);
      expect(task.outputSize).toBe(5);
      const batch = task.batch('train', 2, 16);
      for (let b = 0; b < 16; b++) {
        const marked: number[] = [];
        for (let t = 0; t < 400; t++) {
          const m = input(batch, b, t, 1);
          expect(m === 0 || m === -1).toBe(true);
          if (m === 0) marked.push(t);
        }
        expect(marked.length).toBe(5);
        for (const t of marked) expect(t).toBeLessThan(400 - noEnd);
        expect(Array.from(row(batch.targets, batch.targetShape, b))).toEqual(
          marked.map((t) => input(batch, b, t, 0)),
        );
        expect([input(batch, b, 400, 0), input(batch, b, 400, 1)]).toEqual([0, 1]);
      }
    }
  });

  it('validates noEnd against length and relevant', () => {
    expect(() => denoising({ noEnd: 396 })).toThrow(
      'denoising: option "noEnd" must be an integer in [0, 395] (length - relevant = 400 - 5), got 396',
    );
    expect(() => denoising({ noEnd: 395 })).not.toThrow();
    expect(() => denoising({ relevant: 0 })).toThrow(/"relevant" must be an integer in \[1, /);
    expect(() => denoising({ noEnd: -1 })).toThrow(/"noEnd" must be an integer in \[0, /);
    const all = denoising({ length: 5, relevant: 5 }).batch('test', 0, 1);
    expect(Array.from({ length: 5 }, (_, t) => input(all, 0, t, 1))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('adding', () => {
  it('marks one step in each half and targets the sum of the marked values', () => {
    const task = adding({ length: 11, seed: 4 });
    const batch = task.batch('test', 0, 300);
    for (let b = 0; b < 300; b++) {
      const marked: number[] = [];
      let sum = 0;
      for (let t = 0; t < 11; t++) {
        const v = input(batch, b, t, 0);
        expect(v >= 0 && v < 1).toBe(true);
        const m = input(batch, b, t, 1);
        expect(m === 0 || m === 1).toBe(true);
        if (m === 1) {
          marked.push(t);
          sum += v;
        }
      }
      expect(marked.length).toBe(2);
      expect(marked[0]).toBeLessThan(5);
      expect(marked[1]).toBeGreaterThanOrEqual(5);
      expect(batch.targets[b]).toBe(Math.fround(sum));
    }
    expect(() => adding({ length: 1 })).toThrow(
      'adding: option "length" must be an integer in [2, 1000000], got 1',
    );
  });
});

describe('flip-flop', () => {
  /** An independent reading of the task: decode each step's symbol, then track the last set bit. */
  function expected(batch: Batch, oneHot: boolean): { targets: number[]; mask: number[] } {
    const [size, time] = batch.inputShape;
    const targets: number[] = [];
    const mask: number[] = [];
    for (let b = 0; b < size; b++) {
      let bit: number | null = null;
      for (let t = 0; t < time; t++) {
        let symbol: 'set0' | 'set1' | 'ignore';
        if (oneHot) {
          const hot = [0, 1, 2].filter((f) => input(batch, b, t, f) === 1);
          expect(hot.length).toBe(1);
          expect(input(batch, b, t, 0) + input(batch, b, t, 1) + input(batch, b, t, 2)).toBe(1);
          symbol = (['set0', 'set1', 'ignore'] as const)[hot[0]];
        } else {
          const v = input(batch, b, t, 0);
          symbol = v === -1 ? 'set0' : v === 1 ? 'set1' : 'ignore';
          if (symbol === 'ignore') expect(v).toBe(0);
        }
        if (symbol === 'set0') bit = 0;
        if (symbol === 'set1') bit = 1;
        targets.push(bit ?? 0);
        mask.push(bit === null ? 0 : 1);
      }
    }
    return { targets, mask };
  }

  it('targets the last bit set at every step, masked before the first set (one-hot)', () => {
    const task = flipFlop({ length: 60, setProbability: 0.1, seed: 5 });
    expect(task).toMatchObject({ inputFeatures: 3, outputSize: 2, loss: 'cross-entropy', readout: 'every' });
    const batch = task.batch('train', 0, 64);
    const want = expected(batch, true);
    expect(Array.from(batch.targets)).toEqual(want.targets);
    expect(Array.from(batch.mask ?? [])).toEqual(want.mask);
    // Both bits, masked steps, and held bits across ignores all occur.
    expect(want.mask.includes(0) && want.targets.includes(0) && want.targets.includes(1)).toBe(true);
  });

  it('does the same with the signed encoding, and sets at about the asked rate', () => {
    const task = flipFlop({ length: 400, setProbability: 0.05, encoding: 'signed', seed: 6 });
    expect(task.inputFeatures).toBe(1);
    const batch = task.batch('test', 1, 32);
    const want = expected(batch, false);
    expect(Array.from(batch.targets)).toEqual(want.targets);
    expect(Array.from(batch.mask ?? [])).toEqual(want.mask);
    const sets = Array.from(batch.inputs).filter((v) => v !== 0).length;
    expect(sets / batch.inputs.length).toBeGreaterThan(0.035);
    expect(sets / batch.inputs.length).toBeLessThan(0.065);
  });

  it('scales to 100x the length, and validates its options', () => {
    const long = flipFlop({ length: 10_000 });
    expect(long.batch('test', 0, 2).inputShape).toEqual([2, 10_000, 3]);
    expect(() => flipFlop({ setProbability: 0 })).toThrow(
      'flip-flop: option "setProbability" must be a number in (0, 1], got 0',
    );
    expect(() => flipFlop({ setProbability: Number.NaN })).toThrow(/"setProbability"/);
    expect(() => flipFlop({ encoding: 'binary' as 'signed' })).toThrow(
      'flip-flop: option "encoding" must be one of "one-hot", "signed", got "binary" (a string)',
    );
  });
});

describe('selective-copy', () => {
  it('places k tokens among blanks, then k markers, and targets the tokens in order of position', () => {
    const length = 30;
    const k = 6;
    const task = selectiveCopy({ length, tokens: k, seed: 7 });
    expect(task).toMatchObject({ inputFeatures: 18, outputSize: 16, sequenceLength: 36, readout: 'every' });
    const batch = task.batch('train', 1, 40);
    const vocab = 16;
    for (let b = 0; b < 40; b++) {
      const symbols: number[] = [];
      for (let t = 0; t < length + k; t++) {
        const hot: number[] = [];
        for (let f = 0; f < vocab + 2; f++) if (input(batch, b, t, f) === 1) hot.push(f);
        expect(hot.length).toBe(1);
        symbols.push(hot[0]);
      }
      const tokens = symbols.slice(0, length).filter((s) => s < vocab);
      expect(tokens.length).toBe(k);
      expect(symbols.slice(0, length).every((s) => s <= vocab)).toBe(true);
      expect(symbols.slice(length)).toEqual(new Array(k).fill(vocab + 1));
      const targets = Array.from(row(batch.targets, batch.targetShape, b));
      const mask = Array.from(row(batch.mask ?? new Float32Array(0), batch.targetShape, b));
      expect(targets.slice(length)).toEqual(tokens);
      expect(targets.slice(0, length)).toEqual(new Array(length).fill(0));
      expect(mask).toEqual([...new Array(length).fill(0), ...new Array(k).fill(1)]);
    }
  });

  it('validates tokens against length', () => {
    expect(() => selectiveCopy({ length: 4, tokens: 5 })).toThrow(
      'selective-copy: option "tokens" must be an integer in [1, 4] (at most length), got 5',
    );
    expect(() => selectiveCopy({ vocabSize: 1 })).toThrow(/"vocabSize" must be an integer in \[2, 1024\]/);
    expect(selectiveCopy({ vocabSize: 4 }).inputFeatures).toBe(6);
  });
});
