/**
 * Reductions (both kernel variants: one invocation per output, one workgroup per output) and
 * arg-reductions, against float64 references; matmul with transposes, shared operands and ragged
 * tile edges.
 */
import { type DType, type ReduceOp, ShapeError, stridesOf } from '@mru/core';
import { expectClose, kernelMatmulRef, uniformArray } from '@mru/core/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { perFile, put, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

/** float64 reduction of `x` (shape `shape`) over `axes`. */
function reduceRef(op: ReduceOp, x: number[], shape: number[], axes: number[]): number[] {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = kept.reduce((a, b) => a * b, 1);
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  const out = new Array<number>(n).fill(init);
  const ks = stridesOf(kept);
  const xs = stridesOf(shape);
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(i / xs[d]) % shape[d];
      if (!axes.includes(d)) o += c * ks[d];
    }
    const v = x[i];
    out[o] = op === 'sum' ? out[o] + v : op === 'max' ? Math.max(out[o], v) : Math.min(out[o], v);
  }
  return out;
}

describe('reduce', () => {
  const cases: [number[], number[]][] = [
    [[10], [0]],
    [[3, 4], [1]],
    [[3, 4], [0]],
    [
      [2, 3, 4],
      [0, 2],
    ],
    [[2, 3, 4], [1]],
    [
      [4, 3, 2, 5],
      [1, 3],
    ],
    [[3, 700], [1]], // tree variant (R >= 64, few outputs)
    [[700, 3], [0]],
    [[2, 5000], [1]],
    [[5000, 2], [0]],
    [[20000, 3], [1]], // serial variant, many outputs
    [[6], [0]],
  ];
  for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
    it(`${op} float32 over ${cases.length} shapes`, async () => {
      let seed = 100;
      for (const [shape, axes] of cases) {
        const n = shape.reduce((a, b) => a * b, 1);
        const v = uniformArray(seed++, n, -2, 2);
        const x = put(be, v, shape);
        const outShape = shape.filter((_, i) => !axes.includes(i));
        const got = await take(be, be.reduce(op, x, axes), outShape);
        be.free(x.id);
        const want = reduceRef(op, Array.from(Float32Array.from(v)), shape, axes);
        expectClose(got, want, { rtol: 1e-6, atol: 1e-5, what: `${op} ${shape} ${axes}` });
      }
    });
  }

  it('int32 and bool sum to int32; int32 max/min', async () => {
    const shape = [5, 300];
    const v = uniformArray(7, 1500, -1000, 1000).map(Math.round);
    const x = put(be, v, shape, 'int32');
    expect(await take(be, be.reduce('sum', x, [1]), [5], 'int32')).toEqual(reduceRef('sum', v, shape, [1]));
    expect(await take(be, be.reduce('max', x, [0]), [300], 'int32')).toEqual(reduceRef('max', v, shape, [0]));
    expect(await take(be, be.reduce('min', x, [0, 1]), [], 'int32')).toEqual(
      reduceRef('min', v, shape, [0, 1]),
    );
    const bv = v.map((t) => +(t > 0));
    const b = put(be, bv, shape, 'bool');
    expect(await take(be, be.reduce('sum', b, [1]), [5], 'int32')).toEqual(reduceRef('sum', bv, shape, [1]));
    expect(await take(be, be.reduce('sum', b, [0]), [300], 'int32')).toEqual(
      reduceRef('sum', bv, shape, [0]),
    );
  });

  it('a long float sum is accurate (compensated)', async () => {
    // 2^20 copies of 0.1f: naive float32 accumulation drifts by ~1e-3 relative.
    const n = 2 ** 20;
    const x = { id: be.fill(n, 'float32', 0.1), shape: [n], dtype: 'float32' as DType };
    const [s] = await take(be, be.reduce('sum', x, [0]), []);
    const [s2] = await take(be, be.reduce('sum', { ...x, shape: [1, n] }, [1]), [1]);
    be.free(x.id);
    const want = n * Math.fround(0.1);
    expect(Math.abs(s - want) / want).toBeLessThan(1e-6);
    expect(Math.abs(s2 - want) / want).toBeLessThan(1e-6);
  });

  it('NaN propagates through max; sums over zero-size axes are 0; empty outputs', async () => {
    const x = put(be, [1, Number.NaN, 3, 4], [2, 2]);
    expect(await take(be, be.reduce('max', x, [1]), [2])).toEqual([Number.NaN, 4]);
    const z = put(be, [], [3, 0]);
    expect(await take(be, be.reduce('sum', z, [1]), [3])).toEqual([0, 0, 0]);
    expect(await take(be, be.reduce('sum', z, [0]), [0])).toEqual([]);
    expect(() => be.reduce('max', z, [1])).toThrow(ShapeError);
    const s = put(be, [5], [1]);
    expect(await take(be, be.reduce('sum', s, [0]), [])).toEqual([5]);
  });
});

