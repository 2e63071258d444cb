import {
  add,
  concat,
  dispose,
  exp,
  memory,
  mul,
  neg,
  randn,
  reshape,
  slice,
  stack,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
} from '@mru/core';
import { expect, it } from 'vitest';
import {
  Bmru,
  Brc,
  type Cell,
  createCell,
  FqBmru,
  Gru,
  heaviside,
  Lru,
  MinGru,
  mruCoefficients,
  type ParamTree,
  signSte,
} from '../src/index.js';
import { checkGradients, describeOnBackends, maxAbsDiff, values } from './helpers.js';

/**
 * Runs the step form over every time step of `x` and stacks the outputs `[B, T, d_out]`, with no read
 * in between: at T = 2,000 a GPU backend gets 34k (minGRU) to 128k (minGRU in log space) kernels in
 * one synchronous stretch. Also used inside `valueAndGrad`, on short sequences.
 */
function runSteps(cell: Cell, params: ParamTree, x: Tensor): { y: Tensor; state: Record<string, Tensor> } {
  const [B, T, D] = x.shape;
  let state = cell.initialState(params, B);
  const ys: Tensor[] = [];
  const outputs = new Set<Tensor>();
  for (let t = 0; t < T; t++) {
    const out = tidy(() => cell.step(params, reshape(slice(x, [0, t], [null, t + 1]), [B, D]), state));
    // Free the previous state unless it doubles as an output (minGRU, GRU: y = h).
    for (const s of Object.values(state)) if (!outputs.has(s)) s.dispose();
    state = out.state;
    ys.push(out.y);
    outputs.add(out.y);
  }
  return { y: stack(ys, 1), state };
}

interface Case {
  readonly name: string;
  readonly make: () => Cell;
  /** Tolerance relative to max(1, |value|). */
  readonly tol: number;
  /** Adjusts the initial parameters (to make a cell switch both ways). */
  readonly tweak?: (p: ParamTree) => ParamTree;
}

/** FQ-BMRU at init never resets (`ĥ >= b_x = 0.5 > β_lo`): a negative `b_x` makes it switch both ways. */
function resettable(p: ParamTree): ParamTree {
  const wx = p.wx as ParamTree;
  return { ...p, wx: { ...wx, bias: tensor(new Float32Array((wx.bias as Tensor).size).fill(-0.4)) } };
}

const D_IN = 3;
const D_STATE = 4;
const CASES: Case[] = [
  { name: 'BMRU', make: () => new Bmru(D_IN, D_STATE), tol: 0 },
  { name: 'CMRU (ε = 1)', make: () => createCell({ type: 'cmru', dState: D_STATE }, D_IN), tol: 0 },
  { name: 'ε-MRU (ε = 0.5)', make: () => new Bmru(D_IN, D_STATE, { epsilon: 0.5 }), tol: 1e-5 },
  { name: 'FQ-BMRU', make: () => new FqBmru(D_IN, D_STATE), tol: 0, tweak: resettable },
  {
    name: 'FQ-BMRU (leaky)',
    make: () => new FqBmru(D_IN, D_STATE, { leak: 0.1 }),
    tol: 1e-5,
    tweak: resettable,
  },
  { name: 'LRU', make: () => new Lru(D_IN, D_STATE), tol: 1e-4 },
  { name: 'minGRU', make: () => new MinGru(D_IN, D_STATE), tol: 1e-5 },
  { name: 'minGRU (log space)', make: () => new MinGru(D_IN, D_STATE, { logSpace: true }), tol: 1e-5 },
  { name: 'GRU', make: () => new Gru(D_IN, D_STATE), tol: 1e-5 },
  { name: 'BRC', make: () => new Brc(D_IN, D_STATE), tol: 1e-5 },
  { name: 'nBRC', make: () => new Brc(D_IN, D_STATE, { neuromodulated: true }), tol: 1e-5 },
];

