/**
 * The gradient of every differentiable op against central finite differences (see
 * `ConformanceContext.gradCheck`). Inputs are kept away from kinks and ties: `abs` and `relu` inputs
 * are at least 0.2 from zero, `maximum`/`minimum` operands differ by at least 0.5, `max`/`min`
 * reductions see distinct values 0.1 apart, `clamp` inputs avoid its bounds. Binary ops run on
 * broadcasting shapes so that the reduction of the cotangent back to each operand is checked too.
 */
import { it } from 'vitest';
import { dispose } from '../engine.js';
import * as E from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import {
  broadcastTo,
  concat,
  expandDims,
  flatten,
  mT,
  pad,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  take,
  transpose,
} from '../ops/movement.js';
import { crossEntropy, layerNorm, logSoftmax, mse, rmsNorm, softmax } from '../ops/nn.js';
import { logsumexp, max, mean, min, sum, variance } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { ints } from './common.js';
import type { ConformanceContext, GradCheckOptions, HostTensor } from './context.js';
import { host, map1, softmaxRef } from './reference.js';

/** Declares one gradient case per differentiable op. */
export function gradientSuite(ctx: ConformanceContext): void {
  const u = (seed: number, shape: number[], lo = -1, hi = 1): HostTensor => ctx.uniform(seed, shape, lo, hi);
  /** Values with |v| in [0.2, 2], random signs. */
  const awayFromZero = (seed: number, shape: number[]): HostTensor => {
    const r = ctx.rng(seed + 7);
    return map1(u(seed, shape, 0.2, 2), (v) => (r() < 0.5 ? -v : v));
  };
  /** Distinct values 0.1 apart, shuffled: no ties within a finite-difference step. */
  const distinct = (seed: number, shape: number[]): HostTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Array.from({ length: n }, (_, i) => -1 + 0.1 * i);
    const r = ctx.rng(seed);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return host(
      v.map((x) => Math.fround(x)),
      shape,
    );
  };
  const grad = (
    name: string,
    f: (...xs: Tensor[]) => Tensor,
    inputs: () => HostTensor[],
    opts: GradCheckOptions = {},
  ): void => {
    it(`grad ${name}`, async () => {
      await ctx.gradCheck(f, inputs(), { what: name, ...opts });
    });
  };

  // ------------------------------------------------------------------------------------------------
  // Unary

  grad('neg', E.neg, () => [u(1, [3, 4])]);
  grad('abs', E.abs, () => [awayFromZero(2, [3, 4])]);
  grad('exp', E.exp, () => [u(3, [3, 4], -2, 2)]);
  grad('log', E.log, () => [u(4, [3, 4], 0.5, 3)]);
  grad('log1p', E.log1p, () => [u(5, [3, 4], -0.4, 2)]);
  grad('sqrt', E.sqrt, () => [u(6, [3, 4], 0.5, 4)]);
  grad('rsqrt', E.rsqrt, () => [u(7, [3, 4], 0.5, 4)]);
  grad('tanh', E.tanh, () => [u(8, [3, 4], -2, 2)]);
  grad('sigmoid', E.sigmoid, () => [u(9, [3, 4], -3, 3)]);
  grad('sin', E.sin, () => [u(10, [3, 4], -3, 3)]);
  grad('cos', E.cos, () => [u(11, [3, 4], -3, 3)]);
  grad('square', E.square, () => [u(12, [3, 4], -2, 2)]);

  // ------------------------------------------------------------------------------------------------
  // Binary, with broadcasting ([2,1,3] against [4,1]) and with a rank-0 operand

  const binaryGrad = (
    name: string,
    f: (a: Tensor, b: Tensor) => Tensor,
    a: (seed: number, s: number[]) => HostTensor,
    b: (seed: number, s: number[]) => HostTensor,
  ) => {
    grad(`${name} (broadcast)`, f, () => [a(20, [2, 1, 3]), b(21, [4, 1])]);
    grad(`${name} (rank-0 operand)`, f, () => [a(22, [2, 3]), b(23, [])]);
  };
  const any = (seed: number, s: number[]) => u(seed, s, -2, 2);
  const positive = (seed: number, s: number[]) => u(seed, s, 0.5, 2);
  // Integers shifted by 0.3 and by -0.2 never come closer than 0.5.
  const gridA = (seed: number, s: number[]) => map1(ints(ctx, seed, s, -2, 2), (v) => Math.fround(v + 0.3));
  const gridB = (seed: number, s: number[]) => map1(ints(ctx, seed, s, -2, 2), (v) => Math.fround(v - 0.2));
  binaryGrad('add', E.add, any, any);
  binaryGrad('sub', E.sub, any, any);
  binaryGrad('mul', E.mul, any, any);
  binaryGrad('div', E.div, any, (seed, s) => awayFromZero(seed, s));
  binaryGrad('pow', E.pow, positive, (seed, s) => u(seed, s, -2, 2));
  binaryGrad('maximum', E.maximum, gridA, gridB);
  binaryGrad('minimum', E.minimum, gridA, gridB);

  it('grad where', async () => {
    const cond = ctx.upload(ints(ctx, 30, [2, 1, 3], 0, 1), undefined, 'bool');
    try {
      await ctx.gradCheck((a, b) => E.where(cond, a, b), [u(31, [4, 1]), u(32, [2, 4, 3])], {
        what: 'where',
      });
    } finally {
      cond.dispose();
    }
  });

  // ------------------------------------------------------------------------------------------------
  // Reductions

  grad(
    'sum',
    (x) => concat([flatten(sum(x, 1)), flatten(sum(x, [0, 2], true)), reshape(sum(x), [1])]),
    () => [u(40, [2, 3, 4])],
  );
  grad(
    'max',
    (x) => concat([flatten(max(x, 1)), flatten(max(x, [0, 2], true)), reshape(max(x), [1])]),
    () => [distinct(41, [2, 3, 4])],
  );
  grad(
    'min',
    (x) => concat([flatten(min(x, 2)), flatten(min(x, [0, 1], true)), reshape(min(x), [1])]),
    () => [distinct(42, [2, 3, 4])],
  );
  grad(
    'mean',
    (x) => concat([flatten(mean(x, 1)), flatten(mean(x, [0, 2], true)), reshape(mean(x), [1])]),
    () => [u(43, [2, 3, 4])],
  );
  grad(
    'variance',
    (x) => concat([flatten(variance(x, 2)), reshape(variance(x), [1])]),
    () => [u(44, [2, 3, 4], -2, 2)],
  );
  grad(
    'logsumexp',
    (x) => concat([flatten(logsumexp(x, 1)), reshape(logsumexp(x), [1])]),
    () => [u(45, [3, 4], -3, 3)],
  );

  // ------------------------------------------------------------------------------------------------
  // Movement

  grad(
    'reshape',
    (x) => reshape(x, [4, -1]),
    () => [u(50, [2, 3, 2])],
  );
  grad(
    'transpose',
    (x) => concat([flatten(transpose(x, [2, 0, 1])), flatten(mT(x))]),
    () => [u(51, [2, 3, 4])],
  );
  grad(
    'broadcastTo',
    (x) => broadcastTo(x, [2, 3, 4]),
    () => [u(52, [3, 1])],
  );
  grad(
    'slice',
    (x) =>
      concat([
        flatten(slice(x, [1, 0], [5, 7], [2, 3])),
        flatten(slice(x, [-2, 2], [null, 6])),
        flatten(slice(x, [0, 1], [5, 7], [3, 2])),
      ]),
    () => [u(53, [5, 7])],
  );
  grad(
    'pad',
    (x) =>
      pad(
        x,
        [
          [1, 2],
          [0, 3],
        ],
        0.5,
      ),
    () => [u(54, [3, 4])],
  );
  grad(
    'concat',
    (a, b, c) => concat([a, b, c], 1),
    () => [u(55, [2, 1, 3]), u(56, [2, 2, 3]), u(57, [2, 3, 3])],
  );
  grad(
    'stack',
    (a, b) => stack([a, b], 1),
    () => [u(58, [3, 4]), u(59, [3, 4])],
  );
  grad(
    'split',
    (x) =>
      concat(
        split(x, [1, 3, 2], 1).map((p, i) => mul2(p, i + 1)),
        1,
      ),
    () => [u(60, [2, 6])],
  );
  grad(
    'squeeze, expandDims, flatten',
    (x) => flatten(expandDims(squeeze(x, 1), 0)),
    () => [u(61, [3, 1, 4])],
  );

  it('grad take (scatter-add)', async () => {
    // Repeated indices accumulate in the gradient.
    const idx = ctx.upload([3, 0, 3, 1, 3, 0], [2, 3], 'int32');
    const idx1 = ctx.upload([2, 2, 0], [3], 'int32');
    try {
      await ctx.gradCheck((x) => take(x, idx, 0), [u(62, [4, 3])], { what: 'take axis 0' });
      await ctx.gradCheck((x) => take(x, idx1, 1), [u(63, [2, 3, 2])], { what: 'take axis 1' });
    } finally {
      dispose([idx, idx1]);
    }
  });

  // ------------------------------------------------------------------------------------------------
  // matmul

  const mm = (name: string, sa: number[], sb: number[], seed: number) =>
    grad(`matmul ${name}`, matmul, () => [u(seed, sa), u(seed + 1, sb)]);
  mm('2-D', [3, 4], [4, 2], 70);
  mm('batched', [2, 2, 3], [2, 3, 2], 72);
  mm('broadcast batch', [2, 1, 2, 3], [3, 3, 2], 74);
  mm('left shared', [2, 3], [2, 3, 2], 76);
  mm('vector @ matrix', [3], [3, 2], 78);
  mm('matrix @ vector', [2, 3], [3], 80);
  mm('vector @ vector', [4], [4], 82);
  mm('batch @ vector', [2, 2, 3], [3], 84);

  // ------------------------------------------------------------------------------------------------
  // Neural-network composites

  grad(
    'softmax',
    (x) => softmax(x),
    () => [u(90, [3, 5], -2, 2)],
  );
  grad(
    'softmax axis 0',
    (x) => softmax(x, 0),
    () => [u(91, [3, 5], -2, 2)],
  );
  grad(
    'logSoftmax',
    (x) => logSoftmax(x),
    () => [u(92, [3, 5], -2, 2)],
  );
  grad(
    'layerNorm',
    (x, w, b) => layerNorm(x, { weight: w, bias: b }),
    () => [u(93, [3, 5], -2, 2), u(94, [5], 0.5, 1.5), u(95, [5])],
  );
  grad(
    'rmsNorm',
    (x, w) => rmsNorm(x, { weight: w }),
    () => [u(96, [3, 5], -2, 2), u(97, [5], 0.5, 1.5)],
  );
  it('grad crossEntropy (int labels)', async () => {
    const labels = ctx.upload([2, 0, 4], [3], 'int32');
    try {
      await ctx.gradCheck((x) => crossEntropy(x, labels), [u(98, [3, 5], -2, 2)], { what: 'crossEntropy' });
      await ctx.gradCheck((x) => crossEntropy(x, labels, 'none'), [u(99, [3, 5], -2, 2)], {
        what: 'crossEntropy none',
      });
    } finally {
      labels.dispose();
    }
  });
  grad(
    'crossEntropy (probabilities)',
    (x, p) => crossEntropy(x, p, 'sum'),
    () => {
      const p = softmaxRef(u(101, [3, 4], -1, 1));
      return [u(100, [3, 4], -2, 2), { values: p.values.map(Math.fround), shape: p.shape }];
    },
  );
  grad(
    'mse',
    (a, b) => mse(a, b),
    () => [u(102, [3, 4]), u(103, [3, 4])],
  );
  grad('gelu', E.gelu, () => [u(104, [3, 4], -3, 3)]);
  // softplus is smooth: its gradient is sigmoid(x) everywhere, 0 and large |x| included.
  grad('softplus', E.softplus, () => [
    host([0, 0.5, -0.5, 1.5, -1.5, 3, -3, 30, -30, 0.02, -0.02, 8].map(Math.fround), [3, 4]),
  ]);
  grad('relu', E.relu, () => [awayFromZero(106, [3, 4])]);
  grad(
    'clamp',
    (x) => E.clamp(x, -0.5, 0.5),
    () => [
      // Inside, below and above the bounds, never within 0.05 of them.
      host([-0.9, -0.3, 0.1, 0.4, 0.8, -0.1, 1.2, -0.45, 0.2, -2, 0.6, 0].map(Math.fround), [3, 4]),
    ],
  );
}

function mul2(x: Tensor, k: number): Tensor {
  return E.mul(x, k);
}
