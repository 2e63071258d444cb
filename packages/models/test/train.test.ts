/**
 * The training API: `epsilonSchedule`, the shared objective (`outputLoss`, `addSwitchPenalty`),
 * `trainStep` against a step written out by hand, `evaluate` against float64 references, and `fit`'s
 * order of callbacks and its resume exactness. CPU only: the networks are tiny and the assertions are
 * bit-for-bit comparisons of two computations on one backend.
 */
import {
  add,
  crossEntropy,
  dispose,
  memory,
  mul,
  randint,
  randn,
  square,
  sum,
  type Tensor,
  tensor,
  tidy,
  ValueError,
  valueAndGrad,
} from '@mru/core';
import { expect, it } from 'vitest';
import {
  AdamW,
  addSwitchPenalty,
  annealContext,
  createNetwork,
  deriveSeed,
  epsilonAnnealingFor,
  epsilonSchedule,
  evaluate,
  type FitState,
  fit,
  flattenTree,
  type HostBatch,
  type NetworkConfig,
  outputLoss,
  type ParamTree,
  type StepMetrics,
  trainStep,
} from '../src/index.js';
import { CPU, describeOnBackends, values } from './helpers.js';

const CONFIG: NetworkConfig = {
  dIn: 2,
  dModel: 8,
  dOut: 1,
  nLayers: 1,
  cell: { type: 'bmru', dState: 4 },
  dropout: 0.2,
  switchPenalty: 0.3,
};

/** A regression batch as @mru/datasets makes one: deterministic typed arrays keyed by `i`. */
function hostBatch(i: number, size = 4, T = 6): HostBatch {
  const inputs = new Float32Array(size * T * 2);
  for (let k = 0; k < inputs.length; k++) inputs[k] = Math.sin(1.7 * k + 0.31 * i);
  const targets = new Float32Array(size);
  for (let b = 0; b < size; b++) targets[b] = inputs[b * T * 2];
  return { inputs, inputShape: [size, T, 2], targets, targetShape: [size, 1], loss: 'mse' };
}

async function flatValues(p: ParamTree): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(flattenTree(p))) out[k] = await values(t);
  return out;
}

async function copyTree(p: ParamTree): Promise<ParamTree> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(flattenTree(p))) out[k] = tensor(await t.data(), { shape: t.shape });
  return (await import('../src/index.js')).unflattenTree(out);
}

const makeOptimizer = (meta: ReturnType<ReturnType<typeof createNetwork>['paramSpecs']>) =>
  new AdamW({ lr: (s) => 0.01 / (1 + s), clipNorm: 0.5, weightDecay: 0.01, meta });

