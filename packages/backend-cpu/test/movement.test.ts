import { DTypeError, ShapeError, ValueError } from '@mru/core';
import { uniformArray } from '@mru/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { setup, size, strides, unravel } from './helpers.js';

const { be, input, take, release } = setup();
afterEach(() => {
  release();
  expect(be.memory().buffers).toBe(0);
});

/** Reference strided gather. */
function refStrided(x: number[], shape: number[], st: number[], offset: number): number[] {
  return Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return x[offset + idx.reduce((s, v, d) => s + v * st[d], 0)];
  });
}

describe('strided', () => {
  const x = uniformArray(5, 120);
  const cases: [string, number[], number[], number][] = [
    ['identity', [2, 3, 4, 5], strides([2, 3, 4, 5]), 0],
    ['permute', [5, 2, 4, 3], [1, 60, 5, 20], 0],
    ['slice with offset', [2, 2, 3], [60, 10, 2], 7],
    ['expand (stride 0)', [3, 4, 5], [0, 5, 1], 20],
    ['broadcast a scalar', [4, 6], [0, 0], 17],
    ['reverse-like inner stride', [10], [11], 3],
    ['rank 0', [], [], 42],
    ['extent-1 dimensions only', [1, 1], [7, 3], 9],
    ['zero-size', [3, 0], [1, 1], 0],
  ];
  it.each(cases)('%s', (_, shape, st, offset) => {
    const got = take(be.strided(input(x, [120]), shape, st, offset), shape, 'float32');
    expect(Array.from(got)).toEqual(refStrided(x, shape, st, offset).map(Math.fround));
  });

  it('keeps the dtype and rejects a view that reads outside the buffer', () => {
    const i = input([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    expect(Array.from(take(be.strided(i, [3, 2], [1, 3], 0), [3, 2], 'int32'))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => be.strided(i, [2, 3], [3, 1], 1)).toThrow(ValueError);
    expect(() => be.strided(i, [2], [1, 1], 0)).toThrow(ShapeError);
  });
});

describe('pad', () => {
  it('pads every dimension with a constant, for each dtype', () => {
    const x = input([1, 2, 3, 4, 5, 6], [2, 3]);
    const got = take(
      be.pad(
        x,
        [
          [1, 0],
          [2, 1],
        ],
        -1,
      ),
      [3, 6],
      'float32',
    );
    expect(Array.from(got)).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1]);
    const b = input([1], [1, 1], 'bool');
    expect(
      Array.from(
        take(
          be.pad(
            b,
            [
              [0, 1],
              [1, 0],
            ],
            0,
          ),
          [2, 2],
          'bool',
        ),
      ),
    ).toEqual([0, 1, 0, 0]);
    const i = input([7, 8], [2], 'int32');
    expect(Array.from(take(be.pad(i, [[2, 2]], 2.9), [6], 'int32'))).toEqual([2, 2, 7, 8, 2, 2]);
    // Zero-size input padded to a non-empty output; rank 0 with no widths copies.
    expect(
      Array.from(
        take(
          be.pad(
            input([], [0, 2]),
            [
              [1, 1],
              [0, 0],
            ],
            3,
          ),
          [2, 2],
          'float32',
        ),
      ),
    ).toEqual([3, 3, 3, 3]);
    expect(Array.from(take(be.pad(input([4], []), [], 0), [], 'float32'))).toEqual([4]);
  });

  it('matches a reference on a 4-d tensor', () => {
    const shape = [2, 3, 1, 4];
    const widths: [number, number][] = [
      [0, 1],
      [1, 1],
      [2, 0],
      [0, 3],
    ];
    const outShape = shape.map((d, i) => d + widths[i][0] + widths[i][1]);
    const x = uniformArray(6, size(shape));
    const want = Array.from({ length: size(outShape) }, (_, o) => {
      const idx = unravel(o, outShape).map((v, d) => v - widths[d][0]);
      if (idx.some((v, d) => v < 0 || v >= shape[d])) return 0.5;
      return x[idx.reduce((s, v, d) => s * shape[d] + v, 0)];
    });
    expect(Array.from(take(be.pad(input(x, shape), widths, 0.5), outShape, 'float32'))).toEqual(want);
  });
});

