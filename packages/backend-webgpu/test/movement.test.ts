/** Movement primitives: strided views, pad, concat, gather and its deterministic scatter-add adjoint. */
import { type DType, stridesOf } from '@mru/core';
import { uniformArray } from '@mru/core/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { perFile, put, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

function stridedRef(x: number[], shape: number[], strides: number[], offset: number): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const os = stridesOf(shape);
  return iota(n).map(
    (i) => x[offset + shape.reduce((s, d, k) => s + (Math.floor(i / os[k]) % d) * strides[k], 0)],
  );
}

describe('strided', () => {
  it('permutes, slices, broadcasts and reverses nothing it should not', async () => {
    const x = put(be, iota(60), [3, 4, 5]);
    const cases: [number[], number[], number][] = [
      [[5, 4, 3], [1, 5, 20], 0], // full permute
      [[2, 2, 3], [20, 5, 1], 6], // slice
      [[3, 2, 4, 5], [20, 0, 5, 1], 0], // broadcast a new axis
      [[60], [1], 0], // identity (collapses to one dim)
      [[], [], 17], // rank 0
      [[0, 4], [5, 1], 0], // zero-size
      [[2, 3], [0, 0], 59], // pure broadcast of one element
    ];
    for (const [shape, strides, offset] of cases) {
      const got = await take(be, be.strided(x, shape, strides, offset), shape);
      expect(got, `${shape} ${strides} ${offset}`).toEqual(stridedRef(iota(60), shape, strides, offset));
    }
  });
  it('moves int32 and bool words untouched', async () => {
    const i = put(be, [-1, 2 ** 31 - 1, 5], [3], 'int32');
    expect(await take(be, be.strided(i, [3], [1], 0), [3], 'int32')).toEqual([-1, 2 ** 31 - 1, 5]);
    const b = put(be, [1, 0, 1], [3], 'bool');
    expect(await take(be, be.strided(b, [2, 3], [0, 1], 0), [2, 3], 'bool')).toEqual([1, 0, 1, 1, 0, 1]);
  });
});

describe('pad', () => {
  it('pads every dtype with a constant', async () => {
    const x = put(be, [1, 2, 3, 4, 5, 6], [2, 3]);
    expect(
      await take(
        be,
        be.pad(
          x,
          [
            [1, 0],
            [2, 1],
          ],
          -1,
        ),
        [3, 6],
      ),
    ).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1]);
    const i = put(be, [7], [1], 'int32');
    expect(await take(be, be.pad(i, [[2, 1]], 3.9), [4], 'int32')).toEqual([3, 3, 7, 3]);
    const b = put(be, [0, 0], [2], 'bool');
    expect(await take(be, be.pad(b, [[1, 1]], 1), [4], 'bool')).toEqual([1, 0, 0, 1]);
    const e = put(be, [], [0, 2]);
    expect(
      await take(
        be,
        be.pad(
          e,
          [
            [1, 1],
            [0, 0],
          ],
          0.5,
        ),
        [2, 2],
      ),
    ).toEqual([0.5, 0.5, 0.5, 0.5]);
    const s = put(be, [9], []);
    expect(await take(be, be.pad(s, [], 0), [])).toEqual([9]);
  });
});

describe('concat', () => {
  it('concatenates along every axis, skipping empty operands', async () => {
    const a = iota(24).map((v) => v + 100);
    const b = iota(12).map((v) => v + 200);
    const shapesA = [2, 3, 4];
    for (let axis = 0; axis < 3; axis++) {
      const shapeB = shapesA.slice();
      shapeB[axis] = axis === 1 ? 0 : shapesA[axis] / 2;
      const nb = shapeB.reduce((p, d) => p * d, 1);
      const ta = put(be, a, shapesA);
      const tb = put(be, b.slice(0, nb), shapeB);
      const tc = put(be, a, shapesA);
      const outShape = shapesA.slice();
      outShape[axis] = 2 * shapesA[axis] + shapeB[axis];
      const got = await take(be, be.concat([ta, tb, tc], axis), outShape);
      // Reference: walk the output, picking the operand by the coordinate on `axis`.
      const os = stridesOf(outShape);
      const want = iota(got.length).map((i) => {
        const c = outShape.map((d, k) => Math.floor(i / os[k]) % d);
        let at = c[axis];
        for (const [vals, shape] of [
          [a, shapesA],
          [b, shapeB],
          [a, shapesA],
        ] as [number[], number[]][]) {
          if (at < shape[axis]) {
            const cc = c.slice();
            cc[axis] = at;
            return vals[cc.reduce((s, v, k) => s + v * stridesOf(shape)[k], 0)];
          }
          at -= shape[axis];
        }
        return Number.NaN;
      });
      expect(got, `axis ${axis}`).toEqual(want);
    }
  });
  it('concatenates bool', async () => {
    const a = put(be, [1, 0], [2], 'bool');
    const b = put(be, [0, 1, 1], [3], 'bool');
    expect(await take(be, be.concat([a, b], 0), [5], 'bool')).toEqual([1, 0, 0, 1, 1]);
  });
});