describeOnBackends('training API', () => {
  it('epsilonSchedule holds, ramps and ends as its fractions say', () => {
    // The `--anneal` default equals MODELS.md's K1 = 1000, K2 = 5000 scaled to the run.
    const d = epsilonSchedule({ totalSteps: 1000 });
    const legacy = epsilonAnnealingFor(1000);
    for (const s of [0, 99, 100, 101, 350, 599, 600, 999]) expect(d(s)).toBe(legacy(s));
    // sMNIST: hold 1 for 5% of the run, then linear to 0 over 70%.
    const m = epsilonSchedule({ totalSteps: 2000, hold: 0.05, ramp: 0.7 });
    const close = (got: number[], want: number[]) => {
      expect(got.length).toBe(want.length);
      for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i], 12);
    };
    close([0, 99, 100, 800, 1499, 1500, 1999].map(m), [1, 1, 1, 0.5, 1 / 1400, 0, 0]);
    // General start and end, rising as well as falling.
    const up = epsilonSchedule({ totalSteps: 10, start: 0.2, end: 0.6, hold: 0.2, ramp: 0.4 });
    close([0, 1, 2, 3, 4, 5, 6, 9].map(up), [0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6]);
    expect(() => epsilonSchedule({ totalSteps: 10, hold: 0.6, ramp: 0.6 })).toThrow(/hold \+ ramp/);
    expect(() => epsilonSchedule({ totalSteps: 10, start: 2 })).toThrow(ValueError);
    expect(() => epsilonSchedule({ totalSteps: -1 })).toThrow(/totalSteps/);
    expect(annealContext({ totalSteps: 10, target: 'both' }, 0)).toEqual({ epsilon: 1, leak: 1 });
    expect(annealContext({ totalSteps: 10, target: 'leak' }, 100)).toEqual({ leak: 0 });
    expect(annealContext(undefined, 3)).toEqual({});
  });

  it('outputLoss: masked cross-entropy is the mean over counted steps (float64 reference)', async () => {
    const B = 2;
    const T = 3;
    const C = 4;
    const logits = randn([B, T, C], 0, 2, { seed: 1 });
    const labels = randint([B, T], 0, C, { seed: 2 });
    const maskValues = [1, 0, 1, 0, 0, 1];
    const mask = tensor(new Float32Array(maskValues), { shape: [B, T] });
    const l = await values(logits);
    const y = await values(labels);
    let total = 0;
    for (let i = 0; i < B * T; i++) {
      if (!maskValues[i]) continue;
      const row = l.slice(i * C, (i + 1) * C);
      const max = Math.max(...row);
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
      total += lse - row[y[i]];
    }
    expect((await values(outputLoss(logits, labels, 'cross-entropy', mask)))[0]).toBeCloseTo(total / 3, 5);
    // Unmasked: the plain mean; an all-zero mask gives 0, not NaN.
    expect(await values(outputLoss(logits, labels, 'cross-entropy'))).toEqual(
      await values(crossEntropy(logits, labels)),
    );
    const none = tensor(new Float32Array(6), { shape: [B, T] });
    expect(await values(outputLoss(logits, labels, 'cross-entropy', none))).toEqual([0]);
    expect(() => outputLoss(logits, logits, 'mse', mask)).toThrow(/mask/);
    const rate = tensor(new Float32Array([0.5]), { shape: [] });
    const base = tensor(new Float32Array([2]), { shape: [] });
    expect(await values(addSwitchPenalty(base, rate, 0.5))).toEqual([2.125]);
    expect(addSwitchPenalty(base, rate, 0)).toBe(base);
    expect(addSwitchPenalty(base, null, 1)).toBe(base);
  });

  it('trainStep equals the step written out by hand (penalty, dropout seed, ε, clipping, schedule)', async () => {
    const network = createNetwork(CONFIG);
    const schedule = { totalSteps: 10, hold: 0.1, ramp: 0.5 };
    let a = network.init(3);
    let b = network.init(3);
    const optA = makeOptimizer(network.paramSpecs());
    const optB = makeOptimizer(network.paramSpecs());
    const seed = 42;
    for (let i = 0; i < 4; i++) {
      const batch = hostBatch(i);
      const out = await trainStep({ network, optimizer: optA, seed, epsilon: schedule }, a, batch);
      a = out.params;
      // By hand: ε of this step, dropout seed of this step, task loss + 0.3 * rate^2.
      const epsilon = epsilonSchedule(schedule)(i);
      const x = tensor(batch.inputs, { shape: batch.inputShape });
      const y = tensor(batch.targets, { shape: batch.targetShape });
      const { value, grads } = valueAndGrad((p: ParamTree) => {
        const { output, switchRate } = network.applyWithStats(p, x, {
          train: true,
          seed: deriveSeed(seed, `dropout/${i}`),
          epsilon,
        });
        return add(sum(mul(square(add(output, mul(y, -1))), 1 / 4)), mul(square(switchRate!), 0.3));
      })(b);
      const lr = optB.currentLr();
      b = optB.step(b, grads);
      const norm = (await values(optB.lastGradNorm!))[0];
      expect(out.metrics.step).toBe(i + 1);
      expect(out.metrics.epsilon).toBe(epsilon);
      expect(out.metrics.lr).toBe(lr);
      expect(out.metrics.loss).toBeCloseTo((await values(value))[0], 6);
      expect(out.metrics.gradNorm).toBeCloseTo(norm, 5);
      expect(out.metrics.switchRate).toBeGreaterThan(0);
      dispose([x, y, value, grads]);
    }
    const fa = await flatValues(a);
    const fb = await flatValues(b);
    for (const k of Object.keys(fb)) for (const [j, v] of fa[k].entries()) expect(v).toBeCloseTo(fb[k][j], 5);
    dispose([a, b]);
    optA.dispose();
    optB.dispose();
  });

  it('trainStep takes device tensors as well as host arrays, adds gradient metrics, and leaks nothing', async () => {
    const network = createNetwork({ ...CONFIG, dropout: 0 });
    let a = network.init(5);
    let b = network.init(5);
    const optA = makeOptimizer(network.paramSpecs());
    const optB = makeOptimizer(network.paramSpecs());
    const gradMetrics = (g: ParamTree) => ({
      readoutGradNorm: tidy(() => sum(square(flattenTree(g)['readout.weight']))),
    });
    const live: number[] = [];
    for (let i = 0; i < 3; i++) {
      const host = hostBatch(i);
      const ra = await trainStep({ network, optimizer: optA, gradMetrics }, a, host);
      a = ra.params;
      const inputs = tensor(host.inputs, { shape: host.inputShape });
      const targets = tensor(host.targets, { shape: host.targetShape });
      const rb = await trainStep({ network, optimizer: optB }, b, { inputs, targets, loss: 'mse' });
      b = rb.params;
      dispose([inputs, targets]);
      expect(rb.metrics.loss).toBe(ra.metrics.loss);
      expect(ra.metrics.readoutGradNorm).toBeGreaterThan(0);
      expect(rb.metrics.readoutGradNorm).toBeUndefined();
      live.push(memory().tensors);
    }
    expect(await flatValues(a)).toEqual(await flatValues(b));
    expect(new Set(live).size).toBe(1);
    dispose([a, b]);
    optA.dispose();
    optB.dispose();
  });

  it('evaluate scores batches in evaluation mode at the context ε and combines them', async () => {
    const network = createNetwork(CONFIG);
    const params = network.init(1);
    const batches = [hostBatch(0, 3), hostBatch(1, 5)];
    const scorer = {
      metrics: (p: ArrayLike<number>, b: HostBatch) => {
        let s = 0;
        for (let i = 0; i < b.targets.length; i++) s += (p[i] - b.targets[i]) ** 2;
        return { sum: s, count: b.targets.length };
      },
      combineMetrics: (parts: readonly { sum: number; count: number }[]) => ({
        sum: parts.reduce((s, p) => s + p.sum, 0),
        count: parts.reduce((s, p) => s + p.count, 0),
      }),
    };
    const m = await evaluate(network, params, batches, scorer, { epsilon: 0.5, train: true, seed: 9 });
    let reference = 0;
    for (const b of batches) {
      const pred = await values(
        network.apply(params, tensor(b.inputs, { shape: b.inputShape }), { epsilon: 0.5 }),
      );
      for (let i = 0; i < b.targets.length; i++) reference += (pred[i] - b.targets[i]) ** 2;
    }
    expect(m.count).toBe(8);
    expect(m.sum).toBeCloseTo(reference, 6);
    const plain = await evaluate(network, params, batches, scorer);
    expect(plain.sum).not.toBeCloseTo(reference, 6);
    dispose(params);
  });

  it('fit calls back in order, evaluates at the schedule ε, and stops on an abort', async () => {
    const network = createNetwork(CONFIG);
    const optimizer = makeOptimizer(network.paramSpecs());
    const events: string[] = [];
    const contexts: number[] = [];
    const controller = new AbortController();
    const result = await fit<number>({
      network,
      optimizer,
      params: network.init(0),
      steps: 10,
      epsilon: { totalSteps: 10, hold: 0, ramp: 1 },
      data: (i) => hostBatch(i),
      evalEvery: 3,
      evaluate: async (s: FitState) => {
        contexts.push(s.context.epsilon ?? Number.NaN);
        return s.step;
      },
      callbacks: {
        onStep: (m: StepMetrics) => {
          events.push(`step ${m.step}`);
          if (m.step === 7) controller.abort();
        },
        onEvaluate: (v, s) => {
          events.push(`eval ${v}@${s.step}`);
        },
        onCheckpoint: (s) => {
          events.push(`save ${s.step}`);
        },
      },
      signal: controller.signal,
    });
    expect(events).toEqual([
      'step 1',
      'step 2',
      'step 3',
      'eval 3@3',
      'save 3',
      'step 4',
      'step 5',
      'step 6',
      'eval 6@6',
      'save 6',
      'step 7',
      'save 7',
    ]);
    // ε of the last step trained: step index 2 and 5 of a ramp 1 -> 0 over 10 steps.
    expect(contexts).toEqual([0.8, 0.5]);
    expect(result).toMatchObject({ step: 7, stopped: true, aborted: true, lastEval: 6 });
    expect(result.last?.step).toBe(7);
    dispose(result.params);
    optimizer.dispose();
  });

  it('fit to N, a checkpoint of parameters and optimizer state, and fit on equals one run', async () => {
    const network = createNetwork(CONFIG);
    const common = {
      network,
      seed: 7,
      steps: 8,
      epsilon: { totalSteps: 8 },
      data: (i: number) => hostBatch(i),
    };
    const whole = makeOptimizer(network.paramSpecs());
    const one = await fit({ ...common, optimizer: whole, params: network.init(2) });
    const first = makeOptimizer(network.paramSpecs());
    const half = await fit({ ...common, optimizer: first, params: network.init(2), stopAt: 3 });
    expect(half).toMatchObject({ step: 3, stopped: true, aborted: false });
    // "Checkpoint": copies of the parameters and the optimizer's moments, into fresh objects.
    const params = await copyTree(half.params);
    const state = first.stateDict();
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(state.tensors))
      tensors[k] = tensor(await t.data(), { shape: t.shape });
    const resumed = makeOptimizer(network.paramSpecs());
    resumed.loadStateDict({ step: state.step, tensors });
    const rest = await fit({ ...common, optimizer: resumed, params });
    expect(rest.step).toBe(8);
    expect(await flatValues(rest.params)).toEqual(await flatValues(one.params));
    expect(rest.last).toEqual(one.last);
    dispose([one.params, half.params, rest.params]);
    for (const o of [whole, first, resumed]) o.dispose();
  });
}, [CPU]);
