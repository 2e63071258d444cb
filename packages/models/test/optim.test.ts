import { dispose, memory, randn, reshape, slice, tensor, tidy, valueAndGrad } from '@mru/core';
import { maxAbsDiff } from '@mru/core/testing';
import { expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  clipGradNorm,
  constantSchedule,
  cosineSchedule,
  createNetwork,
  epsilonAnnealing,
  epsilonAnnealingFor,
  linearSchedule,
  type ParamTree,
  SGD,
} from '../src/index.js';
import { describeOnBackends, values } from './helpers.js';

const P0 = { w: [1, -2], b: [0.5] };
const G1 = { w: [0.5, 0.25], b: [-1] };
const G2 = { w: [-0.3, 0.8], b: [0.2] };

function tree(v: { w: number[]; b: number[] }): ParamTree {
  return { w: tensor(v.w), b: tensor(v.b) };
}

/** Adam/AdamW by hand on plain numbers. */
function adamByHand(
  p: number[],
  gs: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean },
): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  let x = [...p];
  gs.forEach((g0, i) => {
    const t = i + 1;
    x = x.map((xi, j) => {
      let g = g0[j];
      let xd = xi;
      if (o.wd > 0) {
        if (o.decoupled) xd = xi * (1 - o.lr * o.wd);
        else g += o.wd * xi;
      }
      m[j] = o.b1 * m[j] + (1 - o.b1) * g;
      v[j] = o.b2 * v[j] + (1 - o.b2) * g * g;
      const mh = m[j] / (1 - o.b1 ** t);
      const vh = v[j] / (1 - o.b2 ** t);
      return xd - (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    });
  });
  return x;
}

