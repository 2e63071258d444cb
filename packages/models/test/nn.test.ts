import { mean, mul, randint, randn, square, sum, type Tensor, tensor, ValueError } from '@mru/core';
import { maxAbsDiff } from '@mru/core/testing';
import { expect, it } from 'vitest';
import {
  CausalConv1d,
  Dropout,
  deriveSeed,
  Embedding,
  flattenTree,
  GluMlp,
  LayerNorm,
  Linear,
  Module,
  RMSNorm,
  unflattenTree,
  uniformFanIn,
} from '../src/index.js';
import { checkGradients, describeOnBackends, values } from './helpers.js';

class Pair extends Module {
  readonly a = this.addModule('a', new Linear(3, 4));
  readonly norm = this.addModule('norm', new LayerNorm(4));
}

describeOnBackends('nn', () => {
  it('flattens and unflattens parameter trees with dotted names', () => {
    const m = new Pair();
    const p = m.init(0);
    const flat = flattenTree(p);
    expect(Object.keys(flat)).toEqual(['a.weight', 'a.bias', 'norm.weight', 'norm.bias']);
    expect(Object.keys(m.paramSpecs())).toEqual(Object.keys(flat));
    const back = flattenTree(unflattenTree(flat));
    for (const k of Object.keys(flat)) expect(back[k]).toBe(flat[k]);
    expect(m.paramCount()).toBe(3 * 4 + 4 + 4 + 4);
    expect(m.a.path).toBe('a');
    m.checkParams(p);
    expect(() => m.checkParams(unflattenTree({ ...flat, 'a.bias': tensor([1, 2]) }))).toThrow(
      /parameter 'a\.bias' has shape \[2\], expected \[4\]/,
    );
    const { 'norm.bias': _dropped, ...rest } = flat;
    expect(() => m.checkParams(unflattenTree(rest))).toThrow(/missing parameter 'norm\.bias'/);
    expect(() => m.checkParams(unflattenTree({ ...flat, extra: tensor([1]) }))).toThrow(
      /unexpected parameter 'extra'/,
    );
  });

  it('records parameter groups: decay on matrices, off on biases and norms', () => {
    const specs = new Pair().paramSpecs();
    expect(specs['a.weight'].decay).toBe(true);
    expect(specs['a.bias'].decay).toBe(false);
    expect(specs['norm.weight'].decay).toBe(false);
    expect(specs['a.weight'].lrScale).toBe(1);
  });

  it('initialises deterministically from the seed and the name', async () => {
    const m = new Pair();
    const p1 = flattenTree(m.init(7));
    const p2 = flattenTree(m.init(7));
    const p3 = flattenTree(m.init(8));
    expect(await values(p1['a.weight'])).toEqual(await values(p2['a.weight']));
    expect(await values(p1['a.weight'])).not.toEqual(await values(p3['a.weight']));
    expect(await values(p1['a.weight'])).not.toEqual((await values(p1['a.bias'])).slice(0, 4));
    expect(deriveSeed(1, 'x')).not.toBe(deriveSeed(1, 'y'));
    expect(Number.isSafeInteger(deriveSeed(2 ** 40, 'layers.0.cell.wc.weight'))).toBe(true);
  });

  it('uniform fan-in stays within ±1/sqrt(fanIn)', async () => {
    const w = await values(uniformFanIn(16)([64, 64], 3));
    const bound = 1 / 4;
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w)).toBeGreaterThan(0.9 * bound);
    const m = w.reduce((a, b) => a + b, 0) / w.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
  });

  it('Linear computes x @ W + b on any leading axes', async () => {
    const lin = new Linear(2, 3);
    const p = {
      weight: tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      bias: tensor([0.5, 0, -1]),
    };
    const y = lin.apply(p, tensor([[[1, 1]], [[2, -1]]]));
    expect(y.shape).toEqual([2, 1, 3]);
    expect(await values(y)).toEqual([5.5, 7, 8, -1.5, -1, -1]);
  });

  it('Linear, LayerNorm, RMSNorm and the GLU MLP pass finite-difference gradient checks', async () => {
    const x = randn([2, 3, 4], 0, 1, { seed: 1 });
    const r = randn([2, 3, 4], 0, 1, { seed: 2 });
    const loss = (f: (p: any) => Tensor) => (p: any) => sum(mul(f(p), r));
    const lin = new Linear(4, 4);
    await checkGradients(
      loss((p) => lin.apply(p, x)),
      lin.init(1),
    );
    const ln = new LayerNorm(4);
    await checkGradients(
      loss((p) => ln.apply(p, x)),
      ln.init(1),
    );
    const rms = new RMSNorm(4);
    await checkGradients(
      loss((p) => rms.apply(p, x)),
      rms.init(1),
    );
    const mlp = new GluMlp(4, 2);
    expect(mlp.hidden).toBe(8);
    await checkGradients(
      loss((p) => mlp.apply(p, x)),
      mlp.init(1),
    );
    const conv = new CausalConv1d(4, 3);
    await checkGradients(
      loss((p) => conv.apply(p, x)),
      conv.init(1),
    );
  });

  it('LayerNorm and RMSNorm normalise the last axis', async () => {
    const x = randn([5, 8], 3, 2, { seed: 3 });
    const y = new LayerNorm(8).apply(new LayerNorm(8).init(0), x);
    expect(Math.max(...(await values(mean(y, -1))).map(Math.abs))).toBeLessThan(1e-5);
    const z = new RMSNorm(8).apply(new RMSNorm(8).init(0), x);
    for (const v of await values(mean(square(z), -1))) expect(v).toBeCloseTo(1, 3);
  });

  it('Embedding looks rows up and rejects float indices', async () => {
    const emb = new Embedding(5, 3);
    const p = emb.init(0);
    const w = await values(p.weight as any);
    const y = emb.apply(p, tensor(new Int32Array([4, 0]), { shape: [2] }));
    expect(await values(y)).toEqual([...w.slice(12, 15), ...w.slice(0, 3)]);
    expect(() => emb.apply(p, tensor([1]))).toThrow(ValueError);
    const ids = randint([3, 4], 0, 5, { seed: 1 });
    expect(emb.apply(p, ids).shape).toEqual([3, 4, 3]);
  });

  it('Dropout is the identity in eval mode and a seeded inverted mask in training', async () => {
    const d = new Dropout(0.25);
    const x = randn([4000], 1, 0, { seed: 0 });
    expect(d.apply({}, x)).toBe(x);
    const a = await values(d.apply({}, x, { train: true, seed: 5 }));
    const b = await values(d.apply({}, x, { train: true, seed: 5 }));
    const c = await values(d.apply({}, x, { train: true, seed: 6 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const zeros = a.filter((v) => v === 0).length;
    expect(zeros / a.length).toBeGreaterThan(0.22);
    expect(zeros / a.length).toBeLessThan(0.28);
    for (const v of a) if (v !== 0) expect(v).toBeCloseTo(1 / 0.75, 5);
    expect(() => new Dropout(1)).toThrow(ValueError);
  });

  it('the causal convolution ignores the future and matches its step form', async () => {
    const conv = new CausalConv1d(2, 3);
    const p = conv.init(4);
    const x = randn([1, 6, 2], 0, 1, { seed: 9 });
    const y = await values(conv.apply(p, x));
    const xs = await values(x);
    const x2 = xs.slice();
    x2[4 * 2] += 10; // change step 4
    const y2 = await values(conv.apply(p, tensor(Float32Array.from(x2), { shape: [1, 6, 2] })));
    expect(maxAbsDiff(y.slice(0, 8), y2.slice(0, 8))).toBe(0);
    expect(maxAbsDiff(y.slice(8), y2.slice(8))).toBeGreaterThan(0);
    let window = tensor(new Float32Array(4), { shape: [1, 2, 2] });
    const steps: number[] = [];
    for (let t = 0; t < 6; t++) {
      const out = conv.step(
        p,
        tensor(Float32Array.from(xs.slice(2 * t, 2 * t + 2)), { shape: [1, 2] }),
        window,
      );
      window = out.window;
      steps.push(...(await values(out.y)));
    }
    expect(maxAbsDiff(steps, y)).toBeLessThan(1e-6);
  });
});
