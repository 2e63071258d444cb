import { type BinaryOp, DTypeError, ShapeError, type UnaryOp } from '@mru/core';
import { uniformArray } from '@mru/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { broadcastIndex, setup, size, unravel } from './helpers.js';

const { be, input, take, release } = setup();
afterEach(() => {
  release();
  expect(be.memory().buffers).toBe(0);
});

/** float64 reference of each float unary op. */
const UNARY_REF: Record<Exclude<UnaryOp, 'not'>, (v: number) => number> = {
  neg: (v) => -v,
  abs: Math.abs,
  sign: Math.sign,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
};

describe('unary', () => {
  const xs = [...uniformArray(1, 50, -4, 4), 0, -0, 1, -1, 0.5, -2.5, 80, -80, 1e-30];
  it.each(Object.keys(UNARY_REF) as (keyof typeof UNARY_REF)[])(
    'float32 %s is the correctly rounded float64 result',
    (op) => {
      const positive = op === 'log' || op === 'sqrt';
      const vals = positive ? xs.map(Math.abs) : xs;
      const got = take(be.unary(op, input(vals, [vals.length])), [vals.length], 'float32');
      const ref = UNARY_REF[op];
      for (let i = 0; i < vals.length; i++) {
        const want = Math.fround(ref(Math.fround(vals[i])));
        // sigmoid is computed in a stable form, which may differ from the naive one by an ulp of float64.
        if (op === 'sigmoid') expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(6e-8 * Math.abs(want));
        else expect(got[i]).toBe(want);
      }
    },
  );

  it('sigmoid saturates without NaN for huge |x|', () => {
    const got = take(be.unary('sigmoid', input([-1e30, -1000, -100, 100, 1000, 1e30], [6])), [6], 'float32');
    expect(Array.from(got)).toEqual([0, 0, Math.fround(1 / (1 + Math.exp(100))), 1, 1, 1]);
  });

  it('int32 neg, abs and sign stay int32 (wrapping at -2^31)', () => {
    const x = input([-3, 0, 7, -2147483648], [4], 'int32');
    expect(Array.from(take(be.unary('neg', x), [4], 'int32'))).toEqual([3, 0, -7, -2147483648]);
    expect(Array.from(take(be.unary('abs', x), [4], 'int32'))).toEqual([3, 0, 7, -2147483648]);
    expect(Array.from(take(be.unary('sign', x), [4], 'int32'))).toEqual([-1, 0, 1, -1]);
  });

  it('not flips bools; dtype rules are enforced', () => {
    expect(Array.from(take(be.unary('not', input([1, 0, 1], [3], 'bool')), [3], 'bool'))).toEqual([0, 1, 0]);
    expect(() => be.unary('exp', input([1], [1], 'int32'))).toThrow(DTypeError);
    expect(() => be.unary('not', input([1], [1]))).toThrow(DTypeError);
    expect(() => be.unary('neg', input([1], [1], 'bool'))).toThrow(DTypeError);
  });

  it('handles rank 0 and zero-size', () => {
    expect(Array.from(take(be.unary('exp', input([0], [])), [], 'float32'))).toEqual([1]);
    expect(take(be.unary('exp', input([], [2, 0, 3])), [2, 0, 3], 'float32').length).toBe(0);
  });
});

const FLOAT_BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  // Written out rather than Math.max/min, so the reference does not share the kernel's code.
  // biome-ignore lint/complexity/useMathMinMax: independent reference
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  // biome-ignore lint/complexity/useMathMinMax: independent reference
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};

/** Reference broadcast binary op in float64, rounded to float32 for arithmetic. */
function refBinary(
  f: (a: number, b: number) => number,
  a: number[],
  aShape: number[],
  b: number[],
  bShape: number[],
  outShape: number[],
): number[] {
  return Array.from({ length: size(outShape) }, (_, i) => {
    const idx = unravel(i, outShape);
    return Math.fround(f(a[broadcastIndex(idx, aShape)], b[broadcastIndex(idx, bShape)]));
  });
}

