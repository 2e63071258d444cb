import { describe, expect, it } from 'vitest';
import {
  type Batch,
  type ClassificationBatch,
  combineMetrics,
  computeMetrics,
  copyFirstInput,
  finiteTask,
  flipFlop,
  generatedTask,
  predictionShape,
  type RegressionBatch,
} from '../src/index.js';

function regression(targets: number[], outputs: number): RegressionBatch {
  const size = targets.length / outputs;
  return {
    loss: 'mse',
    readout: 'last',
    inputs: new Float32Array(size * 2),
    inputShape: [size, 2, 1],
    targets: Float32Array.from(targets),
    targetShape: [size, outputs],
  };
}

describe('metrics', () => {
  it('computes MSE over every target value', () => {
    const batch = regression([1, 2, 3, 4], 2);
    expect(predictionShape(batch)).toEqual([2, 2]);
    const m = computeMetrics([1, 0, 3, 8], batch);
    expect(m).toEqual({ loss: 5, mse: 5, count: 4, sequences: 2 });
    expect(() => computeMetrics([1, 2, 3], batch)).toThrow(
      'metrics: predictions must have shape [2, 2] (4 values), got 3 values',
    );
  });

  it('computes cross-entropy and accuracy at the last step', () => {
    const batch: ClassificationBatch = {
      loss: 'cross-entropy',
      readout: 'last',
      inputs: new Float32Array(2),
      inputShape: [2, 1, 1],
      targets: Int32Array.from([2, 0]),
      targetShape: [2],
      classes: 3,
    };
    expect(predictionShape(batch)).toEqual([2, 3]);
    // Row 0: logits [0, 0, 0], target 2: loss ln 3, argmax 0 (ties go to the lowest class), wrong.
    // Row 1: logits [1000, 0, 0], target 0: loss ~0, right (no overflow).
    const m = computeMetrics([0, 0, 0, 1000, 0, 0], batch);
    expect(m.loss).toBeCloseTo(Math.log(3) / 2, 12);
    expect(m.accuracy).toBe(0.5);
    expect(m.count).toBe(2);
    expect(m.sequenceAccuracy).toBeUndefined();
  });

  it('counts only masked steps for every-step readouts, and whole sequences', () => {
    const batch: ClassificationBatch = {
      loss: 'cross-entropy',
      readout: 'every',
      inputs: new Float32Array(6),
      inputShape: [2, 3, 1],
      targets: Int32Array.from([0, 1, 1, 0, 0, 1]),
      targetShape: [2, 3],
      mask: Float32Array.from([0, 1, 1, 1, 1, 1]),
      classes: 2,
    };
    expect(predictionShape(batch)).toEqual([2, 3, 2]);
    // Sequence 0: step 0 masked (its wrong prediction ignored), steps 1-2 right.
    // Sequence 1: steps right, right, wrong.
    const logits = [0, 9, 0, 9, 0, 9, 9, 0, 9, 0, 9, 0];
    const m = computeMetrics(logits, batch);
    expect(m.count).toBe(5);
    expect(m.accuracy).toBeCloseTo(4 / 5, 12);
    expect(m.sequenceAccuracy).toBe(0.5);
    const small = Math.log(1 + Math.exp(-9));
    expect(m.loss).toBeCloseTo((4 * small + (9 + small)) / 5, 12);
  });

  it("is what the task's own metrics method computes; perfect predictions score perfectly", () => {
    const task = flipFlop({ length: 40, setProbability: 0.2 });
    const batch = task.batch('test', 0, 8) as Batch;
    const [size, time, classes] = task.predictionShape(batch);
    const logits = new Float32Array(size * time * classes);
    for (let i = 0; i < size * time; i++) logits[i * classes + batch.targets[i]] = 20;
    const m = task.metrics(logits, batch);
    expect(m.accuracy).toBe(1);
    expect(m.sequenceAccuracy).toBe(1);
    expect(m.loss).toBeLessThan(1e-8);
    expect(m).toEqual(computeMetrics(logits, batch));
    const copy = copyFirstInput({ length: 5 });
    const regressionBatch = copy.batch('train', 0, 4);
    expect(copy.metrics(regressionBatch.targets, regressionBatch).mse).toBe(0);
  });

  it('combines batches weighted by their counts', () => {
    const a = computeMetrics([0, 0], regression([1, 1], 1)); // mse 1 over 2
    const b = computeMetrics([0, 0, 0, 0], regression([2, 2, 2, 2], 1)); // mse 4 over 4
    const c = combineMetrics([a, b]);
    expect(c).toEqual({ loss: 3, mse: 3, count: 6, sequences: 6 });
    expect(combineMetrics([])).toEqual({ loss: 0, count: 0, sequences: 0 });
  });
});

describe('task builders', () => {
  it('reject definitions they cannot serve', () => {
    const facts = {
      name: 'custom',
      description: 'A custom task.',
      options: {},
      seed: 0,
      inputFeatures: 1,
      outputSize: 1,
      sequenceLength: 2,
      loss: 'mse' as const,
      metric: 'mse' as const,
    };
    expect(() => generatedTask({ ...facts, readout: 'every', fill() {} })).toThrow(
      "custom: regression (mse) tasks are read at the last step (readout 'last')",
    );
    const finite = finiteTask({
      ...facts,
      readout: 'last',
      sizes: { train: 3, validation: 1, test: 0 },
      fill() {},
    });
    expect(finite.batch('train', 0, 2).inputShape).toEqual([2, 2, 1]);
    expect(finite.batch('train', 1, 2).inputShape).toEqual([1, 2, 1]);
    expect(() => finite.batch('test', 0, 2)).toThrow('custom: the test split is empty');
  });
});
