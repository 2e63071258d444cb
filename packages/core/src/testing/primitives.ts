/**
 * Every primitive of the `Backend` interface, exercised through core's ops (and, where core never
 * reaches a case, through a direct kernel call) against the float64 references of `reference.ts`.
 * Inputs are chosen to hit each primitive's documented edge cases: `sign(0)`, saturating `sigmoid`,
 * `floor` of negatives, int32 division truncating toward zero, NaN propagation of `maximum`, ties of
 * `argmax`, counter wrap-around of the random generator.
 */
import { it } from 'vitest';
import type { BinaryOp, UnaryOp } from '../backend.js';
import type { DType } from '../dtype.js';
import { dispose, seedToKey } from '../engine.js';
import { full, rand, randn } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { broadcastTo, cast, concat, pad, slice, take, transpose } from '../ops/movement.js';
import { argmax, argmin, max, min, sum } from '../ops/reduce.js';
import { philoxFill } from '../random.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { ARITH, EXACT, f32, ints, readKernel, sample, TRANSCENDENTAL, withExtras } from './common.js';
import type { ConformanceContext, HostTensor } from './context.js';
import type { Tolerance } from './host.js';
import {
  argRef,
  concatRef,
  host,
  map1,
  mapN,
  matmulRef,
  padRef,
  reduceRef,
  scatterAddRef,
  sliceRef,
  stridedRef,
  takeRef,
  transposeRef,
} from './reference.js';

interface UnaryCase {
  readonly op: UnaryOp;
  readonly dtype: DType;
  readonly fn: (x: Tensor) => Tensor;
  readonly ref: (v: number) => number;
  readonly lo: number;
  readonly hi: number;
  readonly extras: readonly number[];
  readonly tol: Tolerance;
}

const stableSigmoid = (v: number): number =>
  v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));

const UNARY: readonly UnaryCase[] = [
  { op: 'neg', dtype: 'float32', fn: E.neg, ref: (v) => -v, lo: -5, hi: 5, extras: [0], tol: EXACT },
  { op: 'abs', dtype: 'float32', fn: E.abs, ref: Math.abs, lo: -5, hi: 5, extras: [0, -3], tol: EXACT },
  {
    op: 'sign',
    dtype: 'float32',
    fn: E.sign,
    ref: (v) => Math.sign(v) + 0,
    lo: -5,
    hi: 5,
    extras: [0, -0, 1e-30],
    tol: EXACT,
  },
  {
    op: 'exp',
    dtype: 'float32',
    fn: E.exp,
    ref: Math.exp,
    lo: -5,
    hi: 5,
    extras: [0, -20, 10],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'log',
    dtype: 'float32',
    fn: E.log,
    ref: Math.log,
    lo: 0.05,
    hi: 20,
    extras: [1, 1e-6, 1e6],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'log1p',
    dtype: 'float32',
    fn: E.log1p,
    ref: Math.log1p,
    lo: -0.5,
    hi: 5,
    extras: [0, 1e-7, -1e-7],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'sqrt',
    dtype: 'float32',
    fn: E.sqrt,
    ref: Math.sqrt,
    lo: 0,
    hi: 50,
    extras: [0, 4, 1e-8],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'tanh',
    dtype: 'float32',
    fn: E.tanh,
    ref: Math.tanh,
    lo: -4,
    hi: 4,
    extras: [0, 20, -20],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'sigmoid',
    dtype: 'float32',
    fn: E.sigmoid,
    ref: stableSigmoid,
    lo: -8,
    hi: 8,
    extras: [0, 100, -100, 1000, -1000, 3e38, -3e38],
    tol: TRANSCENDENTAL,
  },
  {
    op: 'sin',
    dtype: 'float32',
    fn: E.sin,
    ref: Math.sin,
    lo: -3,
    hi: 3,
    extras: [0],
    tol: { rtol: 1e-5, atol: 1e-5 },
  },
  {
    op: 'cos',
    dtype: 'float32',
    fn: E.cos,
    ref: Math.cos,
    lo: -3,
    hi: 3,
    extras: [0],
    tol: { rtol: 1e-5, atol: 1e-5 },
  },
  {
    op: 'floor',
    dtype: 'float32',
    fn: E.floor,
    ref: Math.floor,
    lo: -5,
    hi: 5,
    extras: [0, -2, 2, -1.5, 0.5, -0.5],
    tol: EXACT,
  },
  {
    op: 'neg',
    dtype: 'int32',
    fn: E.neg,
    ref: (v) => -v,
    lo: -100,
    hi: 100,
    extras: [0, 2147483647, -2147483647],
    tol: EXACT,
  },
  {
    op: 'abs',
    dtype: 'int32',
    fn: E.abs,
    ref: Math.abs,
    lo: -100,
    hi: 100,
    extras: [0, -2147483647],
    tol: EXACT,
  },
  {
    op: 'sign',
    dtype: 'int32',
    fn: E.sign,
    ref: (v) => Math.sign(v) + 0,
    lo: -100,
    hi: 100,
    extras: [0, -1, 1],
    tol: EXACT,
  },
];