describe('binary', () => {
  // [aShape, bShape, outShape]: same shape, scalar on either side, rank-0, inner and outer
  // broadcasting, both sides broadcasting, rank mismatch, and zero-size.
  const shapes: [number[], number[], number[]][] = [
    [
      [2, 3],
      [2, 3],
      [2, 3],
    ],
    [[2, 3], [], [2, 3]],
    [[], [4], [4]],
    [[], [], []],
    [
      [3, 1],
      [1, 4],
      [3, 4],
    ],
    [
      [2, 1, 5],
      [3, 1],
      [2, 3, 5],
    ],
    [[4, 5], [5], [4, 5]],
    [
      [1, 5, 1],
      [2, 1, 3],
      [2, 5, 3],
    ],
    [
      [2, 2, 2, 3],
      [2, 1, 2, 1],
      [2, 2, 2, 3],
    ],
    [[1, 1], [1], [1, 1]],
    [[0, 3], [3], [0, 3]],
    [
      [2, 0],
      [2, 1],
      [2, 0],
    ],
  ];

  for (const [op, f] of Object.entries(FLOAT_BINARY)) {
    it(`float32 ${op} matches the float64 reference under broadcasting`, () => {
      for (const [aShape, bShape, outShape] of shapes) {
        const a = uniformArray(3, size(aShape), op === 'pow' ? 0.1 : -3, 3);
        const b = uniformArray(4, size(bShape), -3, 3);
        if (a.length > 1) a[1] = b[0] ?? 0; // exercise equality
        const outDType = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op) ? 'bool' : 'float32';
        const got = take(
          be.binary(op as BinaryOp, input(a, aShape), input(b, bShape), outShape),
          outShape,
          outDType,
        );
        expect(Array.from(got), `${aShape} ${bShape}`).toEqual(refBinary(f, a, aShape, b, bShape, outShape));
      }
    });
  }

  it('maximum and minimum propagate NaN from either side; pow and div follow IEEE', () => {
    const a = input([NaN, 1, 2, 0], [4]);
    const b = input([1, NaN, -1, 0], [4]);
    expect(Array.from(take(be.binary('maximum', a, b, [4]), [4], 'float32'))).toEqual([NaN, NaN, 2, 0]);
    expect(Array.from(take(be.binary('minimum', a, b, [4]), [4], 'float32'))).toEqual([NaN, NaN, -1, 0]);
    expect(Array.from(take(be.binary('div', a, b, [4]), [4], 'float32'))).toEqual([NaN, NaN, -2, NaN]);
    const p = take(
      be.binary('pow', input([-8, 2, 0], [3]), input([1 / 3, -1, -1], [3]), [3]),
      [3],
      'float32',
    );
    expect(Array.from(p)).toEqual([NaN, 0.5, Infinity]);
  });

  it('int32 arithmetic wraps, div truncates toward zero, division by zero gives 0', () => {
    const a = input([7, -7, 7, -7, 5, 2147483647, -2147483648, 65536], [8], 'int32');
    const b = input([2, 2, -2, -2, 0, 1, -1, 65536], [8], 'int32');
    expect(Array.from(take(be.binary('div', a, b, [8]), [8], 'int32'))).toEqual([
      3, -3, -3, 3, 0, 2147483647, -2147483648, 1,
    ]);
    expect(Array.from(take(be.binary('add', a, b, [8]), [8], 'int32'))).toEqual([
      9, -5, 5, -9, 5, -2147483648, 2147483647, 131072,
    ]);
    expect(Array.from(take(be.binary('mul', a, b, [8]), [8], 'int32'))).toEqual([
      14, -14, -14, 14, 0, 2147483647, -2147483648, 0,
    ]);
    expect(Array.from(take(be.binary('maximum', a, b, [8]), [8], 'int32'))).toEqual([
      7, 2, 7, -2, 5, 2147483647, -1, 65536,
    ]);
    expect(Array.from(take(be.binary('lt', a, input([0], [], 'int32'), [8]), [8], 'bool'))).toEqual([
      0, 1, 0, 1, 0, 0, 1, 0,
    ]);
  });

  it('and/or on bools with broadcasting; dtype and shape errors', () => {
    const a = input([1, 0, 1, 0], [2, 2], 'bool');
    const b = input([1, 0], [2, 1], 'bool');
    expect(Array.from(take(be.binary('and', a, b, [2, 2]), [4], 'bool'))).toEqual([1, 0, 0, 0]);
    expect(Array.from(take(be.binary('or', a, b, [2, 2]), [4], 'bool'))).toEqual([1, 1, 1, 0]);
    expect(() => be.binary('and', input([1], [1]), input([1], [1]), [1])).toThrow(DTypeError);
    expect(() => be.binary('pow', input([1], [1], 'int32'), input([1], [1], 'int32'), [1])).toThrow(
      DTypeError,
    );
    expect(() => be.binary('add', input([1], [1]), input([1], [1], 'int32'), [1])).toThrow(DTypeError);
    expect(() => be.binary('add', input([1, 2], [2]), input([1, 2, 3], [3]), [3])).toThrow(ShapeError);
  });

  it('a large broadcast over many rows walks every element once', () => {
    const aShape = [3, 1, 37, 1];
    const bShape = [5, 1, 9];
    const outShape = [3, 5, 37, 9];
    const a = uniformArray(8, size(aShape));
    const b = uniformArray(9, size(bShape));
    const got = take(be.binary('sub', input(a, aShape), input(b, bShape), outShape), outShape, 'float32');
    expect(Array.from(got)).toEqual(refBinary((x, y) => x - y, a, aShape, b, bShape, outShape));
  });
});

