/**
 * Elementwise primitives against float64 JS references: unary ops, broadcasting binary ops, where,
 * cast, fill and the write/read round trip of every dtype, including rank 0 and zero-size tensors.
 */
import { type BinaryOp, broadcastShapes, type DType, DTypeError, stridesOf, type UnaryOp } from '@mru/core';
import { expectClose, uniformArray } from '@mru/core/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { perFile, put, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

const f32 = Math.fround;

/** Reads element `i` of `shape`-shaped `values` broadcast to `outShape`. */
function bcast(values: number[], shape: number[], outShape: number[]): number[] {
  const n = outShape.reduce((a, b) => a * b, 1);
  const own = stridesOf(shape);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let rem = i;
    let off = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const c = rem % outShape[d];
      rem = Math.floor(rem / outShape[d]);
      const sd = d - (outShape.length - shape.length);
      if (sd >= 0 && shape[sd] !== 1) off += c * own[sd];
    }
    out.push(values[off]);
  }
  return out;
}

describe('write and read', () => {
  it('round-trips every dtype, rank 0 and zero-size', async () => {
    expect(await take(be, put(be, [1.5, -2, 3e-8], [3]).id, [3])).toEqual([1.5, -2, f32(3e-8)]);
    expect(await take(be, put(be, [7, -(2 ** 31), 2 ** 31 - 1], [3], 'int32').id, [3], 'int32')).toEqual([
      7,
      -(2 ** 31),
      2 ** 31 - 1,
    ]);
    expect(await take(be, put(be, [1, 0, 1, 1, 0], [5], 'bool').id, [5], 'bool')).toEqual([1, 0, 1, 1, 0]);
    expect(await take(be, put(be, [42], []).id, [])).toEqual([42]);
    const empty = await be.read(put(be, [], [0, 3]));
    expect(empty).toBeInstanceOf(Float32Array);
    expect(empty.length).toBe(0);
    const b = await be.read(put(be, [1, 0], [2], 'bool'));
    expect(b).toBeInstanceOf(Uint8Array);
    // Any non-zero byte is true.
    expect(await take(be, be.write(new Uint8Array([0, 3, 255, 1]), 'bool'), [4], 'bool')).toEqual([
      0, 1, 1, 1,
    ]);
  });

  it('rejects an array of the wrong dtype', () => {
    expect(() => be.write(new Float32Array(2), 'int32')).toThrow(DTypeError);
  });

  it('fills with the value cast to the dtype', async () => {
    expect(await take(be, be.fill(5, 'float32', 0.1), [5])).toEqual(new Array(5).fill(f32(0.1)));
    expect(await take(be, be.fill(3, 'int32', -2.7), [3], 'int32')).toEqual([-2, -2, -2]);
    expect(await take(be, be.fill(2, 'int32', 1e12), [2], 'int32')).toEqual([2 ** 31 - 1, 2 ** 31 - 1]);
    expect(await take(be, be.fill(1, 'int32', Number.NaN), [1], 'int32')).toEqual([0]);
    expect(await take(be, be.fill(2, 'bool', 0.5), [2], 'bool')).toEqual([1, 1]);
    expect(await take(be, be.fill(1, 'float32', Number.NaN), [1])).toEqual([Number.NaN]);
    expect(await take(be, be.fill(0, 'float32', 1), [0])).toEqual([]);
  });
});