function relDiff(a: number[], b: number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

describeOnBackends('cells', () => {
  for (const c of CASES) {
    it(`${c.name}: the step form equals the parallel form over T = 2,000`, async () => {
      const cell = c.make();
      const params = c.tweak ? c.tweak(cell.init(11)) : cell.init(11);
      const x = randn([2, 2000, D_IN], 0, 1.5, { seed: 12 });
      const par = cell.parallel(params, x);
      expect(par.y.shape).toEqual([2, 2000, cell.dOut]);
      const seq = runSteps(cell, params, x);
      const a = await values(par.y);
      const b = await values(seq.y);
      expect(relDiff(b, a)).toBeLessThanOrEqual(c.tol);
      for (const k of Object.keys(seq.state)) {
        expect(relDiff(await values(seq.state[k]), await values(par.state[k]))).toBeLessThanOrEqual(c.tol);
      }
      // The outputs really move (the comparison is not between two constants).
      const w = cell.dOut;
      let changes = 0;
      for (let i = w; i < a.length; i++) if (a[i] !== a[i - w]) changes++;
      expect(changes).toBeGreaterThan(50);
    });
  }

  it('fused BMRU coefficients equal the composite gates (values), gradients to float32 rounding', async () => {
    for (const epsilon of [0, 0.3, 1]) {
      const cell = new Bmru(3, 8, { epsilon, surrogateK: 1.5 });
      const params = cell.init(5);
      const x = randn([2, 7, 3], 0, 1, { seed: 9 });
      const w = randn([2, 7, 8], 0, 1, { seed: 10 });
      const composite = (p: ParamTree) => {
        const { z, v } = cell.gates(p, x);
        const a = sub(1, mul(z, 1 - epsilon));
        return { a, b: mul(z, v), z };
      };
      const fused = (p: ParamTree) => cell.coefficients(p, x);
      const fa = fused(params);
      const ca = composite(params);
      for (const k of ['a', 'b', 'z'] as const) expect(await values(fa[k])).toEqual(await values(ca[k]));
      // A loss that reaches a, b and z, so every branch of the surrogate VJP is used.
      const loss = (f: typeof fused) => (p: ParamTree) => {
        const r = f(p);
        return sum(mul(add(add(mul(r.a, w), mul(r.b, mul(w, w))), r.z), w));
      };
      const g1 = valueAndGrad(loss(fused))(params);
      const g2 = valueAndGrad(loss(composite))(params);
      expect((await values(g1.value))[0]).toBe((await values(g2.value))[0]);
      for (const name of ['wc', 'wbeta']) {
        for (const leaf of ['weight', 'bias']) {
          const a = await values((g1.grads as any)[name][leaf]);
          const b = await values((g2.grads as any)[name][leaf]);
          const scale = Math.max(1, ...b.map(Math.abs));
          expect(maxAbsDiff(a, b) / scale).toBeLessThan(2e-6);
        }
      }
      dispose([g1, g2, x, w, params]);
    }
  });

  it('mruCoefficients computes sign(0) = +1 and switches at |c| = |β|', async () => {
    const [a, b, z] = mruCoefficients(0, 1)(
      tensor([[0, 1, -2, 0.5]]),
      tensor([0, 0, 0, 0]),
      tensor([[0, 1, 3, 0.25]]),
      tensor([0, 0, 0, 0]),
    );
    expect(await values(z)).toEqual([1, 1, 0, 1]);
    expect((await values(b)).map((v) => v + 0)).toEqual([1, 1, 0, 1]);
    expect(await values(a)).toEqual([0, 0, 1, 0]);
  });

  it('continuing the parallel form from a state equals one run over the whole sequence', async () => {
    for (const cell of [
      new Bmru(D_IN, D_STATE, { epsilon: 0.3 }),
      new Lru(D_IN, D_STATE),
      new MinGru(D_IN, D_STATE),
      new Gru(D_IN, D_STATE),
    ]) {
      const p = cell.init(3);
      const x = randn([2, 40, D_IN], 0, 1, { seed: 4 });
      const whole = await values(cell.parallel(p, x).y);
      const first = cell.parallel(p, slice(x, [0, 0], [null, 25]));
      const second = cell.parallel(p, slice(x, [0, 25]), { state: first.state });
      const joined = await values(concat([first.y, second.y], 1));
      expect(relDiff(joined, whole)).toBeLessThan(1e-5);
    }
  });

  for (const [name, make] of [
    ['LRU', () => new Lru(D_IN, D_STATE)],
    ['minGRU', () => new MinGru(D_IN, D_STATE)],
    ['minGRU (log space)', () => new MinGru(D_IN, D_STATE, { logSpace: true })],
    ['GRU', () => new Gru(D_IN, D_STATE)],
    ['BRC', () => new Brc(D_IN, D_STATE)],
    ['nBRC', () => new Brc(D_IN, D_STATE, { neuromodulated: true })],
  ] as const) {
    it(`${name}: gradients match finite differences`, async () => {
      const cell: Cell = make();
      const x = randn([2, 6, D_IN], 0, 1, { seed: 5 });
      const r = randn([2, 6, cell.dOut], 0, 1, { seed: 6 });
      // Small steps: minGRU's g(x) has a kink at 0 that a wide difference would straddle.
      const h = cell instanceof MinGru ? 1e-3 : 1e-2;
      await checkGradients((p) => sum(mul(cell.parallel(p, x).y, r)), cell.init(2), { seed: 1, h });
      // The step form differentiates too (through the state).
      await checkGradients((p) => sum(mul(runSteps(cell, p, x).y, r)), cell.init(2), { seed: 2, h });
    });
  }

  it('H and sign are hard forward (H(0) = 1, sign(0) = +1) with the arctangent surrogate backward', async () => {
    const x = tensor([-0.5, 0, 0.25, 2]);
    expect(await values(heaviside(x))).toEqual([0, 1, 1, 1]);
    expect(await values(signSte(x))).toEqual([-1, 1, 1, 1]);
    for (const k of [1, 3]) {
      const { grads } = valueAndGrad((v: Tensor) => sum(heaviside(v, k)))(x);
      const { grads: gs } = valueAndGrad((v: Tensor) => sum(signSte(v, k)))(x);
      const xs = [-0.5, 0, 0.25, 2];
      const hp = xs.map((v) => k / (1 + (Math.PI * k * v) ** 2));
      expect(maxAbsDiff(await values(grads), hp)).toBeLessThan(1e-6);
      expect(
        maxAbsDiff(
          await values(gs),
          hp.map((v) => 2 * v),
        ),
      ).toBeLessThan(1e-6);
    }
  });

  for (const eps of [0, 0.3]) {
    it(`BMRU gradients equal the hand-computed surrogate gradient (ε = ${eps})`, async () => {
      const cell = new Bmru(1, 1, { epsilon: eps });
      const wc = 1;
      const bc = 0.1;
      const wb = 0.5;
      const bb = 0.4;
      const alpha = 0.8;
      const s0 = -1;
      const xs = [1.5, -0.3, 0.9];
      const r = [1, 2, -0.5];
      const params = {
        wc: { weight: tensor([[wc]]), bias: tensor([bc]) },
        wbeta: { weight: tensor([[wb]]), bias: tensor([bb]) },
        alpha: tensor([alpha]),
        s0: tensor([s0]),
      };
      const x = tensor(xs, { shape: [1, 3, 1] });
      const rt = tensor(r, { shape: [1, 3, 1] });
      const { value, grads } = valueAndGrad((p: typeof params) => sum(mul(cell.parallel(p, x).y, rt)))(
        params,
      );

      // Forward by hand.
      const H = (v: number) => (v >= 0 ? 1 : 0);
      const sgn = (v: number) => (v >= 0 ? 1 : -1);
      const Hp = (v: number) => 1 / (1 + (Math.PI * v) ** 2);
      const T = xs.length;
      const c = xs.map((v) => wc * v + bc);
      const beta = xs.map((v) => wb * v + bb);
      const d = c.map((v, t) => Math.abs(v) - Math.abs(beta[t]));
      const z = d.map(H);
      const vv = c.map(sgn);
      const a = z.map((zt) => 1 - (1 - eps) * zt);
      const s: number[] = [];
      let prev = s0;
      for (let t = 0; t < T; t++) {
        prev = a[t] * prev + z[t] * vv[t];
        s.push(prev);
      }
      expect(z).toEqual([1, 0, 1]); // a switch, a hold, a switch: both paths are exercised
      expect((await values(value))[0]).toBeCloseTo(
        s.reduce((acc, st, t) => acc + r[t] * alpha * st, 0),
        5,
      );

      // Backward by hand: g_t = dL/ds_t, through the state path a_t as in the equations.
      const g = new Array<number>(T).fill(0);
      for (let t = T - 1; t >= 0; t--) g[t] = r[t] * alpha + (t + 1 < T ? a[t + 1] * g[t + 1] : 0);
      const sPrev = [s0, ...s.slice(0, -1)];
      let dWc = 0;
      let dBc = 0;
      let dWb = 0;
      let dBb = 0;
      for (let t = 0; t < T; t++) {
        const dz = -(1 - eps) * g[t] * sPrev[t] + g[t] * vv[t];
        const dv = g[t] * z[t];
        const dc = dz * Hp(d[t]) * Math.sign(c[t]) + dv * 2 * Hp(c[t]);
        const db = -dz * Hp(d[t]) * Math.sign(beta[t]);
        dWc += dc * xs[t];
        dBc += dc;
        dWb += db * xs[t];
        dBb += db;
      }
      const gr = grads as any;
      expect((await values(gr.alpha))[0]).toBeCloseTo(
        s.reduce((acc, st, t) => acc + r[t] * st, 0),
        5,
      );
      expect((await values(gr.s0))[0]).toBeCloseTo(a[0] * g[0], 5);
      expect((await values(gr.wc.weight))[0]).toBeCloseTo(dWc, 5);
      expect((await values(gr.wc.bias))[0]).toBeCloseTo(dBc, 5);
      expect((await values(gr.wbeta.weight))[0]).toBeCloseTo(dWb, 5);
      expect((await values(gr.wbeta.bias))[0]).toBeCloseTo(dBb, 5);
    });
  }

  it('a BMRU inside its band holds its state unchanged for 100,000 steps (parallel form)', async () => {
    const cell = new Bmru(1, 4);
    const params = {
      wc: { weight: tensor([[0.1, -0.1, 0.1, -0.1]]), bias: tensor([0, 0, 0, 0]) },
      wbeta: { weight: tensor([[0, 0, 0, 0]]), bias: tensor([1, 1, 1, 1]) },
      alpha: tensor([1, 2, 3, 4]),
      s0: tensor([-1, 1, -1, 1]),
    };
    const T = 100_000;
    // One write at the first step (|c| = 5 > |β| = 1), then N(0, 1) inputs: |c| = 0.1 |x| < 1.
    const xs = await values(randn([T], 0, 1, { seed: 21 }));
    xs[0] = 50;
    const x = tensor(Float32Array.from(xs), { shape: [1, T, 1] });
    const { y, switchRate } = cell.parallel(params, x);
    const ys = await values(y);
    const expected = [1, -2, 3, -4];
    let bad = 0;
    for (let t = 0; t < T; t++) for (let c = 0; c < 4; c++) if (ys[t * 4 + c] !== expected[c]) bad++;
    expect(bad).toBe(0);
    expect((await values(switchRate!))[0]).toBeCloseTo(1 / T, 9);
  });

  it('CMRU (ε = 1) equals a gated cumulative sum s_t = s_0 + Σ z v on an integer ladder', async () => {
    const cell = createCell({ type: 'cmru', dState: 5 }, 3) as Bmru;
    expect(cell.epsilon).toBe(1);
    const p = cell.init(8);
    const x = randn([2, 300, 3], 0, 1, { seed: 9 });
    const { z, v } = cell.gates(p, x);
    const zs = await values(z);
    const vs = await values(v);
    const s0 = await values(p.s0 as Tensor);
    const alpha = await values(p.alpha as Tensor);
    const y = await values(cell.parallel(p, x).y);
    let maxErr = 0;
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 5; c++) {
        let s = s0[c];
        for (let t = 0; t < 300; t++) {
          const i = (b * 300 + t) * 5 + c;
          s += zs[i] * vs[i];
          maxErr = Math.max(maxErr, Math.abs(y[i] - alpha[c] * s));
          expect(Number.isInteger(y[i] / alpha[c] - s0[c])).toBe(true);
        }
      }
    }
    expect(maxErr).toBeLessThan(1e-4);
    expect(zs.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    // ε is an input of the call: at ε = 0 the same parameters give the BMRU (states ±1 times α).
    const yb = await values(cell.parallel(p, x, { epsilon: 0 }).y);
    expect(cell.epsilon).toBe(1);
    for (let i = 0; i < yb.length; i++)
      expect([alpha[i % 5], -alpha[i % 5], s0[i % 5] * alpha[i % 5]]).toContain(yb[i]);
  });

  it('FQ-BMRU states stay in {0, |α|}', async () => {
    const cell = new FqBmru(4, 6);
    const p = resettable(cell.init(5));
    const alpha = (await values(p.alpha as Tensor)).map(Math.abs);
    const y = await values(cell.parallel(p, randn([2, 500, 4], 0, 2, { seed: 6 })).y);
    let zeros = 0;
    let ones = 0;
    for (let i = 0; i < y.length; i++) {
      if (y[i] === 0) zeros++;
      else if (y[i] === alpha[i % 6]) ones++;
      else throw new Error(`state ${y[i]} of unit ${i % 6} is neither 0 nor ${alpha[i % 6]}`);
    }
    expect(zeros).toBeGreaterThan(100);
    expect(ones).toBeGreaterThan(100);
    const s0 = await values(p.s0 as Tensor);
    for (const v of s0) expect([0, 1]).toContain(v);
    const b1 = await values(p.beta1 as Tensor);
    for (const v of b1) expect(v >= 0.12 && v <= 0.18).toBe(true);
  });

  it('LRU initial |λ| lies in [r_min, r_max], γ = sqrt(1 - |λ|^2), and the recurrent group trains at half rate', async () => {
    const cell = new Lru(8, 512, { rMin: 0.5, rMax: 0.8, maxPhase: Math.PI });
    const p = cell.init(1);
    const mag = await values(exp(neg(exp(p.nu_log as Tensor))));
    expect(Math.min(...mag)).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(Math.max(...mag)).toBeLessThanOrEqual(0.8 + 1e-6);
    expect(Math.min(...mag)).toBeLessThan(0.53);
    expect(Math.max(...mag)).toBeGreaterThan(0.77);
    const phase = await values(exp(p.theta_log as Tensor));
    expect(Math.min(...phase)).toBeGreaterThan(0);
    expect(Math.max(...phase)).toBeLessThanOrEqual(Math.PI + 1e-6);
    const gamma = await values(exp(p.gamma_log as Tensor));
    for (let i = 0; i < mag.length; i++) expect(gamma[i] ** 2 + mag[i] ** 2).toBeCloseTo(1, 4);
    const specs = cell.paramSpecs();
    for (const n of ['nu_log', 'theta_log', 'gamma_log', 'B_re', 'B_im']) {
      expect(specs[n]).toMatchObject({ decay: false, lrScale: 0.5 });
    }
    expect(specs.C_re).toMatchObject({ decay: true, lrScale: 1 });
    // Default range
    const d = await values(exp(neg(exp(new Lru(2, 256).init(0).nu_log as Tensor))));
    expect(Math.min(...d)).toBeGreaterThanOrEqual(0.9 - 1e-6);
    expect(Math.max(...d)).toBeLessThanOrEqual(0.999 + 1e-6);
  });

  it('minGRU: log-space and linear forms agree, and log space keeps saturated gates accurate', async () => {
    const lin = new MinGru(3, 4);
    const logc = new MinGru(3, 4, { logSpace: true });
    const p = lin.init(3);
    const x = randn([2, 50, 3], 0, 1, { seed: 4 });
    expect(maxAbsDiff(await values(lin.parallel(p, x).y), await values(logc.parallel(p, x).y))).toBeLessThan(
      1e-5,
    );
    // k_z = 30: 1 - σ(30) rounds to 0 in float32; exp(-softplus(30)) = 9.4e-14 does not.
    const sat = {
      w: {
        weight: tensor(new Float32Array(3 * 8), { shape: [3, 8] }),
        bias: tensor([0, 0, 0, 0, 30, 30, 30, 30]),
      },
    };
    const xs = tensor(new Float32Array(3), { shape: [1, 3] });
    expect((await values(lin.coefficients(sat, xs).a))[0]).toBe(0);
    expect((await values(logc.coefficients(sat, xs).a))[0]).toBeCloseTo(Math.exp(-30), 18);
    expect((await values(logc.coefficients(sat, xs).a))[0]).toBeGreaterThan(0);
  });

  it('inside tidy, a training step of any cell leaves only its results behind', () => {
    for (const cell of [new Bmru(2, 3), new Lru(2, 3), new MinGru(2, 3), new FqBmru(2, 3), new Gru(2, 3)]) {
      const p = cell.init(0);
      const x = randn([1, 5, 2]);
      const before = memory().tensors;
      const { value, grads } = tidy(() => valueAndGrad((q: ParamTree) => sum(cell.parallel(q, x).y))(p));
      expect(memory().tensors - before).toBe(1 + Object.keys(cell.paramSpecs()).length);
      dispose([value, grads]);
      expect(memory().tensors).toBe(before);
    }
  });
});