describe('argReduce', () => {
  it('argmax/argmin along every axis, first index on ties, NaN wins', async () => {
    const shape = [4, 5, 3];
    const v = uniformArray(9, 60, -3, 3).map((t) => Math.round(t)); // many ties
    const x = put(be, v, shape);
    for (const op of ['argmax', 'argmin'] as const) {
      for (let axis = 0; axis < 3; axis++) {
        const outShape = shape.filter((_, i) => i !== axis);
        const got = await take(be, be.argReduce(op, x, axis), outShape, 'int32');
        const xs = stridesOf(shape);
        const want: number[] = [];
        const os = stridesOf(outShape);
        const nOut = outShape.reduce((a, b) => a * b, 1);
        for (let o = 0; o < nOut; o++) {
          const coords = outShape.map((d, i) => Math.floor(o / os[i]) % d);
          coords.splice(axis, 0, 0);
          let best = 0;
          for (let j = 0; j < shape[axis]; j++) {
            coords[axis] = j;
            const val = v[coords.reduce((s, c, i) => s + c * xs[i], 0)];
            coords[axis] = best;
            const cur = v[coords.reduce((s, c, i) => s + c * xs[i], 0)];
            if (op === 'argmax' ? val > cur : val < cur) best = j;
          }
          want.push(best);
        }
        expect(got, `${op} axis ${axis}`).toEqual(want);
      }
    }
    const n = put(be, [1, Number.NaN, 5, Number.NaN], [4]);
    expect(await take(be, be.argReduce('argmax', n, 0), [], 'int32')).toEqual([1]);
    expect(await take(be, be.argReduce('argmin', n, 0), [], 'int32')).toEqual([1]);
    const i = put(be, [3, 9, 9, -1], [4], 'int32');
    expect(await take(be, be.argReduce('argmax', i, 0), [], 'int32')).toEqual([1]);
    expect(await take(be, be.argReduce('argmin', i, 0), [], 'int32')).toEqual([3]);
  });
});

describe('matmul', () => {
  const dims: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 3, 5, 2],
    [2, 17, 33, 9],
    [3, 64, 16, 64],
    [1, 70, 130, 65],
    [2, 1, 200, 1],
  ];
  for (const [batch, m, k, n] of dims) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      it(`[${batch}] ${m}x${k} @ ${k}x${n} transA=${tA} transB=${tB}`, async () => {
        const shareB = batch > 1 && tA; // also cover a broadcast operand
        const bBatch = shareB ? 1 : batch;
        const av = uniformArray(m * 7 + k, batch * m * k);
        const bv = uniformArray(n * 5 + k, bBatch * k * n);
        const a = put(be, av, [batch, ...(tA ? [k, m] : [m, k])]);
        const b = put(be, bv, [bBatch, ...(tB ? [n, k] : [k, n])]);
        const spec = {
          batch,
          m,
          k,
          n,
          aBatchStride: m * k,
          bBatchStride: shareB ? 0 : k * n,
          transposeA: tA,
          transposeB: tB,
        };
        const got = await take(be, be.matmul(a, b, spec), [batch, m, n]);
        const A = Array.from(Float32Array.from(av));
        const B = Array.from(Float32Array.from(bv));
        const want = Array.from(kernelMatmulRef(A, B, spec));
        expectClose(got, want, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(k) });
        be.free(a.id);
        be.free(b.id);
      });
    }
  }
  it('k = 0 gives zeros and empty products give empty outputs', async () => {
    const a = put(be, [], [1, 2, 0]);
    const b = put(be, [], [1, 0, 3]);
    const spec = {
      batch: 1,
      m: 2,
      k: 0,
      n: 3,
      aBatchStride: 0,
      bBatchStride: 0,
      transposeA: false,
      transposeB: false,
    };
    expect(await take(be, be.matmul(a, b, spec), [1, 2, 3])).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await take(be, be.matmul(a, b, { ...spec, m: 0 }), [1, 0, 3])).toEqual([]);
  });
});