describe('unary', () => {
  const xs = [...uniformArray(1, 200, -6, 6), 0, -0, 1e-7, -1e-7, 0.5, -0.75, 30, -30, 100, -100, 88];
  const pos = [...uniformArray(2, 200, 1e-3, 50), 1, 1e-6, 1e20];
  const ref: Record<Exclude<UnaryOp, 'not'>, [(x: number) => number, number[], number]> = {
    neg: [(x) => -x, xs, 0],
    abs: [Math.abs, xs, 0],
    sign: [Math.sign, xs, 0],
    exp: [Math.exp, xs.filter((x) => x < 80), 2e-6],
    log: [Math.log, pos, 2e-6],
    log1p: [Math.log1p, [...uniformArray(3, 200, -0.999, 10), 1e-7, -1e-7, 1e-4, -0.2, 0.3, 0.6, -0.3], 2e-6],
    sqrt: [Math.sqrt, pos, 1e-6],
    tanh: [Math.tanh, xs, 2e-6],
    sigmoid: [(x) => 1 / (1 + Math.exp(-x)), xs, 2e-6],
    sin: [Math.sin, xs.filter((x) => Math.abs(x) < 10), 2e-6],
    cos: [Math.cos, xs.filter((x) => Math.abs(x) < 10), 2e-6],
    floor: [Math.floor, xs, 0],
  };
  for (const [op, [f, inputs, tol]] of Object.entries(ref)) {
    it(`${op} float32`, async () => {
      const x = put(be, inputs, [inputs.length]);
      const got = await take(be, be.unary(op as UnaryOp, x), x.shape);
      be.free(x.id);
      const want = inputs.map((v) => f(f32(v)));
      expectClose(got, want, { rtol: tol, atol: 1e-30 });
    });
  }

  it('sigmoid and tanh saturate without NaN; NaN propagates', async () => {
    const inputs = [1e4, -1e4, 90, -90, Number.NaN];
    const x = put(be, inputs, [5]);
    const s = await take(be, be.unary('sigmoid', x), [5]);
    const t = await take(be, be.unary('tanh', x), [5]);
    be.free(x.id);
    expect(s.slice(0, 4).map((v) => Math.round(v))).toEqual([1, 0, 1, 0]);
    expect(t.slice(0, 4)).toEqual([1, -1, 1, -1]);
    expect(Number.isNaN(s[4]) && Number.isNaN(t[4])).toBe(true);
  });

  it('int32 neg, abs, sign and bool not', async () => {
    const ints = [5, -3, 0, 2 ** 31 - 1, -(2 ** 31) + 1];
    const x = put(be, ints, [5], 'int32');
    expect(await take(be, be.unary('neg', x), [5], 'int32')).toEqual(ints.map((v) => -v | 0));
    expect(await take(be, be.unary('abs', x), [5], 'int32')).toEqual(ints.map((v) => Math.abs(v) | 0));
    expect(await take(be, be.unary('sign', x), [5], 'int32')).toEqual(ints.map((v) => Math.sign(v)));
    be.free(x.id);
    const b = put(be, [1, 0, 0, 1], [2, 2], 'bool');
    expect(await take(be, be.unary('not', b), [2, 2], 'bool')).toEqual([0, 1, 1, 0]);
    be.free(b.id);
    expect(() => be.unary('exp', put(be, [1], [1], 'int32'))).toThrow(DTypeError);
  });

  it('rank 0 and zero-size', async () => {
    const s = put(be, [-2], []);
    expect(await take(be, be.unary('abs', s), [])).toEqual([2]);
    const z = put(be, [], [2, 0]);
    expect(await take(be, be.unary('exp', z), [2, 0])).toEqual([]);
  });
});

