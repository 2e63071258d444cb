/**
 * Ops composed in core from primitives (softmax, normalisations, losses, activations, shape
 * helpers), against float64 references. A backend cannot break these without breaking a primitive,
 * but a backend that offers fused fast paths must still match them, and these cases pin the
 * composites' own definitions (stability for large logits, GELU's tanh form, population variance).
 */
import { it } from 'vitest';
import { dispose } from '../engine.js';
import * as E from '../ops/elementwise.js';
import { expandDims, flatten, mT, split, squeeze, stack } from '../ops/movement.js';
import { crossEntropy, layerNorm, logSoftmax, mse, rmsNorm, softmax } from '../ops/nn.js';
import { logsumexp, mean, variance } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { EXACT } from './common.js';
import type { ConformanceContext, HostTensor } from './context.js';
import type { Tolerance } from './host.js';
import {
  concatRef,
  host,
  logSoftmaxRef,
  map1,
  reduceRef,
  rowStats,
  sliceRef,
  softmaxRef,
  transposeRef,
} from './reference.js';

const TOL: Tolerance = { rtol: 1e-5, atol: 1e-5 };

/** Host tensor transposed so `axis` is last, for references that work on the last axis. */
function lastAxisRef(x: HostTensor, axis: number, f: (x: HostTensor) => HostTensor): HostTensor {
  const r = x.shape.length;
  if (axis === r - 1) return f(x);
  const perm = x.shape.map((_, i) => i);
  [perm[axis], perm[r - 1]] = [perm[r - 1], perm[axis]];
  return transposeRef(f(transposeRef(x, perm)), perm);
}