interface BinaryCase {
  readonly op: BinaryOp;
  readonly dtype: DType;
  readonly fn: (a: Tensor, b: Tensor) => Tensor;
  readonly ref: (a: number, b: number) => number;
  /** Makes the two operands for the given shapes. */
  readonly data: (
    ctx: ConformanceContext,
    seed: number,
    sa: readonly number[],
    sb: readonly number[],
  ) => [HostTensor, HostTensor];
  readonly tol: Tolerance;
}

const uniformPair =
  (lo: number, hi: number, lo2 = lo, hi2 = hi) =>
  (
    ctx: ConformanceContext,
    seed: number,
    sa: readonly number[],
    sb: readonly number[],
  ): [HostTensor, HostTensor] => [ctx.uniform(seed, sa, lo, hi), ctx.uniform(seed + 1, sb, lo2, hi2)];
/** Divisors away from zero, of both signs. */
const divisorPair = (
  ctx: ConformanceContext,
  seed: number,
  sa: readonly number[],
  sb: readonly number[],
): [HostTensor, HostTensor] => {
  const b = ctx.uniform(seed + 1, sb, 0.5, 2);
  const sgn = ctx.rng(seed + 2);
  return [ctx.uniform(seed, sa, -4, 4), map1(b, (v) => (sgn() < 0.5 ? -v : v))];
};
/** Small integers (as floats or ints), so that comparisons see ties. */
const intPair =
  (lo: number, hi: number, nonzeroB = false) =>
  (
    ctx: ConformanceContext,
    seed: number,
    sa: readonly number[],
    sb: readonly number[],
  ): [HostTensor, HostTensor] => {
    const a = ints(ctx, seed, sa, lo, hi);
    let b = ints(ctx, seed + 1, sb, lo, hi);
    if (nonzeroB) b = map1(b, (v) => (v === 0 ? 3 : v));
    return [a, b];
  };
const boolPair = intPair(0, 1);

const b01 = (x: boolean): number => (x ? 1 : 0);
const int32 = (v: number): number => v | 0;
const nanMax = (a: number, b: number): number =>
  Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b);
const nanMin = (a: number, b: number): number =>
  Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b);

const BINARY: readonly BinaryCase[] = [
  { op: 'add', dtype: 'float32', fn: E.add, ref: (a, b) => a + b, data: uniformPair(-10, 10), tol: ARITH },
  { op: 'sub', dtype: 'float32', fn: E.sub, ref: (a, b) => a - b, data: uniformPair(-10, 10), tol: ARITH },
  { op: 'mul', dtype: 'float32', fn: E.mul, ref: (a, b) => a * b, data: uniformPair(-10, 10), tol: ARITH },
  { op: 'div', dtype: 'float32', fn: E.div, ref: (a, b) => a / b, data: divisorPair, tol: ARITH },
  {
    op: 'pow',
    dtype: 'float32',
    fn: E.pow,
    ref: (a, b) => a ** b,
    data: uniformPair(0.2, 3, -2.5, 2.5),
    tol: TRANSCENDENTAL,
  },
  { op: 'maximum', dtype: 'float32', fn: E.maximum, ref: nanMax, data: intPair(-3, 3), tol: EXACT },
  { op: 'minimum', dtype: 'float32', fn: E.minimum, ref: nanMin, data: intPair(-3, 3), tol: EXACT },
  { op: 'eq', dtype: 'float32', fn: E.equal, ref: (a, b) => b01(a === b), data: intPair(-2, 2), tol: EXACT },
  {
    op: 'ne',
    dtype: 'float32',
    fn: E.notEqual,
    ref: (a, b) => b01(a !== b),
    data: intPair(-2, 2),
    tol: EXACT,
  },
  { op: 'lt', dtype: 'float32', fn: E.lt, ref: (a, b) => b01(a < b), data: intPair(-2, 2), tol: EXACT },
  { op: 'le', dtype: 'float32', fn: E.le, ref: (a, b) => b01(a <= b), data: intPair(-2, 2), tol: EXACT },
  { op: 'gt', dtype: 'float32', fn: E.gt, ref: (a, b) => b01(a > b), data: intPair(-2, 2), tol: EXACT },
  { op: 'ge', dtype: 'float32', fn: E.ge, ref: (a, b) => b01(a >= b), data: intPair(-2, 2), tol: EXACT },
  {
    op: 'add',
    dtype: 'int32',
    fn: E.add,
    ref: (a, b) => int32(a + b),
    data: intPair(-1000, 1000),
    tol: EXACT,
  },
  {
    op: 'sub',
    dtype: 'int32',
    fn: E.sub,
    ref: (a, b) => int32(a - b),
    data: intPair(-1000, 1000),
    tol: EXACT,
  },
  {
    op: 'mul',
    dtype: 'int32',
    fn: E.mul,
    ref: (a, b) => Math.imul(a, b),
    data: intPair(-1000, 1000),
    tol: EXACT,
  },
  {
    op: 'div',
    dtype: 'int32',
    fn: E.div,
    ref: (a, b) => Math.trunc(a / b),
    data: intPair(-20, 20, true),
    tol: EXACT,
  },
  { op: 'maximum', dtype: 'int32', fn: E.maximum, ref: Math.max, data: intPair(-5, 5), tol: EXACT },
  { op: 'minimum', dtype: 'int32', fn: E.minimum, ref: Math.min, data: intPair(-5, 5), tol: EXACT },
  { op: 'eq', dtype: 'int32', fn: E.equal, ref: (a, b) => b01(a === b), data: intPair(-2, 2), tol: EXACT },
  { op: 'ne', dtype: 'int32', fn: E.notEqual, ref: (a, b) => b01(a !== b), data: intPair(-2, 2), tol: EXACT },
  { op: 'lt', dtype: 'int32', fn: E.lt, ref: (a, b) => b01(a < b), data: intPair(-2, 2), tol: EXACT },
  { op: 'le', dtype: 'int32', fn: E.le, ref: (a, b) => b01(a <= b), data: intPair(-2, 2), tol: EXACT },
  { op: 'gt', dtype: 'int32', fn: E.gt, ref: (a, b) => b01(a > b), data: intPair(-2, 2), tol: EXACT },
  { op: 'ge', dtype: 'int32', fn: E.ge, ref: (a, b) => b01(a >= b), data: intPair(-2, 2), tol: EXACT },
  {
    op: 'and',
    dtype: 'bool',
    fn: E.logicalAnd,
    ref: (a, b) => b01(a !== 0 && b !== 0),
    data: boolPair,
    tol: EXACT,
  },
  {
    op: 'or',
    dtype: 'bool',
    fn: E.logicalOr,
    ref: (a, b) => b01(a !== 0 || b !== 0),
    data: boolPair,
    tol: EXACT,
  },
  { op: 'eq', dtype: 'bool', fn: E.equal, ref: (a, b) => b01(a === b), data: boolPair, tol: EXACT },
  { op: 'ne', dtype: 'bool', fn: E.notEqual, ref: (a, b) => b01(a !== b), data: boolPair, tol: EXACT },
];