describe('binary with broadcasting', () => {
  const shapes: [number[], number[]][] = [
    [[7], [7]],
    [[3, 4], [4]],
    [
      [3, 1],
      [1, 5],
    ],
    [
      [2, 1, 4, 3],
      [5, 1, 3],
    ],
    [[], [2, 3]],
    [[2, 3], []],
    [
      [1, 1, 6],
      [2, 1, 1],
    ],
    [[0, 3], [3]],
  ];
  const floatRef: Partial<Record<BinaryOp, (a: number, b: number) => number>> = {
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    div: (a, b) => a / b,
    maximum: Math.max,
    minimum: Math.min,
    eq: (a, b) => +(a === b),
    ne: (a, b) => +(a !== b),
    lt: (a, b) => +(a < b),
    le: (a, b) => +(a <= b),
    gt: (a, b) => +(a > b),
    ge: (a, b) => +(a >= b),
  };
  for (const [op, f] of Object.entries(floatRef)) {
    it(`${op} float32 over ${shapes.length} shape pairs`, async () => {
      let seed = 10;
      for (const [sa, sb] of shapes) {
        const out = broadcastShapes(op, sa, sb);
        const na = sa.reduce((p, d) => p * d, 1);
        const nb = sb.reduce((p, d) => p * d, 1);
        // Few distinct values, so comparisons see ties.
        const va = uniformArray(seed++, na, -3, 3).map((v) => Math.round(v * 2) / 2);
        const vb = uniformArray(seed++, nb, -3, 3).map((v) => Math.round(v * 2) / 2 || 0.5);
        const a = put(be, va, sa);
        const b = put(be, vb, sb);
        const isCmp = !['add', 'sub', 'mul', 'div', 'maximum', 'minimum'].includes(op);
        const got = await take(be, be.binary(op as BinaryOp, a, b, out), out, isCmp ? 'bool' : 'float32');
        const A = bcast(va, sa, out);
        const B = bcast(vb, sb, out);
        const want = A.map((x, i) => (isCmp ? f(x, B[i]) : f32(f(x, B[i]))));
        expectClose(got, want, { rtol: 1e-7, atol: 0, what: `${op} ${sa} ${sb}` });
        be.free(a.id);
        be.free(b.id);
      }
    });
  }

  it('pow follows JS for negative bases and special cases', async () => {
    const pairs = [
      [2, 3],
      [2, 0.5],
      [-2, 3],
      [-2, 2],
      [-2, 0.5],
      [0, 2],
      [0, -1],
      [0, 0],
      [1.5, -2.5],
      [3, 0],
      [-8, 1 / 3],
      [Number.NaN, 0],
      [10, 7],
      [0.5, 20],
    ];
    const a = put(
      be,
      pairs.map((p) => p[0]),
      [pairs.length],
    );
    const b = put(
      be,
      pairs.map((p) => p[1]),
      [pairs.length],
    );
    const got = await take(be, be.binary('pow', a, b, [pairs.length]), [pairs.length]);
    const want = pairs.map(([x, y]) => f32(f32(x) ** f32(y)));
    expectClose(got, want, { rtol: 4e-6, atol: 0 });
  });

  it('comparisons with NaN are false, but ne', async () => {
    const a = put(be, [Number.NaN, 1, Number.NaN, 2], [4]);
    const b = put(be, [1, Number.NaN, Number.NaN, 2], [4]);
    const ops: [BinaryOp, number[]][] = [
      ['eq', [0, 0, 0, 1]],
      ['ne', [1, 1, 1, 0]],
      ['lt', [0, 0, 0, 0]],
      ['le', [0, 0, 0, 1]],
      ['gt', [0, 0, 0, 0]],
      ['ge', [0, 0, 0, 1]],
    ];
    for (const [op, want] of ops)
      expect(await take(be, be.binary(op, a, b, [4]), [4], 'bool'), op).toEqual(want);
  });

  it('maximum and minimum propagate NaN', async () => {
    const a = put(be, [Number.NaN, 1, 2], [3]);
    const b = put(be, [1, Number.NaN, 3], [3]);
    expect(await take(be, be.binary('maximum', a, b, [3]), [3])).toEqual([Number.NaN, Number.NaN, 3]);
    expect(await take(be, be.binary('minimum', a, b, [3]), [3])).toEqual([Number.NaN, Number.NaN, 2]);
  });

  it('int32 arithmetic wraps and divides toward zero', async () => {
    const va = [7, -7, 7, -7, 2 ** 31 - 1, 5, -(2 ** 31)];
    const vb = [2, 2, -2, -2, 1, 0, -1];
    const a = put(be, va, [7], 'int32');
    const b = put(be, vb, [7], 'int32');
    expect(await take(be, be.binary('div', a, b, [7]), [7], 'int32')).toEqual([
      3,
      -3,
      -3,
      3,
      2 ** 31 - 1,
      0,
      -(2 ** 31),
    ]);
    expect(await take(be, be.binary('add', a, b, [7]), [7], 'int32')).toEqual(
      va.map((x, i) => (x + vb[i]) | 0),
    );
    expect(await take(be, be.binary('mul', a, b, [7]), [7], 'int32')).toEqual(
      va.map((x, i) => Math.imul(x, vb[i])),
    );
    expect(await take(be, be.binary('maximum', a, b, [7]), [7], 'int32')).toEqual(
      va.map((x, i) => Math.max(x, vb[i])),
    );
    expect(await take(be, be.binary('lt', a, b, [7]), [7], 'bool')).toEqual(va.map((x, i) => +(x < vb[i])));
    expect(() => be.binary('pow', a, b, [7])).toThrow(DTypeError);
  });

  it('bool and/or/eq with broadcasting', async () => {
    const a = put(be, [1, 0, 1, 0], [2, 2], 'bool');
    const b = put(be, [1, 0], [2, 1], 'bool');
    expect(await take(be, be.binary('and', a, b, [2, 2]), [2, 2], 'bool')).toEqual([1, 0, 0, 0]);
    expect(await take(be, be.binary('or', a, b, [2, 2]), [2, 2], 'bool')).toEqual([1, 1, 1, 0]);
    expect(await take(be, be.binary('eq', a, b, [2, 2]), [2, 2], 'bool')).toEqual([1, 0, 0, 1]);
  });
});