describe('concat', () => {
  it('joins along each axis, including zero-size parts', () => {
    const a = input([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = input([7, 8], [2, 1]);
    const e = input([], [2, 0]);
    expect(Array.from(take(be.concat([a, e, b], 1), [2, 4], 'float32'))).toEqual([1, 2, 3, 7, 4, 5, 6, 8]);
    const c = input([9, 9, 9], [1, 3]);
    expect(Array.from(take(be.concat([a, c], 0), [3, 3], 'float32'))).toEqual([1, 2, 3, 4, 5, 6, 9, 9, 9]);
    const long = uniformArray(7, 2 * 40);
    const l = input(long, [2, 40]);
    const got = take(be.concat([l, a], 1), [2, 43], 'float32');
    expect(Array.from(got.slice(0, 43))).toEqual([...long.slice(0, 40), 1, 2, 3]);
    expect(Array.from(got.slice(43))).toEqual([...long.slice(40), 4, 5, 6]);
    expect(() => be.concat([a, c], 1)).toThrow(ShapeError);
    expect(() => be.concat([a, input([1, 2], [2, 1], 'int32')], 1)).toThrow(DTypeError);
  });
});

describe('gather and scatterAdd', () => {
  it('gathers along an inner axis with a 2-d index tensor', () => {
    const x = uniformArray(8, 2 * 5 * 3);
    const idx = [4, 0, 4, 2, 1, 3];
    const got = take(be.gather(input(x, [2, 5, 3]), input(idx, [2, 3], 'int32'), 1), [2, 2, 3, 3], 'float32');
    const want: number[] = [];
    for (let p = 0; p < 2; p++)
      for (const j of idx) for (let q = 0; q < 3; q++) want.push(x[(p * 5 + j) * 3 + q]);
    expect(Array.from(got)).toEqual(want);
  });

  it('gathers rows of an embedding table (long contiguous runs) and from the last axis', () => {
    const table = uniformArray(9, 10 * 32);
    const idx = [3, 3, 9, 0];
    const got = take(be.gather(input(table, [10, 32]), input(idx, [4], 'int32'), 0), [4, 32], 'float32');
    expect(Array.from(got)).toEqual(idx.flatMap((i) => table.slice(i * 32, i * 32 + 32)));
    const last = take(
      be.gather(input([1, 2, 3, 4], [2, 2], 'int32'), input([1, 1, 0], [3], 'int32'), 1),
      [2, 3],
      'int32',
    );
    expect(Array.from(last)).toEqual([2, 2, 1, 4, 4, 3]);
    const scalarIdx = take(be.gather(input([5, 6, 7], [3]), input([2], [], 'int32'), 0), [], 'float32');
    expect(Array.from(scalarIdx)).toEqual([7]);
  });

  it('throws a ValueError naming the op, index and size on an out-of-range index', () => {
    const x = input([1, 2, 3], [3]);
    expect(() => be.gather(x, input([0, 3], [2], 'int32'), 0)).toThrow(ValueError);
    expect(() => be.gather(x, input([0, 3], [2], 'int32'), 0)).toThrow(/^gather: index 3 .*size 3/);
    expect(() => be.gather(x, input([-1], [1], 'int32'), 0)).toThrow(/index -1/);
    expect(() => be.scatterAdd(input([1], [1]), input([5], [1], 'int32'), 0, 2)).toThrow(
      /^scatterAdd: index 5/,
    );
    expect(be.memory().buffers).toBe(6); // only the six inputs: nothing half-made leaked
  });

  it('scatterAdd accumulates repeated indices and is the adjoint of gather', () => {
    const idx = [2, 0, 2, 2];
    const updates = uniformArray(10, 3 * 4 * 2);
    const got = take(
      be.scatterAdd(input(updates, [3, 4, 2]), input(idx, [4], 'int32'), 1, 5),
      [3, 5, 2],
      'float32',
    );
    const want = new Array<number>(30).fill(0);
    for (let p = 0; p < 3; p++) {
      for (let j = 0; j < 4; j++)
        for (let q = 0; q < 2; q++) want[(p * 5 + idx[j]) * 2 + q] += updates[(p * 4 + j) * 2 + q];
    }
    expect(Array.from(got)).toEqual(want.map(Math.fround));
    // <gather(x), u> == <x, scatterAdd(u)> for random x and u.
    const x = uniformArray(11, 3 * 5 * 2);
    const g = take(be.gather(input(x, [3, 5, 2]), input(idx, [4], 'int32'), 1), [3, 4, 2], 'float32');
    const lhs = Array.from(g).reduce((s, v, i) => s + v * updates[i], 0);
    const rhs = x.reduce((s, v, i) => s + v * want[i], 0);
    expect(lhs).toBeCloseTo(rhs, 5);
    // Zero-size: no indices gives zeros.
    expect(
      Array.from(take(be.scatterAdd(input([], [0, 2]), input([], [0], 'int32'), 0, 2), [2, 2], 'float32')),
    ).toEqual([0, 0, 0, 0]);
  });
});