describe('where', () => {
  it('selects with three-way broadcasting, for every dtype', () => {
    const cond = input([1, 0, 1], [3, 1], 'bool');
    const a = input([10, 20, 30, 40], [4], 'int32');
    const b = input([-1], [], 'int32');
    expect(Array.from(take(be.where(cond, a, b, [3, 4]), [3, 4], 'int32'))).toEqual([
      10, 20, 30, 40, -1, -1, -1, -1, 10, 20, 30, 40,
    ]);
    const fa = input([0.5, 1.5], [2, 1]);
    const fb = input([7, 8, 9], [3]);
    const c2 = input([1, 0, 0, 1, 1, 0], [2, 3], 'bool');
    expect(Array.from(take(be.where(c2, fa, fb, [2, 3]), [6], 'float32'))).toEqual([0.5, 8, 9, 1.5, 1.5, 9]);
    const bool = take(
      be.where(input([1], [], 'bool'), input([0, 1], [2], 'bool'), input([1, 1], [2], 'bool'), [2]),
      [2],
      'bool',
    );
    expect(Array.from(bool)).toEqual([0, 1]);
    expect(take(be.where(input([], [0, 1], 'bool'), a, b, [0, 4]), [0, 4], 'int32').length).toBe(0);
    expect(() => be.where(input([1], [1]), a, b, [4])).toThrow(DTypeError);
  });
});

describe('cast', () => {
  it('converts between every pair of dtypes', () => {
    const f = input([1.9, -1.9, 0, -0.5, NaN, 3e9, -3e9, 2.5], [8]);
    expect(Array.from(take(be.cast(f, 'int32'), [8], 'int32'))).toEqual([
      1, -1, 0, 0, 0, 2147483647, -2147483648, 2,
    ]);
    expect(Array.from(take(be.cast(f, 'bool'), [8], 'bool'))).toEqual([1, 1, 0, 1, 1, 1, 1, 1]);
    const i = input([16777217, -3, 0], [3], 'int32');
    expect(Array.from(take(be.cast(i, 'float32'), [3], 'float32'))).toEqual([16777216, -3, 0]);
    expect(Array.from(take(be.cast(i, 'bool'), [3], 'bool'))).toEqual([1, 1, 0]);
    const b = input([1, 0], [2], 'bool');
    expect(Array.from(take(be.cast(b, 'float32'), [2], 'float32'))).toEqual([1, 0]);
    expect(Array.from(take(be.cast(b, 'int32'), [2], 'int32'))).toEqual([1, 0]);
    const same = take(be.cast(f, 'float32'), [8], 'float32');
    expect(same[0]).toBe(Math.fround(1.9));
    expect(Array.from(take(be.cast(input([5], [], 'int32'), 'float32'), [], 'float32'))).toEqual([5]);
  });
});