/** Shape pairs every binary op runs on: equal shapes, two-sided broadcasting, a rank-0 operand. */
const BINARY_SHAPES: readonly (readonly [number[], number[]])[] = [
  [
    [4, 5],
    [4, 5],
  ],
  [
    [2, 1, 4],
    [3, 1],
  ],
  [[], [6]],
  [[3, 2], []],
];

const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or']);

/** Declares the primitive cases. */
export function primitiveSuite(ctx: ConformanceContext): void {
  // ------------------------------------------------------------------------------------------------
  // Unary

  UNARY.forEach((c, n) => {
    it(`primitive unary ${c.op}${c.dtype === 'float32' ? '' : ` (${c.dtype})`}`, async () => {
      // int32 extras (the int32 extremes) must not be rounded to float32 on the way.
      const xh =
        c.dtype === 'int32'
          ? host([...ints(ctx, 100 + n, [40], c.lo, c.hi).values, ...c.extras], [40 + c.extras.length])
          : withExtras(ctx, 100 + n, 40, c.lo, c.hi, c.extras);
      const x = ctx.upload(xh, undefined, c.dtype);
      const y = c.fn(x);
      try {
        await ctx.check(y, map1(xh, c.ref).values, { ...c.tol, shape: xh.shape, dtype: c.dtype, what: c.op });
      } finally {
        dispose([x, y]);
      }
    });
  });

  it('primitive unary not (bool)', async () => {
    const xh = host([0, 1, 1, 0, 0, 1, 0], [7]);
    const x = ctx.upload(xh, undefined, 'bool');
    const y = E.logicalNot(x);
    try {
      await ctx.check(y, [1, 0, 0, 1, 1, 0, 1], { ...EXACT, shape: [7], dtype: 'bool' });
    } finally {
      dispose([x, y]);
    }
  });

  // ------------------------------------------------------------------------------------------------
  // Binary

  BINARY.forEach((c, n) => {
    it(`primitive binary ${c.op}${c.dtype === 'float32' ? '' : ` (${c.dtype})`}`, async () => {
      for (const [sa, sb] of BINARY_SHAPES) {
        const [ah, bh] = c.data(ctx, 200 + 10 * n, sa, sb);
        const a = ctx.upload(ah, undefined, c.dtype);
        const b = ctx.upload(bh, undefined, c.dtype);
        const y = c.fn(a, b);
        const expected = mapN([ah, bh], c.ref);
        try {
          await ctx.check(y, expected.values, {
            ...c.tol,
            shape: expected.shape,
            dtype: COMPARISONS.has(c.op) ? 'bool' : c.dtype,
            what: `${c.op} of [${sa}] and [${sb}]`,
          });
        } finally {
          dispose([a, b, y]);
        }
      }
    });
  });

  it('primitive binary maximum/minimum propagate NaN', async () => {
    const a = ctx.upload([Number.NaN, 1, 2, Number.NaN, -Number.POSITIVE_INFINITY]);
    const b = ctx.upload([0, Number.NaN, 3, Number.NaN, 5]);
    const hi = E.maximum(a, b);
    const lo = E.minimum(a, b);
    try {
      await ctx.check(hi, [Number.NaN, Number.NaN, 3, Number.NaN, 5], EXACT);
      await ctx.check(lo, [Number.NaN, Number.NaN, 2, Number.NaN, -Number.POSITIVE_INFINITY], EXACT);
    } finally {
      dispose([a, b, hi, lo]);
    }
  });

  // ------------------------------------------------------------------------------------------------
  // where

  it('primitive where', async () => {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const ch = ints(ctx, 300, [2, 1, 4], 0, 1);
      const ah = sample(ctx, 301, [3, 1], dtype);
      const bh = dtype === 'float32' ? ctx.uniform(302, []) : host([dtype === 'bool' ? 1 : -7], []);
      const cond = ctx.upload(ch, undefined, 'bool');
      const a = ctx.upload(ah, undefined, dtype);
      const b = ctx.upload(bh, undefined, dtype);
      const y = E.where(cond, a, b);
      const expected = mapN([ch, ah, bh], (c, x, z) => (c !== 0 ? x : z));
      try {
        await ctx.check(y, expected.values, { ...EXACT, shape: [2, 3, 4], dtype, what: `where ${dtype}` });
      } finally {
        dispose([cond, a, b, y]);
      }
    }
  });

  // ------------------------------------------------------------------------------------------------
  // Reductions

  const AXES: readonly (readonly number[])[] = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
  const reduceCase = (name: 'sum' | 'max' | 'min') => {
    const fn = name === 'sum' ? sum : name === 'max' ? max : min;
    const init = name === 'sum' ? 0 : name === 'max' ? -Infinity : Infinity;
    const comb = name === 'sum' ? (p: number, v: number) => p + v : name === 'max' ? Math.max : Math.min;
    it(`primitive reduce ${name}`, async () => {
      // All-negative (or all-positive) inputs catch a max (min) that starts from 0.
      const lo = name === 'max' ? -9 : name === 'min' ? 1 : -5;
      const xh = ctx.uniform(400, [3, 4, 5], lo, lo + 8);
      const x = ctx.upload(xh);
      try {
        for (const axes of AXES) {
          for (const keepDims of [false, true]) {
            const y = fn(x, axes, keepDims);
            const expected = reduceRef(xh, axes, init, comb, keepDims);
            try {
              await ctx.check(y, expected.values, {
                ...(name === 'sum' ? ARITH : EXACT),
                atol: name === 'sum' ? 1e-5 : 0,
                shape: expected.shape,
                what: `${name} over [${axes}] keepDims=${keepDims}`,
              });
            } finally {
              y.dispose();
            }
          }
        }
        // Negative axes count from the end.
        const y = fn(x, [-1, -3]);
        try {
          await ctx.check(y, reduceRef(xh, [0, 2], init, comb).values, {
            rtol: 1e-6,
            atol: 1e-5,
            shape: [4],
          });
        } finally {
          y.dispose();
        }
      } finally {
        x.dispose();
      }
    });
  };
  reduceCase('sum');
  reduceCase('max');
  reduceCase('min');

  it('primitive reduce over size-1 axes', async () => {
    // Reducing axes of extent 1 still visits their one element (an easy case for a layout optimiser
    // to drop entirely).
    const cases: readonly [number[], number[]][] = [
      [[1], [0]],
      [
        [1, 1],
        [0, 1],
      ],
      [[3, 1], [1]],
      [[1, 3], [0]],
      [[2, 1, 3], [1]],
    ];
    for (const [shape, axes] of cases) {
      const xh = ctx.uniform(405, shape, -3, -1);
      const x = ctx.upload(xh);
      try {
        for (const [name, fn, init, comb] of [
          ['sum', sum, 0, (p: number, v: number) => p + v],
          ['max', max, -Infinity, Math.max],
          ['min', min, Infinity, Math.min],
        ] as const) {
          const y = fn(x, axes);
          const e = reduceRef(xh, axes, init, comb);
          try {
            await ctx.check(y, e.values, {
              ...EXACT,
              shape: e.shape,
              what: `${name} of [${shape}] over [${axes}]`,
            });
          } finally {
            y.dispose();
          }
        }
      } finally {
        x.dispose();
      }
    }
  });

  it('primitive reduce sum (int32, bool)', async () => {
    const ih = ints(ctx, 410, [4, 6], -1000, 1000);
    const bh = ints(ctx, 411, [4, 6], 0, 1);
    const xi = ctx.upload(ih, undefined, 'int32');
    const xb = ctx.upload(bh, undefined, 'bool');
    const outs: Tensor[] = [];
    try {
      for (const axes of [[0], [1], [0, 1]]) {
        const si = sum(xi, axes);
        const sb = sum(xb, axes);
        outs.push(si, sb);
        const add = (p: number, v: number) => p + v;
        await ctx.check(si, reduceRef(ih, axes, 0, add).values, {
          ...EXACT,
          dtype: 'int32',
          what: `int32 sum [${axes}]`,
        });
        await ctx.check(sb, reduceRef(bh, axes, 0, add).values, {
          ...EXACT,
          dtype: 'int32',
          what: `bool sum [${axes}]`,
        });
      }
    } finally {
      dispose([xi, xb, outs]);
    }
  });

  it('primitive reduce max/min (int32)', async () => {
    const ih = ints(ctx, 420, [5, 3], -50, -2);
    const x = ctx.upload(ih, undefined, 'int32');
    const y1 = max(x, 1);
    const y2 = min(x, 0);
    const y3 = max(x);
    try {
      await ctx.check(y1, reduceRef(ih, [1], -Infinity, Math.max).values, {
        ...EXACT,
        dtype: 'int32',
        shape: [5],
      });
      await ctx.check(y2, reduceRef(ih, [0], Infinity, Math.min).values, {
        ...EXACT,
        dtype: 'int32',
        shape: [3],
      });
      await ctx.check(y3, [Math.max(...ih.values)], { ...EXACT, dtype: 'int32', shape: [] });
    } finally {
      dispose([x, y1, y2, y3]);
    }
  });

  for (const name of ['argmax', 'argmin'] as const) {
    it(`primitive reduce ${name}`, async () => {
      const fn = name === 'argmax' ? argmax : argmin;
      // Small integers make ties, which must resolve to the first index.
      const xh = ints(ctx, 430, [4, 5, 3], -2, 2);
      const x = ctx.upload(xh);
      const xi = ctx.upload(xh, undefined, 'int32');
      try {
        for (const axis of [0, 1, 2]) {
          for (const t of [x, xi]) {
            const y = fn(t, axis);
            const expected = argRef(xh, axis, name === 'argmax');
            try {
              await ctx.check(y, expected.values, {
                ...EXACT,
                shape: expected.shape,
                dtype: 'int32',
                what: `${name} axis ${axis} ${t.dtype}`,
              });
            } finally {
              y.dispose();
            }
          }
        }
        const y = fn(x, -1, true);
        try {
          await ctx.check(y, argRef(xh, 2, name === 'argmax').values, { ...EXACT, shape: [4, 5, 1] });
        } finally {
          y.dispose();
        }
      } finally {
        dispose([x, xi]);
      }
    });
  }

  // ------------------------------------------------------------------------------------------------
  // matmul

  const MATMUL: readonly (readonly [string, number[], number[]])[] = [
    ['2-D', [3, 5], [5, 4]],
    ['odd sizes', [7, 13], [13, 11]],
    ['tiles', [33, 65], [65, 17]],
    ['batched', [2, 3, 4], [2, 4, 5]],
    ['broadcast batch', [2, 1, 3, 4], [3, 4, 5]],
    ['left shared', [3, 4], [2, 4, 5]],
    ['right shared', [2, 3, 4], [4, 5]],
    ['vector @ matrix', [4], [4, 5]],
    ['matrix @ vector', [3, 4], [4]],
    ['vector @ vector', [4], [4]],
    ['batch @ vector', [2, 3, 4], [4]],
    ['vector @ batch', [4], [2, 4, 5]],
  ];
  MATMUL.forEach(([label, sa, sb], n) => {
    it(`primitive matmul ${label}`, async () => {
      const ah = ctx.uniform(500 + n, sa);
      const bh = ctx.uniform(600 + n, sb);
      const a = ctx.upload(ah);
      const b = ctx.upload(bh);
      const y = matmul(a, b);
      const expected = matmulRef(ah, bh);
      try {
        await ctx.check(y, expected.values, {
          rtol: 1e-5,
          atol: 1e-5,
          shape: expected.shape,
          dtype: 'float32',
        });
      } finally {
        dispose([a, b, y]);
      }
    });
  });

  it('primitive matmul transposed operands (kernel flags)', async () => {
    const be = ctx.backend();
    const batch = 2;
    const [m, k, n] = [3, 5, 4];
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        for (const shared of [false, true]) {
          const ash = transposeA ? [batch, k, m] : [batch, m, k];
          const bsh = shared
            ? transposeB
              ? [1, n, k]
              : [1, k, n]
            : transposeB
              ? [batch, n, k]
              : [batch, k, n];
          const ah = ctx.uniform(700, ash);
          const bh = ctx.uniform(701, bsh);
          const a = ctx.upload(ah);
          const b = ctx.upload(bh);
          const id = be.matmul(a, b, {
            batch,
            m,
            k,
            n,
            aBatchStride: m * k,
            bBatchStride: shared ? 0 : k * n,
            transposeA,
            transposeB,
          });
          const opA = transposeA ? transposeRef(ah, [0, 2, 1]) : ah;
          const opB = transposeB ? transposeRef(bh, [0, 2, 1]) : bh;
          const expected = matmulRef(opA, opB);
          try {
            ctx.expectClose(await readKernel(be, id, [batch, m, n], 'float32'), expected.values, {
              rtol: 1e-5,
              atol: 1e-5,
              what: `transposeA=${transposeA} transposeB=${transposeB} shared=${shared}`,
            });
          } finally {
            dispose([a, b]);
          }
        }
      }
    }
  });

  // ------------------------------------------------------------------------------------------------
  // cast

  const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];
  const castRef = (v: number, to: DType): number =>
    to === 'bool' ? b01(v !== 0) : to === 'int32' ? Math.trunc(v) : v;
  for (const from of DTYPES) {
    for (const to of DTYPES) {
      it(`primitive cast ${from} -> ${to}`, async () => {
        const values =
          from === 'float32'
            ? [0, -0, 0.5, -0.5, 2.7, -2.7, 3, -3, 1e6 + 0.5, -123.99, 1e-20]
            : from === 'int32'
              ? // 16777217 rounds to 16777216 both to nearest and toward zero (WGSL allows either).
                [0, 1, -1, 7, -123456, 16777217, 2147483520, -2147483648]
              : [0, 1, 1, 0, 1];
        const xh = host(values, [values.length]);
        const x = ctx.upload(xh, undefined, from);
        const y = cast(x, to);
        const stored = from === 'float32' ? f32(values) : Float64Array.from(values);
        const expected = stored.map((v) => (to === 'float32' ? Math.fround(castRef(v, to)) : castRef(v, to)));
        try {
          await ctx.check(y, expected, { ...EXACT, shape: [values.length], dtype: to });
        } finally {
          dispose([x, y]);
        }
      });
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Movement: strided (transpose, slice, broadcastTo), pad, concat

  it('primitive strided via transpose', async () => {
    for (const dtype of DTYPES) {
      const xh = sample(ctx, 800, [2, 3, 4], dtype);
      const x = ctx.upload(xh, undefined, dtype);
      try {
        for (const perm of [
          [2, 0, 1],
          [1, 0, 2],
          [0, 2, 1],
          [2, 1, 0],
        ]) {
          const y = transpose(x, perm);
          const expected = transposeRef(xh, perm);
          try {
            await ctx.check(y, expected.values, {
              ...EXACT,
              shape: expected.shape,
              dtype,
              what: `perm [${perm}] ${dtype}`,
            });
          } finally {
            y.dispose();
          }
        }
      } finally {
        x.dispose();
      }
    }
  });

  it('primitive strided via slice (with steps)', async () => {
    const xh = ctx.uniform(810, [7, 9, 4]);
    const x = ctx.upload(xh);
    const cases: readonly [number[], (number | null)[], number[], number[], number[], number[]][] = [
      // begin, end, step as given; then the normalised begin, end, step for the reference.
      [[1], [6], [1], [1, 0, 0], [6, 9, 4], [1, 1, 1]],
      [
        [1, 0],
        [7, 9],
        [2, 3],
        [1, 0, 0],
        [7, 9, 4],
        [2, 3, 1],
      ],
      [
        [-3, 2, 1],
        [null, -1, 4],
        [1, 2, 2],
        [4, 2, 1],
        [7, 8, 4],
        [1, 2, 2],
      ],
      [
        [0, 8],
        [7, 100],
        [3, 1],
        [0, 8, 0],
        [7, 9, 4],
        [3, 1, 1],
      ],
      [
        [2, 1, 3],
        [3, 2, 4],
        [1, 1, 1],
        [2, 1, 3],
        [3, 2, 4],
        [1, 1, 1],
      ],
    ];
    try {
      for (const [b, e, s, nb, ne, ns] of cases) {
        const y = slice(x, b, e, s);
        const expected = sliceRef(xh, nb, ne, ns);
        try {
          await ctx.check(y, expected.values, {
            ...EXACT,
            shape: expected.shape,
            what: `slice [${b}]:[${e}]:[${s}]`,
          });
        } finally {
          y.dispose();
        }
      }
    } finally {
      x.dispose();
    }
  });

  it('primitive strided via broadcastTo', async () => {
    const cases: readonly [number[], number[]][] = [
      [
        [3, 1],
        [2, 3, 4],
      ],
      [[4], [3, 4]],
      [[], [2, 2]],
      [
        [1, 1, 5],
        [2, 3, 5],
      ],
      [
        [2, 1, 3],
        [2, 4, 3],
      ],
    ];
    for (const [from, to] of cases) {
      const xh = ctx.uniform(820, from);
      const x = ctx.upload(xh);
      const y = broadcastTo(x, to);
      const expected = mapN([xh, { values: new Float64Array(sizeOf(to)), shape: to }], (v) => v);
      try {
        await ctx.check(y, expected.values, { ...EXACT, shape: to, what: `[${from}] to [${to}]` });
      } finally {
        dispose([x, y]);
      }
    }
  });

  it('primitive strided (kernel, offset and zero strides)', async () => {
    const be = ctx.backend();
    const xh = ctx.uniform(830, [30]);
    const x = ctx.upload(xh);
    try {
      const cases: readonly [number[], number[], number][] = [
        [[3, 4], [5, 1], 2],
        [[2, 3], [0, 2], 7],
        [[4, 2, 2], [1, 0, 10], 3],
        [[5], [6], 0],
        [[], [], 29],
      ];
      for (const [shape, strides, offset] of cases) {
        const id = be.strided(x, shape, strides, offset);
        ctx.expectClose(
          await readKernel(be, id, shape, 'float32'),
          stridedRef(xh, shape, strides, offset).values,
          {
            ...EXACT,
            what: `shape [${shape}] strides [${strides}] offset ${offset}`,
          },
        );
      }
    } finally {
      x.dispose();
    }
  });

  it('primitive pad', async () => {
    for (const dtype of DTYPES) {
      const xh = sample(ctx, 840, [2, 3], dtype);
      const x = ctx.upload(xh, undefined, dtype);
      try {
        const cases: readonly [[number, number][], number][] = [
          [
            [
              [1, 2],
              [0, 3],
            ],
            0,
          ],
          [
            [
              [0, 0],
              [2, 1],
            ],
            dtype === 'float32' ? -1.5 : 1,
          ],
          [
            [
              [0, 0],
              [0, 0],
            ],
            0,
          ],
        ];
        for (const [widths, value] of cases) {
          const y = pad(x, widths, value);
          const expected = padRef(xh, widths, value);
          try {
            await ctx.check(y, expected.values, {
              ...EXACT,
              shape: expected.shape,
              dtype,
              what: `pad ${dtype} ${JSON.stringify(widths)}`,
            });
          } finally {
            y.dispose();
          }
        }
      } finally {
        x.dispose();
      }
    }
  });

  it('primitive concat', async () => {
    for (const dtype of DTYPES) {
      for (const axis of [0, 1, 2]) {
        const shapes = [
          [2, 3, 4],
          [2, 3, 4],
          [2, 3, 4],
        ].map((s, i) => s.map((d, j) => (j === axis ? d + i : d)));
        shapes.push(shapes[0].map((d, j) => (j === axis ? 0 : d)));
        const hs = shapes.map((s, i) => sample(ctx, 850 + i, s, dtype));
        const xs = hs.map((h) => ctx.upload(h, undefined, dtype));
        const y = concat(xs, axis);
        const expected = concatRef(hs, axis);
        try {
          await ctx.check(y, expected.values, {
            ...EXACT,
            shape: expected.shape,
            dtype,
            what: `concat ${dtype} axis ${axis}`,
          });
        } finally {
          dispose([xs, y]);
        }
      }
    }
  });

  // ------------------------------------------------------------------------------------------------
  // gather and scatter-add

  it('primitive gather (take)', async () => {
    const xh = ctx.uniform(900, [5, 4, 3]);
    const x = ctx.upload(xh);
    const xih = ints(ctx, 901, [5, 4, 3], -1000, 1000);
    const xi = ctx.upload(xih, undefined, 'int32');
    try {
      const cases: readonly [number, HostTensor][] = [
        [0, host([4, 0, 0, 2, 1, 4], [2, 3])],
        [1, host([3, 3, 0], [3])],
        [2, host([2, 0, 1, 2], [2, 2])],
        [0, host([1], [])],
      ];
      for (const [axis, ih] of cases) {
        const idx = ctx.upload(ih, undefined, 'int32');
        const y = take(x, idx, axis);
        const yi = take(xi, idx, axis);
        try {
          const e = takeRef(xh, ih, axis);
          await ctx.check(y, e.values, {
            ...EXACT,
            shape: e.shape,
            what: `take axis ${axis} indices [${ih.shape}]`,
          });
          await ctx.check(yi, takeRef(xih, ih, axis).values, { ...EXACT, shape: e.shape, dtype: 'int32' });
        } finally {
          dispose([idx, y, yi]);
        }
      }
    } finally {
      dispose([x, xi]);
    }
  });

  it('primitive scatterAdd (kernel)', async () => {
    const be = ctx.backend();
    const cases: readonly [number[], HostTensor, number, number][] = [
      [[2, 6, 3], host([0, 2, 2, 5, 0, 2], [6]), 1, 6],
      [[2, 3, 2], host([1, 1, 1, 0, 3, 1], [2, 3]), 0, 4],
      [[4, 2], host([2, 0], [2]), 1, 3],
    ];
    for (const [ushape, ih, axis, size] of cases) {
      const uh = ctx.uniform(910, ushape);
      const u = ctx.upload(uh);
      const idx = ctx.upload(ih, undefined, 'int32');
      const expected = scatterAddRef(uh, ih, axis, size);
      try {
        const id = be.scatterAdd(u, idx, axis, size);
        ctx.expectClose(await readKernel(be, id, expected.shape, 'float32'), expected.values, {
          ...ARITH,
          what: `scatterAdd updates [${ushape}] axis ${axis}`,
        });
      } finally {
        dispose([u, idx]);
      }
    }
  });

  // ------------------------------------------------------------------------------------------------
  // Random numbers

  const philox = (
    dist: 'uniform' | 'normal' | 'bits',
    size: number,
    key: readonly [number, number],
    offset: number,
  ) => {
    const out = dist === 'bits' ? new Int32Array(size) : new Float32Array(size);
    philoxFill(dist, out, key, offset);
    return Float64Array.from(out);
  };

  it('primitive random bits', async () => {
    const be = ctx.backend();
    const cases: readonly [number, [number, number], number][] = [
      [23, [123, 456], 7],
      [16, [0xffffffff, 0x80000000], 0xfffffffe], // the counter wraps modulo 2^32
      [1, [0, 0], 0],
      [0, [5, 6], 3],
    ];
    for (const [size, key, offset] of cases) {
      const id = be.random('bits', size, key, offset);
      ctx.expectClose(await readKernel(be, id, [size], 'int32'), philox('bits', size, key, offset), {
        ...EXACT,
        what: `bits size ${size} key [${key}] offset ${offset}`,
      });
    }
  });

  it('primitive random uniform', async () => {
    const be = ctx.backend();
    for (const [size, key, offset] of [
      [37, [9, 0], 0],
      [8, [1, 2], 0xffffffff],
      [1001, [0xdeadbeef, 77], 12345],
    ] as const) {
      const id = be.random('uniform', size, key, offset);
      const got = await readKernel(be, id, [size], 'float32');
      ctx.expectClose(got, philox('uniform', size, key, offset), {
        ...EXACT,
        what: `uniform key [${key}] offset ${offset}`,
      });
    }
    // Through core: an explicit seed is key seedToKey(seed), offset 0, also above 2^32.
    for (const seed of [42, 2 ** 40 + 5]) {
      const u = rand([5, 7], 0, 1, { seed });
      try {
        await ctx.check(u, philox('uniform', 35, seedToKey(seed), 0), { ...EXACT, shape: [5, 7] });
      } finally {
        u.dispose();
      }
    }
  });

  it('primitive random normal', async () => {
    const be = ctx.backend();
    const tol = { rtol: 1e-5, atol: 1e-5 };
    for (const [size, key, offset] of [
      [1001, [7, 0], 0],
      [6, [3, 4], 0xfffffffe],
      [3, [1, 1], 5],
    ] as const) {
      const id = be.random('normal', size, key, offset);
      ctx.expectClose(await readKernel(be, id, [size], 'float32'), philox('normal', size, key, offset), {
        ...tol,
        what: `normal size ${size} key [${key}] offset ${offset}`,
      });
    }
    const z = randn([9, 3], 0, 1, { seed: 11 });
    try {
      await ctx.check(z, philox('normal', 27, seedToKey(11), 0), { ...tol, shape: [9, 3] });
    } finally {
      z.dispose();
    }
  });

  it('primitive random statistics', async () => {
    const be = ctx.backend();
    const n = 1 << 16;
    const u = await readKernel(be, be.random('uniform', n, [2024, 1], 0), [n], 'float32');
    const z = await readKernel(be, be.random('normal', n, [2025, 1], 0), [n], 'float32');
    const w = await readKernel(be, be.random('bits', n, [2026, 1], 0), [n], 'int32');
    const moments = (a: Float64Array) => {
      let s = 0;
      for (const v of a) s += v;
      const m = s / a.length;
      let q = 0;
      for (const v of a) q += (v - m) ** 2;
      return [m, q / a.length];
    };
    const [mu, vu] = moments(u);
    const [mz, vz] = moments(z);
    const check = (what: string, got: number, want: number, tol: number) => {
      if (!(Math.abs(got - want) <= tol)) throw new Error(`${what}: ${got}, expected ${want} +- ${tol}`);
    };
    check('uniform mean', mu, 0.5, 0.01);
    check('uniform variance', vu, 1 / 12, 0.005);
    check(
      'uniform min',
      u.reduce((p, v) => Math.min(p, v), 1),
      0,
      0.001,
    );
    if (!(u.reduce((p, v) => Math.max(p, v), 0) < 1)) throw new Error('uniform values must be below 1');
    check('normal mean', mz, 0, 0.03);
    check('normal variance', vz, 1, 0.03);
    let ones = 0;
    for (const v of w) for (let b = 0; b < 32; b++) ones += (v >>> b) & 1;
    check('fraction of set bits', ones / (32 * n), 0.5, 0.005);
  });

  it('primitive random matches the reference backend', async () => {
    const ref = ctx.reference();
    const be = ctx.backend();
    const cases: readonly ['uniform' | 'normal' | 'bits', number, [number, number], number][] = [
      ['bits', 1027, [31, 41], 59],
      ['uniform', 1027, [26, 53], 58],
      ['normal', 1027, [97, 93], 0xffffff00],
    ];
    for (const [dist, size, key, offset] of cases) {
      const dtype = dist === 'bits' ? 'int32' : 'float32';
      const got = await readKernel(be, be.random(dist, size, key, offset), [size], dtype);
      // Without a reference backend, core's specification is the reference.
      const want = ref
        ? await readKernel(ref, ref.random(dist, size, key, offset), [size], dtype)
        : philox(dist, size, key, offset);
      ctx.expectClose(got, want, {
        ...(dist === 'normal' ? { rtol: 1e-5, atol: 1e-5 } : EXACT),
        what: `${dist} vs reference`,
      });
    }
  });

  // ------------------------------------------------------------------------------------------------
  // fill

  it('primitive fill', async () => {
    const cases: readonly [DType, number, number][] = [
      ['float32', 2.5, 2.5],
      ['float32', -1e-3, Math.fround(-1e-3)],
      ['float32', Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      ['int32', 7, 7],
      ['int32', -3, -3],
      ['bool', 1, 1],
      ['bool', 2, 1],
      ['bool', 0, 0],
    ];
    for (const [dtype, value, expected] of cases) {
      const t = full([3, 5], value, { dtype });
      try {
        await ctx.check(t, new Array(15).fill(expected), {
          ...EXACT,
          shape: [3, 5],
          dtype,
          what: `fill ${dtype} ${value}`,
        });
      } finally {
        t.dispose();
      }
    }
    const be = ctx.backend();
    ctx.expectClose(await readKernel(be, be.fill(0, 'float32', 1), [0], 'float32'), [], {
      what: 'empty fill',
    });
  });
}
