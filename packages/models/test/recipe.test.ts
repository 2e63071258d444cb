/**
 * The network options of issue 14 (time features, stem MLP stages, branch norm, dropout placement,
 * the 'lecun' initialisation): shapes, the sinusoid against a float64 reference, step form equal to
 * the parallel form, gradients by finite differences, and the invariants each option promises.
 */
import { arange, mul, randn, reshape, slice, stack, sum, ValueError, valueAndGrad } from '@mru/core';
import { maxAbsDiff } from '@mru/core/testing';
import { expect, it } from 'vitest';
import {
  type Bmru,
  createCell,
  createNetwork,
  FqBmru,
  flattenTree,
  gradGroups,
  gradNormsByGroup,
  MinGru,
  type NetworkConfig,
  type ParamTree,
  TimeFeatures,
  unflattenTree,
} from '../src/index.js';
import { CPU, checkGradients, describeOnBackends, stepThrough, values } from './helpers.js';

const BASE: NetworkConfig = { dIn: 3, dModel: 8, dOut: 2, nLayers: 2, cell: { type: 'bmru', dState: 6 } };

describeOnBackends('time features and the block recipe', () => {
  it('the sinusoid matches a float64 reference and the offset table adds only below maxLength', async () => {
    const tf = new TimeFeatures({ dim: 6, maxLength: 3, base: 100 });
    const p = tf.init(0);
    expect(await values(flattenTree(p).offset)).toEqual(new Array(18).fill(0));
    const code = await values(tf.sequence(p, 5));
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < 3; i++) {
        const w = 100 ** (-(2 * i) / 6);
        expect(code[t * 6 + i]).toBeCloseTo(Math.sin(t * w), 5);
        expect(code[t * 6 + 3 + i]).toBeCloseTo(Math.cos(t * w), 5);
      }
    }
    const bumped = unflattenTree({ offset: reshape(arange(18, undefined, 1, { dtype: 'float32' }), [3, 6]) });
    const withOffset = await values(tf.sequence(bumped, 5));
    for (let k = 0; k < 30; k++) expect(withOffset[k] - code[k]).toBeCloseTo(k < 18 ? k : 0, 4);
    expect(() => new TimeFeatures({ dim: 5 })).toThrow(ValueError);
    expect(() => createNetwork({ ...BASE, timeFeatures: { dim: 4, maxLength: -1 } })).toThrow(ValueError);
  });

  it('mean readout equals the mean of the per-step logits', async () => {
    const x = randn([3, 9, 3], 0, 1, { seed: 1 });
    const mean = createNetwork({ ...BASE, readout: 'mean', timeFeatures: { dim: 4 } });
    const all = createNetwork({ ...BASE, readout: 'all', timeFeatures: { dim: 4 } });
    // Through flatten/unflatten, as an optimizer step does: a parameterless time module vanishes.
    const p = unflattenTree(flattenTree(mean.init(3)));
    const m = await values(mean.apply(p, x));
    const a = await values(all.apply(p, x));
    const avg = [0, 1, 2].flatMap((b) =>
      [0, 1].map(
        (o) => a.filter((_, k) => Math.floor(k / 18) === b && k % 2 === o).reduce((s, v) => s + v, 0) / 9,
      ),
    );
    expect(maxAbsDiff(m, avg)).toBeLessThan(1e-5);
  });

  it('with every option on, the step form equals the parallel form, and continues from a state', async () => {
    const config: NetworkConfig = {
      ...BASE,
      readout: 'all',
      nLayers: 3,
      cell: [
        { type: 'bmru', dState: 5 },
        {
          type: 'hybrid',
          cells: [
            { type: 'bmru', dState: 4 },
            { type: 'lru', dState: 4 },
          ],
        },
        { type: 'fqbmru', dState: 4 },
      ],
      timeFeatures: { dim: 4, maxLength: 7, perBlock: true },
      stemMlp: true,
      branchNorm: true,
      dropoutPlacement: 'mlp',
      init: 'lecun',
    };
    const net = createNetwork(config);
    const p = flattenTree(net.init(4));
    // A non-zero offset table, so the step form must index it by its counter.
    const params = unflattenTree({ ...p, 'time.offset': randn([7, 4], 0, 1, { seed: 9 }) });
    const x = randn([2, 12, 3], 0, 1, { seed: 5 });
    const whole = await values(net.apply(params, x));
    expect(maxAbsDiff(await values(stepThrough(net, params, x)), whole)).toBeLessThan(1e-4);
    const first = net.applyWithStats(params, slice(x, [0, 0], [null, 5]));
    expect(await values(first.state[3][0].t)).toEqual([5, 5]);
    const second = net.applyWithStats(params, slice(x, [0, 5]), {}, first.state);
    const a = await values(first.output);
    const b = await values(second.output);
    const joined: number[] = [];
    for (let i = 0; i < 2; i++) joined.push(...a.slice(i * 10, i * 10 + 10), ...b.slice(i * 14, i * 14 + 14));
    expect(maxAbsDiff(joined, whole)).toBeLessThan(1e-4);
  });

  it('the time code changes the output; without it a permutation-free input gives equal steps', async () => {
    // A constant input: without time features every step of a step-invariant network sees the same
    // thing (LRU state aside), with them the steps differ.
    const x = randn([1, 1, 3], 0, 1, { seed: 2 });
    const xs = reshape(
      stack(
        Array.from({ length: 6 }, () => reshape(x, [1, 3])),
        1,
      ),
      [1, 6, 3],
    );
    const cfg: NetworkConfig = {
      ...BASE,
      readout: 'all',
      nLayers: 1,
      mlpExpansion: 0,
      cell: { type: 'cmru', dState: 4 },
    };
    const withTime = createNetwork({ ...cfg, timeFeatures: { dim: 4, perBlock: true } });
    const out = await values(withTime.apply(withTime.init(0), xs));
    expect(maxAbsDiff(out.slice(0, 2), out.slice(10, 12))).toBeGreaterThan(1e-3);
  });

  it('gradients of the new layers match finite differences', async () => {
    const net = createNetwork({
      dIn: 2,
      dModel: 4,
      dOut: 2,
      nLayers: 2,
      readout: 'mean',
      cell: { type: 'lru', dState: 3 },
      timeFeatures: { dim: 4, maxLength: 5, perBlock: true },
      stemMlp: true,
      branchNorm: true,
    });
    const p = flattenTree(net.init(1));
    const params = unflattenTree({ ...p, 'time.offset': randn([5, 4], 0, 0.5, { seed: 4 }) });
    const x = randn([2, 6, 2], 0, 1, { seed: 3 });
    const target = randn([2, 2], 0, 1, { seed: 8 });
    const report = await checkGradients((q) => net.loss(q, x, target), params, {
      h: 2e-3,
      rtol: 3e-2,
      atol: 2e-3,
    });
    const names = report.map((r) => r.name);
    for (const n of [
      'time.offset',
      'timeProj.weight',
      'stem.mlp.up.weight',
      'head.gamma',
      'layers.0.branchNorm.weight',
    ])
      expect(names).toContain(n);
    expect(names).not.toContain('layers.1.branchNorm.weight');
  });

  it("the 'lecun' scheme: N(0, 1/fan_in) weights, zero biases except b_β = 1 and the gate's 4", async () => {
    const net = createNetwork({ ...BASE, dModel: 64, cell: { type: 'bmru', dState: 64 }, init: 'lecun' });
    const p = flattenTree(net.init(0));
    const w = await values(p['layers.0.cell.wc.weight']);
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance * 64).toBeGreaterThan(0.85);
    expect(variance * 64).toBeLessThan(1.15);
    expect(new Set(await values(p['layers.0.cell.wc.bias']))).toEqual(new Set([0]));
    expect(new Set(await values(p['layers.0.proj.bias']))).toEqual(new Set([0]));
    expect(new Set(await values(p['layers.0.cell.wbeta.bias']))).toEqual(new Set([1]));
    expect(new Set(await values(p['layers.1.gate.bias']))).toEqual(new Set([4]));
    const fq = flattenTree(
      createNetwork({ ...BASE, cell: { type: 'fqbmru', dState: 4 }, init: 'lecun' }).init(0),
    );
    expect(new Set(await values(fq['layers.0.cell.wx.bias']))).toEqual(new Set([0.5]));
    expect(Math.min(...(await values(fq['layers.0.proj.weight'])))).toBeGreaterThanOrEqual(0);
  });

  it('dropout placement mlp leaves the recurrent branch deterministic in training', async () => {
    const cfg: NetworkConfig = { ...BASE, mlpExpansion: 0, dropout: 0.5 };
    const x = randn([2, 5, 3], 0, 1, { seed: 1 });
    const net = createNetwork({ ...cfg, dropoutPlacement: 'mlp' });
    const p = net.init(0);
    const a = await values(net.apply(p, x, { train: true, seed: 1 }));
    const b = await values(net.apply(p, x, { train: true, seed: 2 }));
    expect(maxAbsDiff(a, b)).toBe(0);
    const all = createNetwork(cfg);
    const c = await values(all.apply(p, x, { train: true, seed: 1 }));
    const d = await values(all.apply(p, x, { train: true, seed: 2 }));
    expect(maxAbsDiff(c, d)).toBeGreaterThan(0);
  });

  it('minGRU gateBias sets the gate half of the bias only', async () => {
    const cell = new MinGru(3, 4, { gateBias: -5 });
    const b = await values(flattenTree(cell.init(0))['w.bias']);
    expect(b.slice(4)).toEqual([-5, -5, -5, -5]);
    expect(Math.max(...b.slice(0, 4).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(3));
    expect(() => new MinGru(3, 4, { gateBias: Number.NaN })).toThrow(ValueError);
  });

  it('BMRU/CMRU betaBias sets the initial threshold bias, and a larger one holds more units', async () => {
    const x = randn([4, 50, 8], 0, 1, { seed: 3 });
    const switches = async (betaBias?: number) => {
      const cell = createCell({ type: 'cmru', dState: 16, betaBias }, 8);
      const params = cell.init(1);
      const bias = await values(flattenTree(params)['wbeta.bias']);
      expect(bias).toEqual(new Array(16).fill(betaBias ?? 1));
      const { z } = (cell as Bmru).gates(params, x);
      return (await values(z)).reduce((a, b) => a + b, 0);
    };
    const [one, three] = [await switches(), await switches(3)];
    expect(three).toBeLessThan(one);
    expect(() => createCell({ type: 'bmru', dState: 2, betaBias: Number.NaN }, 2)).toThrow(ValueError);
  });

  it("FQ-BMRU: under 'spec' no unit can reset at init; under 'midband' every unit holds and W_x still learns", async () => {
    const x = randn([4, 50, 8], 0, 1, { seed: 3 });
    const count = async (init: 'spec' | 'midband') => {
      const cell = new FqBmru(8, 16, { init });
      const { hold, zHi } = cell.gates(cell.init(1), x);
      const h = await values(hold);
      const z = await values(zHi);
      let set = 0;
      let reset = 0;
      let held = 0;
      for (let i = 0; i < h.length; i++) {
        if (h[i] === 1) held++;
        else if (z[i] === 1) set++;
        else reset++;
      }
      return { set, reset, held };
    };
    const spec = await count('spec');
    expect(spec.reset).toBe(0);
    expect(spec.set).toBeGreaterThan(0);
    // W_x = 0 and b_x mid-band: whatever the input, every unit holds its s_0 at init.
    expect(await count('midband')).toEqual({ set: 0, reset: 0, held: 4 * 50 * 16 });
    // ... and the surrogate still reaches W_x, so learning can grow the weights that set and reset.
    const cell = new FqBmru(8, 16, { init: 'midband' });
    const { grads } = valueAndGrad((p: ParamTree) => {
      const { hold, zHi } = cell.gates(p, x);
      return sum(mul(hold, zHi));
    })(cell.init(1));
    const gw = await values(flattenTree(grads)['wx.weight']);
    expect(gw.every(Number.isFinite)).toBe(true);
    expect(Math.max(...gw.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(() => new FqBmru(2, 2, { init: 'x' as 'spec' })).toThrow(ValueError);
  });
}, [CPU]);

describeOnBackends('gradient norms by group', () => {
  it('groups by top-level module, block and cell, and equals a float64 sum of squares', async () => {
    const net = createNetwork({
      ...BASE,
      cell: {
        type: 'hybrid',
        cells: [
          { type: 'bmru', dState: 4 },
          { type: 'lru', dState: 4 },
        ],
      },
    });
    const x = randn([2, 6, 3], 0, 1, { seed: 1 });
    const target = randn([2, 2], 0, 1, { seed: 2 });
    const { grads } = valueAndGrad((p: ParamTree) => net.loss(p, x, target))(net.init(0));
    const norms = gradNormsByGroup(grads);
    expect(Object.keys(norms).sort()).toEqual(
      [
        'input',
        'layers.0',
        'layers.0.cell0',
        'layers.0.cell1',
        'layers.1',
        'layers.1.cell0',
        'layers.1.cell1',
        'readout',
      ].sort(),
    );
    const flat = flattenTree(grads);
    for (const group of ['layers.0.cell1', 'layers.1', 'readout']) {
      let ss = 0;
      for (const [name, g] of Object.entries(flat)) {
        if (!gradGroups(name).includes(group)) continue;
        for (const v of await values(g)) ss += v * v;
      }
      expect((await values(norms[group]))[0]).toBeCloseTo(Math.sqrt(ss), 4);
    }
    expect(gradGroups('layers.0.gamma1')).toEqual(['layers.0']);
    expect(gradGroups('layers.3.cell.wc.weight')).toEqual(['layers.3', 'layers.3.cell']);
  });
}, [CPU]);