describeOnBackends('optim', () => {
  it('SGD, SGD with momentum and Nesterov match hand-computed steps', async () => {
    const meta = { w: { decay: true, lrScale: 1 }, b: { decay: false, lrScale: 1 } };
    // Plain SGD with L2 decay on w only.
    let opt: SGD = new SGD({ lr: 0.1, weightDecay: 0.5, meta });
    let p = opt.step(tree(P0), tree(G1));
    expect(maxAbsDiff(await values(p.w as any), [1 - 0.1 * (0.5 + 0.5), -2 - 0.1 * (0.25 - 1)])).toBeLessThan(
      1e-6,
    );
    expect(maxAbsDiff(await values(p.b as any), [0.5 + 0.1])).toBeLessThan(1e-6);
    for (const nesterov of [false, true]) {
      opt = new SGD({ lr: 0.1, momentum: 0.9, nesterov, meta });
      p = opt.step(tree(P0), tree(G1));
      p = opt.step(p, tree(G2));
      const expected = P0.w.map((w0, j) => {
        const b1 = G1.w[j];
        const d1 = nesterov ? G1.w[j] + 0.9 * b1 : b1;
        const w1 = w0 - 0.1 * d1;
        const b2 = 0.9 * b1 + G2.w[j];
        const d2 = nesterov ? G2.w[j] + 0.9 * b2 : b2;
        return w1 - 0.1 * d2;
      });
      expect(maxAbsDiff(await values(p.w as any), expected)).toBeLessThan(1e-6);
      expect(opt.stepCount).toBe(2);
    }
  });

  it('Adam and AdamW match hand-computed steps, with per-parameter groups', async () => {
    const meta = { w: { decay: true, lrScale: 1 }, b: { decay: false, lrScale: 0.5 } };
    const adam = new Adam({ lr: 0.01, weightDecay: 0.1, meta });
    let p = adam.step(tree(P0), tree(G1));
    p = adam.step(p, tree(G2));
    const common = { b1: 0.9, eps: 1e-8 };
    expect(
      maxAbsDiff(
        await values(p.w as any),
        adamByHand(P0.w, [G1.w, G2.w], { ...common, lr: 0.01, b2: 0.999, wd: 0.1, decoupled: false }),
      ),
    ).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        await values(p.b as any),
        adamByHand(P0.b, [G1.b, G2.b], { ...common, lr: 0.005, b2: 0.999, wd: 0, decoupled: false }),
      ),
    ).toBeLessThan(1e-6);

    const adamw = new AdamW({ lr: 0.01, weightDecay: 0.1, meta });
    expect(adamw.beta2).toBe(0.99);
    let q = adamw.step(tree(P0), tree(G1));
    q = adamw.step(q, tree(G2));
    expect(
      maxAbsDiff(
        await values(q.w as any),
        adamByHand(P0.w, [G1.w, G2.w], { ...common, lr: 0.01, b2: 0.99, wd: 0.1, decoupled: true }),
      ),
    ).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        await values(q.b as any),
        adamByHand(P0.b, [G1.b, G2.b], { ...common, lr: 0.005, b2: 0.99, wd: 0, decoupled: true }),
      ),
    ).toBeLessThan(1e-6);
    expect(new AdamW({ lr: 1 }).weightDecay).toBe(1e-4);
  });

  it('follows a learning-rate schedule step by step', async () => {
    const opt = new SGD({ lr: (s) => [0.1, 0.01][s] ?? 0 });
    let p = opt.step(tree(P0), tree(G1));
    p = opt.step(p, tree(G1));
    expect(
      maxAbsDiff(
        await values(p.w as any),
        P0.w.map((w, j) => w - 0.11 * G1.w[j]),
      ),
    ).toBeLessThan(1e-6);
    expect(opt.currentLr()).toBe(0);
  });

  it('clips gradients by their global norm', async () => {
    const g = tree({ w: [3, 0], b: [4] }); // norm 5
    const { grads, norm } = clipGradNorm(g, 1);
    expect((await values(norm))[0]).toBeCloseTo(5, 5);
    expect(maxAbsDiff(await values(grads.w as any), [0.6, 0])).toBeLessThan(1e-5);
    expect(maxAbsDiff(await values(grads.b as any), [0.8])).toBeLessThan(1e-5);
    const small = clipGradNorm(tree({ w: [0.3, 0], b: [0.4] }), 1);
    expect(maxAbsDiff(await values(small.grads.w as any), [0.3, 0])).toBeLessThan(1e-6);
    // Inside the optimizer: SGD with lr 1 moves by the clipped gradient.
    const opt = new SGD({ lr: 1, clipNorm: 1 });
    const p = opt.step(tree(P0), g);
    expect(maxAbsDiff(await values(p.w as any), [1 - 0.6, -2])).toBeLessThan(1e-5);
    expect((await values(opt.lastGradNorm!))[0]).toBeCloseTo(5, 5);
  });

  it('AdamW folds clipping into its fused update: equal to clipping first, then the update', async () => {
    const g = tree({ w: [3, 0], b: [4] }); // norm 5: clipped
    const folded = new AdamW({ lr: 0.1, weightDecay: 0.01, clipNorm: 1 });
    const plain = new AdamW({ lr: 0.1, weightDecay: 0.01 });
    const a = folded.step(tree(P0), g);
    const b = plain.step(tree(P0), clipGradNorm(g, 1).grads);
    const a2 = folded.step(a, tree(G2));
    const b2 = plain.step(b, clipGradNorm(tree(G2), 1).grads);
    for (const k of ['w', 'b']) {
      expect(await values(a2[k] as any)).toEqual(await values(b2[k] as any));
    }
    expect((await values(folded.lastGradNorm!))[0]).toBeCloseTo(Math.hypot(-0.3, 0.8, 0.2), 5);
  });

  it('schedules: warmup, cosine to 1%, linear decay, and ε annealing', () => {
    const cos = cosineSchedule({ peak: 1, totalSteps: 110, warmupSteps: 10 });
    expect(cos(0)).toBeCloseTo(0.1);
    expect(cos(9)).toBeCloseTo(1);
    expect(cos(10)).toBeCloseTo(1);
    expect(cos(60)).toBeCloseTo(0.505);
    expect(cos(110)).toBeCloseTo(0.01);
    expect(cos(500)).toBeCloseTo(0.01);
    const lin = linearSchedule({ peak: 2, totalSteps: 100 });
    expect(lin(0)).toBe(2);
    expect(lin(50)).toBe(1);
    expect(lin(100)).toBe(0);
    expect(constantSchedule(3, 3)(0)).toBe(1);
    expect(constantSchedule(3, 3)(7)).toBe(3);
    const eps = epsilonAnnealing({ hold: 10, decay: 20 });
    expect([0, 9, 10, 20, 29, 30, 1000].map(eps)).toEqual([1, 1, 1, 0.5, 1 - 19 / 20, 0, 0]);
    const d = epsilonAnnealing();
    expect([999, 1000, 3500, 6000].map(d)).toEqual([1, 1, 0.5, 0]);
    const scaled = epsilonAnnealingFor(1000);
    expect([99, 100, 350, 600].map(scaled)).toEqual([1, 1, 0.5, 0]);
  });

  it('saves and restores its moments (stateDict) and continues identically', async () => {
    const a = new AdamW({ lr: 0.01 });
    let pa = a.step(tree(P0), tree(G1));
    const dict = a.stateDict();
    expect(Object.keys(dict.tensors).sort()).toEqual(['m.b', 'm.w', 'v.b', 'v.w']);
    const b = new AdamW({ lr: 0.01 });
    const copies: Record<string, any> = {};
    for (const [k, t] of Object.entries(dict.tensors)) copies[k] = tensor(await t.data(), { shape: t.shape });
    b.loadStateDict({ step: dict.step, tensors: copies });
    let pb = tree({ w: await values(pa.w as any), b: await values(pa.b as any) });
    pa = a.step(pa, tree(G2));
    pb = b.step(pb, tree(G2));
    expect(maxAbsDiff(await values(pa.w as any), await values(pb.w as any))).toBe(0);
  });

  it('refuses moments that name no parameter or have its shape wrong', () => {
    const net = createNetwork({ dIn: 2, dModel: 4, dOut: 1, nLayers: 1, cell: { type: 'bmru', dState: 3 } });
    const opt = new AdamW({ lr: 0.01, meta: net.paramSpecs() });
    const m = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), { shape });
    expect(() => opt.loadStateDict({ step: 1, tensors: { 'm.nope': m([1]) } })).toThrow(/names no parameter/);
    expect(() => opt.loadStateDict({ step: 1, tensors: { 'm.readout.weight': m([1]) } })).toThrow(
      /shape \[1\], its parameter \[4,1\]/,
    );
    // Shapes right and every moment present (a partial state is refused: all or none).
    const specs = net.paramSpecs();
    opt.loadStateDict({
      step: 1,
      tensors: Object.fromEntries(
        Object.entries(specs).flatMap(([n, s]) =>
          ['m', 'v'].map((slot) => [`${slot}.${n}`, m([...s.shape])]),
        ),
      ),
    });
    expect(opt.stepCount).toBe(1);
    opt.dispose();
  });

  it('a training loop runs in constant memory', () => {
    const before = memory().tensors;
    const net = createNetwork({
      dIn: 2,
      dModel: 8,
      dOut: 1,
      nLayers: 2,
      cell: [
        { type: 'bmru', dState: 8 },
        {
          type: 'hybrid',
          cells: [
            { type: 'cmru', dState: 4 },
            { type: 'lru', dState: 4 },
          ],
        },
      ],
      dropout: 0.1,
    });
    let params = net.init(0);
    const opt = new AdamW({
      lr: cosineSchedule({ peak: 1e-2, totalSteps: 12 }),
      meta: net.paramSpecs(),
      clipNorm: 1,
    });
    const loss = valueAndGrad((p: ParamTree, x: any, y: any, step: number) =>
      net.loss(p, x, y, { train: true, seed: step }),
    );
    const readings: { tensors: number; bytes: number }[] = [];
    for (let step = 0; step < 12; step++) {
      tidy(() => {
        const x = randn([4, 10, 2], 0, 1, { seed: step });
        const y = reshape(slice(x, [0, 0, 0], [null, 1, 1]), [4, 1]);
        const { value, grads } = loss(params, x, y, step);
        params = opt.step(params, grads);
        dispose([value, grads]);
      });
      const m = memory();
      readings.push({ tensors: m.tensors, bytes: m.bytes });
    }
    for (const r of readings.slice(2)) expect(r).toEqual(readings[1]);
    expect(readings[1].tensors).toBeGreaterThan(0);
    // What stays alive is exactly the parameters, the two Adam moments and the last gradient norm.
    const nParams = Object.keys(net.paramSpecs()).length;
    expect(readings[1].tensors - before).toBe(3 * nParams + 1);
    opt.dispose();
    dispose(params);
    expect(memory().tensors).toBe(before);
  });
});