describe('where', () => {
  it('selects with three-way broadcasting for every dtype', async () => {
    for (const dt of ['float32', 'int32', 'bool'] as DType[]) {
      const cond = put(be, [1, 0, 1], [3, 1], 'bool');
      const va = dt === 'bool' ? [1, 1] : [10, 20];
      const vb = dt === 'bool' ? [0, 0, 0, 0, 0, 0] : [1, 2, 3, 4, 5, 6];
      const a = put(be, va, [2], dt);
      const b = put(be, vb, [3, 2], dt);
      const got = await take(be, be.where(cond, a, b, [3, 2]), [3, 2], dt);
      const c = [1, 1, 0, 0, 1, 1];
      expect(got).toEqual(c.map((ci, i) => (ci ? va[i % 2] : vb[i])));
    }
  });
});

describe('cast', () => {
  it('converts between every pair of dtypes', async () => {
    const fv = [1.9, -1.9, 0, -0.5, 3, Number.NaN, 1e9, 3e9, -3e9, 1e12, Number.POSITIVE_INFINITY];
    const n = fv.length;
    const x = put(be, fv, [n]);
    // Truncation toward zero, saturating at the int32 range, NaN to 0.
    const sat = (v: number) =>
      Number.isNaN(v) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(v) || 0));
    expect(await take(be, be.cast(x, 'int32'), [n], 'int32')).toEqual(fv.map(f32).map(sat));
    const edges = [2 ** 31, -(2 ** 31), 2147483520, Number.NEGATIVE_INFINITY];
    expect(await take(be, be.cast(put(be, edges, [4]), 'int32'), [4], 'int32')).toEqual([
      2 ** 31 - 1,
      -(2 ** 31),
      2147483520,
      -(2 ** 31),
    ]);
    expect(await take(be, be.cast(x, 'bool'), [n], 'bool')).toEqual([1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(await take(be, be.cast(x, 'float32'), [n])).toEqual(fv.map(f32));
    const i = put(be, [0, -5, 16777217], [3], 'int32');
    expect(await take(be, be.cast(i, 'float32'), [3])).toEqual([0, -5, 16777216]);
    expect(await take(be, be.cast(i, 'bool'), [3], 'bool')).toEqual([0, 1, 1]);
    const b = put(be, [1, 0], [2], 'bool');
    expect(await take(be, be.cast(b, 'float32'), [2])).toEqual([1, 0]);
    expect(await take(be, be.cast(b, 'int32'), [2], 'int32')).toEqual([1, 0]);
    expect(await take(be, be.cast(b, 'bool'), [2], 'bool')).toEqual([1, 0]);
  });
});