/** Declares the composite-op cases. */
export function compositeSuite(ctx: ConformanceContext): void {
  /** Runs `f` on uploaded inputs and checks the output against `expected`. */
  const expectOp = async (
    inputs: readonly HostTensor[],
    f: (...xs: Tensor[]) => Tensor,
    expected: HostTensor,
    tol: Tolerance = TOL,
  ): Promise<void> => {
    const xs = inputs.map((h) => ctx.upload(h));
    const y = f(...xs);
    try {
      await ctx.check(y, expected.values, { ...tol, shape: expected.shape, dtype: 'float32' });
    } finally {
      dispose([xs, y]);
    }
  };

  /** Logits with one row shifted by 1000, which a naive softmax turns into NaN. */
  const logits = (seed: number): HostTensor => {
    const h = ctx.normal(seed, [4, 7], 0, 3);
    for (let j = 0; j < 7; j++) h.values[21 + j] += 1000;
    return h;
  };

  it('composite softmax', async () => {
    const x = logits(1000);
    await expectOp([x], (t) => softmax(t), softmaxRef(x), { ...TOL, what: 'softmax last axis' });
    await expectOp([x], (t) => softmax(t, 0), lastAxisRef(x, 0, softmaxRef), {
      ...TOL,
      what: 'softmax axis 0',
    });
  });

  it('composite logSoftmax', async () => {
    const x = logits(1001);
    await expectOp([x], (t) => logSoftmax(t), logSoftmaxRef(x), { rtol: 1e-5, atol: 2e-5 });
    const y = ctx.normal(1002, [3, 4, 5]);
    await expectOp([y], (t) => logSoftmax(t, 1), lastAxisRef(y, 1, logSoftmaxRef), {
      rtol: 1e-5,
      atol: 2e-5,
    });
  });

  it('composite logsumexp', async () => {
    const x = logits(1003);
    const lse = (h: HostTensor, axes: number[], keep = false): HostTensor => {
      const m = reduceRef(h, axes, -Infinity, Math.max, true);
      const kept = m.shape;
      const s = reduceRef(
        {
          values: h.values.map((v, i) => {
            // index of the max for this element's row
            const idx: number[] = [];
            let rem = i;
            for (let d = h.shape.length - 1; d >= 0; d--) {
              idx[d] = rem % h.shape[d];
              rem = Math.floor(rem / h.shape[d]);
            }
            let f = 0;
            for (let d = 0; d < kept.length; d++) f = f * kept[d] + (kept[d] === 1 ? 0 : idx[d]);
            return Math.exp(v - m.values[f]);
          }),
          shape: h.shape,
        },
        axes,
        0,
        (p, v) => p + v,
        keep,
      );
      return { values: s.values.map((v, i) => Math.log(v) + m.values[i]), shape: s.shape };
    };
    await expectOp([x], (t) => logsumexp(t, 1), lse(x, [1]), { rtol: 1e-6, atol: 1e-5 });
    await expectOp([x], (t) => logsumexp(t, 0, true), lse(x, [0], true), { rtol: 1e-6, atol: 1e-5 });
    const y = ctx.normal(1004, [2, 3, 4]);
    await expectOp([y], (t) => logsumexp(t), lse(y, [0, 1, 2]), { rtol: 1e-6, atol: 1e-5 });
    await expectOp([y], (t) => logsumexp(t, [0, 2]), lse(y, [0, 2]), { rtol: 1e-6, atol: 1e-5 });
  });

  it('composite mean and variance', async () => {
    const x = ctx.normal(1010, [3, 4, 5], 2, 3);
    for (const axes of [[0], [2], [0, 1], [0, 1, 2]]) {
      const s = reduceRef(x, axes, 0, (p, v) => p + v, true);
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      const m = map1(s, (v) => v / n);
      await expectOp([x], (t) => mean(t, axes, true), m, { ...TOL, what: `mean [${axes}]` });
      // Population variance: mean of squared deviations.
      const dev = x.values.map((v, i) => {
        let rem = i;
        const idx: number[] = [];
        for (let d = x.shape.length - 1; d >= 0; d--) {
          idx[d] = rem % x.shape[d];
          rem = Math.floor(rem / x.shape[d]);
        }
        let f = 0;
        for (let d = 0; d < x.shape.length; d++) f = f * m.shape[d] + (m.shape[d] === 1 ? 0 : idx[d]);
        return (v - m.values[f]) ** 2;
      });
      const vr = reduceRef({ values: dev, shape: x.shape }, axes, 0, (p, v) => p + v);
      await expectOp(
        [x],
        (t) => variance(t, axes),
        map1(vr, (v) => v / n),
        { rtol: 1e-5, atol: 1e-5, what: `variance [${axes}]` },
      );
    }
  });

  it('composite layerNorm', async () => {
    const x = ctx.normal(1020, [3, 6], 1, 2);
    const w = ctx.uniform(1021, [6], 0.5, 1.5);
    const b = ctx.uniform(1022, [6]);
    const { mean: mu, variance: vr, n } = rowStats(x);
    const ref = (withAffine: boolean): HostTensor => {
      const values = x.values.map((v, i) => {
        const r = Math.floor(i / n);
        const j = i % n;
        const y = (v - mu[r]) / Math.sqrt(vr[r] + 1e-5);
        return withAffine ? y * w.values[j] + b.values[j] : y;
      });
      return { values, shape: x.shape };
    };
    await expectOp([x], (t) => layerNorm(t), ref(false), TOL);
    await expectOp([x, w, b], (t, wt, bt) => layerNorm(t, { weight: wt, bias: bt }), ref(true), TOL);
  });

  it('composite rmsNorm', async () => {
    const x = ctx.normal(1030, [4, 5], 0.5, 2);
    const w = ctx.uniform(1031, [5], 0.5, 1.5);
    const n = 5;
    const expected = x.values.map((v, i) => {
      const r = Math.floor(i / n);
      let ms = 0;
      for (let j = 0; j < n; j++) ms += x.values[r * n + j] ** 2;
      return (v / Math.sqrt(ms / n + 1e-5)) * w.values[i % n];
    });
    await expectOp([x, w], (t, wt) => rmsNorm(t, { weight: wt }), host(expected, x.shape), TOL);
  });

  it('composite crossEntropy (int labels)', async () => {
    const lg = ctx.normal(1040, [4, 5], 0, 2);
    const labels = [3, 0, 4, 4];
    const lsm = logSoftmaxRef(lg).values;
    const per = labels.map((c, r) => -lsm[r * 5 + c]);
    const lab = ctx.upload(labels, [4], 'int32');
    try {
      for (const [reduction, expected] of [
        ['mean', host([per.reduce((a, b) => a + b) / 4], [])],
        ['sum', host([per.reduce((a, b) => a + b)], [])],
        ['none', host(per, [4])],
      ] as const) {
        await expectOp([lg], (t) => crossEntropy(t, lab, reduction), expected, { ...TOL, what: reduction });
      }
    } finally {
      lab.dispose();
    }
  });

  it('composite crossEntropy (probabilities)', async () => {
    const lg = ctx.normal(1041, [2, 3, 4]);
    const p = softmaxRef(ctx.normal(1042, [2, 3, 4]));
    const pr = { values: p.values.map(Math.fround), shape: p.shape };
    const lsm = logSoftmaxRef(lg).values;
    const per: number[] = [];
    for (let r = 0; r < 6; r++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s -= pr.values[r * 4 + j] * lsm[r * 4 + j];
      per.push(s);
    }
    await expectOp([lg, pr], (t, q) => crossEntropy(t, q, 'none'), host(per, [2, 3]), TOL);
    await expectOp([lg, pr], (t, q) => crossEntropy(t, q), host([per.reduce((a, b) => a + b) / 6], []), TOL);
  });

  it('composite mse', async () => {
    const a = ctx.normal(1050, [3, 4]);
    const b = ctx.normal(1051, [3, 4]);
    const sq = a.values.map((v, i) => (v - b.values[i]) ** 2);
    const total = sq.reduce((p, v) => p + v, 0);
    await expectOp([a, b], (x, y) => mse(x, y), host([total / 12], []), TOL);
    await expectOp([a, b], (x, y) => mse(x, y, 'sum'), host([total], []), TOL);
    await expectOp([a, b], (x, y) => mse(x, y, 'none'), host(sq, [3, 4]), TOL);
  });

  it('composite gelu', async () => {
    const x = ctx.uniform(1060, [40], -6, 6);
    const c = Math.sqrt(2 / Math.PI);
    await expectOp(
      [x],
      E.gelu,
      map1(x, (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)))),
      TOL,
    );
  });

  it('composite softplus', async () => {
    const x = host([...ctx.uniform(1061, [30], -8, 8).values, 0, 50, -50, 200, -200], [35]);
    const ref = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    await expectOp([x], E.softplus, map1(x, ref), TOL);
  });

  it('composite relu, clamp, square, rsqrt', async () => {
    const x = host([...ctx.uniform(1062, [30], -3, 3).values, 0, -1, 1], [33]);
    await expectOp(
      [x],
      E.relu,
      map1(x, (v) => Math.max(v, 0)),
      EXACT,
    );
    await expectOp(
      [x],
      (t) => E.clamp(t, -1.5, 0.75),
      map1(x, (v) => Math.min(Math.max(v, -1.5), 0.75)),
      EXACT,
    );
    await expectOp(
      [x],
      E.square,
      map1(x, (v) => Math.fround(v * v)),
      EXACT,
    );
    const p = ctx.uniform(1063, [20], 0.1, 10);
    await expectOp(
      [p],
      E.rsqrt,
      map1(p, (v) => 1 / Math.sqrt(v)),
      TOL,
    );
  });

  it('composite stack', async () => {
    const hs = [0, 1, 2].map((i) => ctx.uniform(1070 + i, [2, 3]));
    const withAxis = (axis: number): HostTensor =>
      concatRef(
        hs.map((h) => {
          const s = [...h.shape];
          s.splice(axis, 0, 1);
          return { values: h.values, shape: s };
        }),
        axis,
      );
    for (const axis of [0, 1, 2]) {
      await expectOp(hs, (...xs) => stack(xs, axis), withAxis(axis), {
        ...EXACT,
        what: `stack axis ${axis}`,
      });
    }
    await expectOp(hs, (...xs) => stack(xs, -1), withAxis(2), EXACT);
  });

  it('composite split', async () => {
    const xh = ctx.uniform(1080, [4, 6]);
    const x = ctx.upload(xh);
    try {
      for (const [axis, sizes] of [
        [1, [1, 3, 2]],
        [0, [4]],
        [0, [2, 0, 2]],
      ] as const) {
        const parts = split(x, sizes, axis);
        try {
          if (parts.length !== sizes.length) throw new Error(`split gave ${parts.length} parts`);
          let at = 0;
          for (let i = 0; i < sizes.length; i++) {
            const begin = axis === 0 ? [at, 0] : [0, at];
            const end = axis === 0 ? [at + sizes[i], 6] : [4, at + sizes[i]];
            const e = sliceRef(xh, begin, end, [1, 1]);
            await ctx.check(parts[i], e.values, {
              ...EXACT,
              shape: e.shape,
              what: `split axis ${axis} part ${i}`,
            });
            at += sizes[i];
          }
        } finally {
          dispose(parts);
        }
      }
    } finally {
      x.dispose();
    }
  });

  it('composite squeeze, expandDims, flatten, mT', async () => {
    const xh = ctx.uniform(1090, [2, 1, 3, 1]);
    const x = ctx.upload(xh);
    const outs: Tensor[] = [];
    const expectShape = async (t: Tensor, shape: number[], values: ArrayLike<number> = xh.values) => {
      outs.push(t);
      await ctx.check(t, values, { ...EXACT, shape });
    };
    try {
      await expectShape(squeeze(x), [2, 3]);
      await expectShape(squeeze(x, 1), [2, 3, 1]);
      await expectShape(squeeze(x, [-1, 1]), [2, 3]);
      await expectShape(expandDims(x, 0), [1, 2, 1, 3, 1]);
      await expectShape(expandDims(x, -1), [2, 1, 3, 1, 1]);
      await expectShape(flatten(x), [6]);
      await expectShape(flatten(x, 1), [2, 3]);
      await expectShape(flatten(x, 0, 2), [6, 1]);
      const m = ctx.uniform(1091, [2, 3, 4]);
      const mt = ctx.upload(m);
      outs.push(mt);
      await expectShape(mT(mt), [2, 4, 3], transposeRef(m, [0, 2, 1]).values);
    } finally {
      dispose([x, outs]);
    }
  });
}