describe('gather and scatterAdd', () => {
  it('gathers along an axis with index arrays of any rank, clamping out-of-range indices', async () => {
    const x = put(be, iota(24), [2, 3, 4]);
    const idx = put(be, [2, 0, 2, 1, 1, 5, -3, 0], [2, 4], 'int32');
    const got = await take(be, be.gather(x, idx, 1), [2, 2, 4, 4]);
    const clamped = [2, 0, 2, 1, 1, 2, 0, 0];
    const want: number[] = [];
    for (let p = 0; p < 2; p++)
      for (const j of clamped) for (let q = 0; q < 4; q++) want.push(p * 12 + j * 4 + q);
    expect(got).toEqual(want);
    const rows = put(be, [1, 1, 0], [3], 'int32');
    expect(await take(be, be.gather(x, rows, 0), [3, 3, 4])).toEqual([
      ...iota(12).map((v) => v + 12),
      ...iota(12).map((v) => v + 12),
      ...iota(12),
    ]);
    const none = put(be, [], [0], 'int32');
    expect(await take(be, be.gather(x, none, 2), [2, 3, 0])).toEqual([]);
  });

  it('scatter-adds with repeated indices, deterministically, as the adjoint of gather', async () => {
    const pre = 3;
    const post = 5;
    const size = 7;
    const indices = [4, 1, 4, 6, 0, 4, 1, 2, 9, -1];
    const J = indices.length;
    const u = uniformArray(31, pre * J * post);
    const upd = put(be, u, [pre, 2, 5, post]);
    const idx = put(be, indices, [2, 5], 'int32');
    const want = new Array(pre * size * post).fill(0);
    const f = Math.fround;
    for (let p = 0; p < pre; p++) {
      for (let j = 0; j < J; j++) {
        const s = Math.min(size - 1, Math.max(0, indices[j]));
        for (let q = 0; q < post; q++) {
          const o = (p * size + s) * post + q;
          want[o] = f(want[o] + f(u[(p * J + j) * post + q]));
        }
      }
    }
    const got1 = await take(be, be.scatterAdd(upd, idx, 1, size), [pre, size, post]);
    const got2 = await take(be, be.scatterAdd(upd, idx, 1, size), [pre, size, post]);
    // Summed in index order in float32, exactly like the sequential loop.
    expect(got1).toEqual(want);
    expect(got2).toEqual(got1);
    // Adjoint identity: <gather(x), u> = <x, scatterAdd(u)> for in-range indices.
    const inRange = put(be, [4, 1, 4, 6, 0], [5], 'int32');
    const xs = uniformArray(32, pre * size * post);
    const x = put(be, xs, [pre, size, post]);
    const us = uniformArray(33, pre * 5 * post);
    const gx = await take(be, be.gather(x, inRange, 1), [pre, 5, post]);
    const su = await take(be, be.scatterAdd(put(be, us, [pre, 5, post]), inRange, 1, size), [
      pre,
      size,
      post,
    ]);
    const lhs = gx.reduce((s, v, i) => s + v * f(us[i]), 0);
    const rhs = su.reduce((s, v, i) => s + v * f(xs[i]), 0);
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4);
  });

  it('scatter-add with no indices or an empty output', async () => {
    const upd = put(be, [], [2, 0, 3]);
    const idx = put(be, [], [0], 'int32');
    expect(await take(be, be.scatterAdd(upd, idx, 1, 2), [2, 2, 3])).toEqual(new Array(12).fill(0));
    expect(await take(be, be.scatterAdd(upd, idx, 1, 0), [2, 0, 3])).toEqual([]);
  });
});

describe('dtype words', () => {
  it('every dtype round-trips through the movement kernels', async () => {
    for (const dt of ['float32', 'int32', 'bool'] as DType[]) {
      const v = dt === 'bool' ? [1, 0, 0, 1] : [3, -4, 5, -6];
      const x = put(be, v, [2, 2], dt);
      expect(await take(be, be.strided(x, [2, 2], [1, 2], 0), [2, 2], dt)).toEqual([v[0], v[2], v[1], v[3]]);
    }
  });
});
