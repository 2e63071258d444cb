import { type ReduceOp, ValueError } from '@mru/core';
import { uniformArray } from '@mru/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { setup, size, unravel } from './helpers.js';

const { be, input, take, release } = setup();
afterEach(() => {
  release();
  expect(be.memory().buffers).toBe(0);
});

/** float64 reference reduction of `x` of `shape` over `axes`. */
function refReduce(
  op: ReduceOp,
  x: number[],
  shape: number[],
  axes: number[],
): { values: number[]; shape: number[] } {
  const outShape = shape.filter((_, d) => !axes.includes(d));
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  const out = new Array<number>(size(outShape)).fill(init);
  for (let i = 0; i < x.length; i++) {
    const idx = unravel(i, shape).filter((_, d) => !axes.includes(d));
    let o = 0;
    for (let d = 0; d < outShape.length; d++) o = o * outShape[d] + idx[d];
    out[o] = op === 'sum' ? out[o] + x[i] : op === 'max' ? Math.max(out[o], x[i]) : Math.min(out[o], x[i]);
  }
  return { values: out, shape: outShape };
}

describe('reduce', () => {
  const cases: [number[], number[]][] = [
    [[7], [0]],
    [[3, 4], [0]],
    [[3, 4], [1]],
    [
      [3, 4],
      [0, 1],
    ],
    [[2, 3, 4], [1]],
    [
      [2, 3, 4],
      [0, 2],
    ],
    [
      [2, 1, 5, 3],
      [1, 3],
    ],
    [
      [4, 3, 2, 5],
      [0, 1],
    ],
    [
      [4, 3, 2, 5],
      [2, 3],
    ],
    [[2, 0, 3], [1]],
    [[2, 0, 3], [0]],
    // Extent-1 axes only: the walk collapses to one element with stride 0 and must still visit it.
    [[1], [0]],
    [
      [1, 1],
      [0, 1],
    ],
    [[3, 1], [1]],
    [[1, 3], [0]],
    // Column sums run four rows at a time with a tail (9 = 2 * 4 + 1 rows), row sums a loop of their own.
    [[9, 5], [0]],
    [
      [6, 5, 3],
      [0, 1],
    ],
    [[7, 6], [1]],
    [[9, 16], [1]],
    // Long rows: four partial sums and a tail (1,027 = 4 * 256 + 3).
    [[3, 1027], [1]],
    [[1027], [0]],
  ];
  for (const op of ['sum', 'max', 'min'] as const) {
    it(`float32 ${op} over every axis pattern matches float64`, () => {
      for (const [shape, axes] of cases) {
        if (op !== 'sum' && axes.some((a) => shape[a] === 0)) continue; // core rejects empty max/min
        const x = uniformArray(11 + shape.length, size(shape));
        const ref = refReduce(op, x, shape, axes);
        const got = take(be.reduce(op, input(x, shape), axes), ref.shape, 'float32');
        expect(Array.from(got), `${shape} over ${axes}`).toEqual(ref.values.map(Math.fround));
      }
    });
  }

  it('float32 sum of 10^6 terms is accurate (float64 accumulation)', () => {
    const n = 1_000_000;
    const x = new Float32Array(n).fill(0.1);
    const id = be.write(x, 'float32');
    const got = take(be.reduce('sum', { id, shape: [n], dtype: 'float32' }, [0]), [], 'float32');
    be.free(id);
    // A float32 running sum would be off by about 1%; the exact sum of the stored values is:
    expect(got[0]).toBe(Math.fround(n * Math.fround(0.1)));
  });

  it('sums a column (outer axis) of a long matrix accurately', () => {
    const rows = 100_000;
    const x = new Float32Array(rows * 2);
    for (let i = 0; i < rows; i++) {
      x[2 * i] = 1;
      x[2 * i + 1] = 1e-4;
    }
    const id = be.write(x, 'float32');
    const got = take(be.reduce('sum', { id, shape: [rows, 2], dtype: 'float32' }, [0]), [2], 'float32');
    be.free(id);
    expect(got[0]).toBe(rows);
    expect(got[1]).toBe(Math.fround(rows * Math.fround(1e-4)));
  });

  it('int32 and bool sums are int32; bool max/min are any/all; NaN propagates through max', () => {
    const i = input([2147483647, 1, -5, 4], [2, 2], 'int32');
    expect(Array.from(take(be.reduce('sum', i, [1]), [2], 'int32'))).toEqual([-2147483648, -1]);
    expect(Array.from(take(be.reduce('max', i, [0]), [2], 'int32'))).toEqual([2147483647, 4]);
    const b = input([1, 0, 1, 1, 0, 0], [3, 2], 'bool');
    expect(Array.from(take(be.reduce('sum', b, [0]), [2], 'int32'))).toEqual([2, 1]);
    expect(Array.from(take(be.reduce('max', b, [1]), [3], 'bool'))).toEqual([1, 1, 0]);
    expect(Array.from(take(be.reduce('min', b, [1]), [3], 'bool'))).toEqual([0, 1, 0]);
    const f = input([1, NaN, 3, 2], [2, 2]);
    expect(Array.from(take(be.reduce('max', f, [1]), [2], 'float32'))).toEqual([NaN, 3]);
    expect(Array.from(take(be.reduce('min', f, [0]), [2], 'float32'))).toEqual([1, NaN]);
    expect(Array.from(take(be.reduce('sum', input([], [0]), [0]), [], 'float32'))).toEqual([0]);
    expect(() => be.reduce('sum', f, [1, 0])).toThrow(ValueError);
  });
});

describe('argReduce', () => {
  it('matches a reference along every axis, first index on ties, first NaN wins', () => {
    const shape = [3, 4, 5];
    const x = uniformArray(21, 60).map((v) => Math.round(v * 3)); // many ties
    for (const op of ['argmax', 'argmin'] as const) {
      for (let axis = 0; axis < 3; axis++) {
        const outShape = shape.filter((_, d) => d !== axis);
        const want = Array.from({ length: size(outShape) }, (_, o) => {
          const idx = unravel(o, outShape);
          let best = 0;
          let bestV = NaN;
          for (let k = 0; k < shape[axis]; k++) {
            const full = [...idx.slice(0, axis), k, ...idx.slice(axis)];
            const v = x[(full[0] * 4 + full[1]) * 5 + full[2]];
            if (k === 0 || (op === 'argmax' ? v > bestV : v < bestV)) {
              best = k;
              bestV = v;
            }
          }
          return best;
        });
        expect(Array.from(take(be.argReduce(op, input(x, shape), axis), outShape, 'int32'))).toEqual(want);
      }
    }
    const n = input([1, NaN, 5, NaN], [4]);
    expect(Array.from(take(be.argReduce('argmax', n, 0), [], 'int32'))).toEqual([1]);
    expect(Array.from(take(be.argReduce('argmin', n, 0), [], 'int32'))).toEqual([1]);
    const ints = input([3, 9, 9, -1], [4], 'int32');
    expect(Array.from(take(be.argReduce('argmax', ints, 0), [], 'int32'))).toEqual([1]);
    expect(Array.from(take(be.argReduce('argmin', ints, 0), [], 'int32'))).toEqual([3]);
    expect(take(be.argReduce('argmax', input([], [0, 3]), 1), [0], 'int32').length).toBe(0);
  });
});
