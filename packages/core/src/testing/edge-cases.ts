/**
 * Broadcasting and edge shapes: zero-size dimensions, rank 0, operands that are views produced by
 * movement ops, high-rank broadcasting, and tensors of a million elements (more with `large`), where
 * a float32 sum must still be accurate (pairwise, Kahan or float64 accumulation).
 */
import { it } from 'vitest';
import { dispose } from '../engine.js';
import { ShapeError } from '../errors.js';
import { zeros } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { broadcastTo, concat, pad, reshape, slice, take, transpose } from '../ops/movement.js';
import { argmax, max, mean, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { ARITH, EXACT, readKernel } from './common.js';
import type { ConformanceContext, HostTensor } from './context.js';
import { host, map1, mapN, matmulRef, reduceRef, sliceRef, transposeRef } from './reference.js';

/** Declares the broadcasting and edge-shape cases. */
export function edgeSuite(ctx: ConformanceContext): void {
  it('edge zero-size dimensions', async () => {
    const outs: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => {
      outs.push(t);
      return t;
    };
    try {
      const x = keep(zeros([0, 3]));
      const row = keep(ctx.upload([1, 2, 3]));
      await ctx.check(keep(E.exp(x)), [], { shape: [0, 3] });
      await ctx.check(keep(E.add(x, row)), [], { shape: [0, 3] });
      await ctx.check(keep(E.where(keep(E.gt(x, 0)), x, row)), [], { shape: [0, 3] });
      // A sum over a zero-size axis is 0; over the other axis it is empty.
      await ctx.check(keep(sum(x, 0)), [0, 0, 0], { ...EXACT, shape: [3] });
      await ctx.check(keep(sum(x, 1)), [], { shape: [0] });
      await ctx.check(keep(sum(x)), [0], { ...EXACT, shape: [] });
      await ctx.check(keep(transpose(x)), [], { shape: [3, 0] });
      // A zero-size batch against a shared matrix stays a zero-size batch.
      await ctx.check(keep(matmul(keep(zeros([2, 3])), keep(zeros([0, 3, 4])))), [], { shape: [0, 2, 4] });
      await ctx.check(keep(reshape(x, [3, 0, 5])), [], { shape: [3, 0, 5] });
      await ctx.check(keep(concat([x, keep(reshape(row, [1, 3]))], 0)), [1, 2, 3], {
        ...EXACT,
        shape: [1, 3],
      });
      await ctx.check(
        keep(
          pad(
            keep(zeros([0, 2])),
            [
              [1, 1],
              [0, 0],
            ],
            7,
          ),
        ),
        [7, 7, 7, 7],
        { ...EXACT, shape: [2, 2] },
      );
      await ctx.check(keep(slice(row, [2], [1])), [], { shape: [0] });
      const noIdx = keep(ctx.upload([], [0], 'int32'));
      await ctx.check(keep(take(keep(ctx.upload([1, 2, 3, 4, 5, 6], [2, 3])), noIdx, 0)), [], {
        shape: [0, 3],
      });
      // matmul with k = 0 is a zero matrix; with m = 0 it is empty.
      await ctx.check(keep(matmul(keep(zeros([2, 0])), keep(zeros([0, 3])))), [0, 0, 0, 0, 0, 0], {
        ...EXACT,
        shape: [2, 3],
      });
      await ctx.check(keep(matmul(keep(zeros([0, 4])), keep(ctx.upload(new Array(8).fill(1), [4, 2])))), [], {
        shape: [0, 2],
      });
      // max over a zero-size axis has no value.
      let threw = false;
      try {
        keep(max(x, 0));
      } catch (e) {
        threw = e instanceof ShapeError;
      }
      if (!threw) throw new Error('max over a zero-size axis must throw a ShapeError');
      // Kernels called directly with zero sizes return empty buffers.
      const be = ctx.backend();
      ctx.expectClose(await readKernel(be, be.unary('exp', x), [0, 3], 'float32'), [], {
        what: 'unary kernel',
      });
      ctx.expectClose(await readKernel(be, be.random('uniform', 0, [1, 2], 0), [0], 'float32'), [], {
        what: 'random kernel',
      });
    } finally {
      dispose(outs);
    }
  });

  it('edge rank 0', async () => {
    const outs: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => {
      outs.push(t);
      return t;
    };
    try {
      const a = keep(ctx.upload([1.5], []));
      const b = keep(ctx.upload([-4], []));
      await ctx.check(keep(E.add(a, b)), [-2.5], { ...EXACT, shape: [] });
      await ctx.check(keep(E.exp(a)), [Math.exp(1.5)], { rtol: 1e-5, shape: [] });
      await ctx.check(keep(sum(a)), [1.5], { ...EXACT, shape: [] });
      await ctx.check(keep(mean(a)), [1.5], { ...EXACT, shape: [] });
      await ctx.check(keep(max(b)), [-4], { ...EXACT, shape: [] });
      await ctx.check(keep(E.mul(a, keep(ctx.upload([1, 2, 3], [3])))), [1.5, 3, 4.5], {
        ...EXACT,
        shape: [3],
      });
      await ctx.check(keep(broadcastTo(a, [2, 2])), [1.5, 1.5, 1.5, 1.5], { ...EXACT, shape: [2, 2] });
      await ctx.check(keep(reshape(a, [1, 1])), [1.5], { ...EXACT, shape: [1, 1] });
      await ctx.check(keep(E.where(keep(E.gt(a, b)), a, b)), [1.5], { ...EXACT, shape: [] });
      await ctx.check(keep(argmax(keep(ctx.upload([3, 9, 1])))), [1], {
        ...EXACT,
        shape: [],
        dtype: 'int32',
      });
      await ctx.check(keep(E.gt(a, 0)), [1], { ...EXACT, shape: [], dtype: 'bool' });
    } finally {
      dispose(outs);
    }
  });

  it('edge non-contiguous views', async () => {
    // Ops applied to the results of transpose, slice and broadcast (core materialises views, so a
    // backend that caches layouts must not mistake them for the originals).
    const xh = ctx.uniform(1200, [3, 4]);
    const x = ctx.upload(xh);
    const outs: Tensor[] = [x];
    const keep = <T extends Tensor>(t: T): T => {
      outs.push(t);
      return t;
    };
    try {
      const xt = keep(transpose(x));
      const xth = transposeRef(xh, [1, 0]);
      const rowh = ctx.uniform(1201, [3]);
      const row = keep(ctx.upload(rowh));
      await ctx.check(keep(E.exp(xt)), map1(xth, Math.exp).values, { rtol: 1e-5, atol: 1e-6, shape: [4, 3] });
      await ctx.check(keep(E.add(xt, row)), mapN([xth, rowh], (p, q) => p + q).values, {
        ...ARITH,
        shape: [4, 3],
      });
      await ctx.check(keep(sum(xt, 0)), reduceRef(xth, [0], 0, (p, v) => p + v).values, {
        rtol: 1e-6,
        atol: 1e-6,
      });
      await ctx.check(keep(matmul(xt, x)), matmulRef(xth, xh).values, {
        rtol: 1e-5,
        atol: 1e-5,
        shape: [4, 4],
      });
      const st = keep(slice(xt, [1, 0], [4, 3], [2, 2]));
      await ctx.check(st, sliceRef(xth, [1, 0], [4, 3], [2, 2]).values, { ...EXACT, shape: [2, 2] });
      await ctx.check(
        keep(E.mul(st, 2)),
        sliceRef(xth, [1, 0], [4, 3], [2, 2]).values.map((v) => 2 * v),
        {
          ...EXACT,
          shape: [2, 2],
        },
      );
      const tt = keep(transpose(xt));
      await ctx.check(tt, xh.values, { ...EXACT, shape: [3, 4], what: 'transpose twice' });
    } finally {
      dispose(outs);
    }
  });

  it('edge broadcasting at rank 5', async () => {
    const ah = ctx.uniform(1210, [2, 1, 3, 1, 4]);
    const bh = ctx.uniform(1211, [6, 1, 5, 1]);
    const ch = ctx.uniform(1212, [3, 1, 4]);
    const [a, b, c] = [ah, bh, ch].map((h) => ctx.upload(h));
    const y = E.add(E.mul(a, b), c);
    try {
      const expected = mapN([ah, bh, ch], (p, q, r) => Math.fround(p * q) + r);
      await ctx.check(y, expected.values, { ...ARITH, shape: [2, 6, 3, 5, 4] });
    } finally {
      dispose([a, b, c, y]);
    }
  });

  const largeCase = (n: number, label: string) => {
    it(`edge large tensor sum and elementwise (${label} elements)`, async () => {
      const xh: HostTensor = ctx.uniform(1300, [n], 0, 1);
      const x = ctx.upload(xh);
      const s = sum(x);
      const m = max(reshape(slice(x, [0], [n - (n % 1024)]), [-1, 1024]), 1);
      const y = E.add(E.mul(x, 3), 1);
      try {
        let exact = 0;
        for (const v of xh.values) exact += v;
        // A naive float32 running sum is off by ~1e-4 relative here; pairwise summation by ~1e-7.
        await ctx.check(s, [exact], { rtol: 1e-5, atol: 0, shape: [], what: 'sum' });
        const got = await ctx.read(y);
        const expected = xh.values.map((v) => Math.fround(Math.fround(3 * v) + 1));
        ctx.expectClose(got, expected, { ...ARITH, what: 'elementwise' });
        const rows = (n - (n % 1024)) / 1024;
        const mh = reduceRef(
          host(xh.values.subarray(0, rows * 1024), [rows, 1024]),
          [1],
          -Infinity,
          Math.max,
        );
        await ctx.check(m, mh.values, { ...EXACT, shape: [rows], what: 'row max' });
      } finally {
        dispose([x, s, m, y]);
      }
    });
  };
  largeCase(2 ** 20 + 3, '2^20+3');
  if (ctx.large) largeCase(2 ** 24 + 5, '2^24+5');
}
