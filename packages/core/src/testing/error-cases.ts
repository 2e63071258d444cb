/**
 * Error behaviour: bad input raises a typed error whose message names the op, the shapes and the
 * dtypes involved, never a silent NaN or a wrong shape. Most of these checks are made by core before
 * a kernel runs, so they pin core's contract as seen through this backend; the two-backend, dispose
 * and synchronous-read cases depend on the backend too.
 */
import { expect, it } from 'vitest';
import { valueAndGrad } from '../autograd.js';
import type { Backend } from '../backend.js';
import { dispose } from '../engine.js';
import { BackendError, DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { tensor, zeros } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { concat, expandDims, reshape } from '../ops/movement.js';
import { softmax } from '../ops/nn.js';
import { argmax, max, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import type { ConformanceContext } from './context.js';

/** Declares the error cases; `factory` makes the second backend instance of the two-backend case. */
export function errorSuite(ctx: ConformanceContext, factory: () => Backend | Promise<Backend>): void {
  it('error matmul of mismatched shapes is a ShapeError naming both', () => {
    const a = zeros([2, 3]);
    const b = zeros([4, 5]);
    try {
      let err: unknown;
      try {
        matmul(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ShapeError);
      const msg = (err as Error).message;
      expect(msg).toContain('[2,3]');
      expect(msg).toContain('[4,5]');
      expect(msg).toContain('matmul');
    } finally {
      dispose([a, b]);
    }
  });

  it('error shapes that do not broadcast are a ShapeError naming both', () => {
    const a = zeros([2, 3]);
    const b = zeros([4]);
    try {
      expect(() => E.add(a, b)).toThrow(ShapeError);
      expect(() => E.add(a, b)).toThrow(/\[2,3\].*\[4\]/);
    } finally {
      dispose([a, b]);
    }
  });

  it('error a fractional number meeting an int32 tensor is a DTypeError', () => {
    const i = zeros([3], { dtype: 'int32' });
    try {
      expect(() => E.mul(i, 2.5)).toThrow(DTypeError);
      expect(() => E.where(E.equal(i, 0), 1.5, i)).toThrow(/1\.5.*int32/);
    } finally {
      dispose(i);
    }
  });

  it('error mixed dtypes are a DTypeError naming both', () => {
    const a = zeros([2]);
    const b = zeros([2], { dtype: 'int32' });
    try {
      let err: unknown;
      try {
        E.add(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DTypeError);
      expect((err as Error).message).toContain('float32');
      expect((err as Error).message).toContain('int32');
      expect(() => matmul(b, b)).toThrow(DTypeError);
      expect(() => E.exp(b)).toThrow(DTypeError);
    } finally {
      dispose([a, b]);
    }
  });

  it('error tensors of two backend instances are a BackendError', async () => {
    const be = ctx.backend();
    const other = await factory();
    if (other === be) throw new Error('the factory must return a new backend instance on every call');
    const a = tensor([1, 2, 3], { backend: be });
    const b = tensor([1, 2, 3], { backend: other });
    try {
      expect(() => E.add(a, b)).toThrow(BackendError);
      expect(() => concat([a, b])).toThrow(BackendError);
      // Each backend still works on its own tensors.
      const c = E.add(b, b);
      await ctx.check(c, [2, 4, 6]);
      c.dispose();
    } finally {
      dispose([a, b]);
      other.dispose();
    }
  });

  it('error use after dispose is a DisposedError', async () => {
    const x = zeros([3]);
    const view = reshape(x, [1, 3]);
    x.dispose();
    x.dispose(); // a second dispose is harmless
    expect(() => E.exp(x)).toThrow(DisposedError);
    expect(() => sum(x)).toThrow(DisposedError);
    await expect(x.data()).rejects.toBeInstanceOf(DisposedError);
    // A view sharing the storage stays usable until it is disposed itself.
    await ctx.check(view, [0, 0, 0], { shape: [1, 3] });
    view.dispose();
    expect(() => E.neg(view)).toThrow(DisposedError);
  });

  it('error dataSync without a synchronous read is a BackendError', async () => {
    const x = tensor([1, 2, 3]);
    try {
      if (ctx.backend().readSync) {
        // This backend can read synchronously: dataSync must then agree with data().
        ctx.expectClose(x.dataSync(), await x.data(), { rtol: 0, atol: 0, what: 'dataSync' });
        ctx.expectClose(x.dataSync(), [1, 2, 3], { rtol: 0, atol: 0, what: 'dataSync' });
      } else {
        expect(() => x.dataSync()).toThrow(BackendError);
        expect(() => x.dataSync()).toThrow(/data\(\)/);
      }
    } finally {
      x.dispose();
    }
  });

  it('error bad axis is a ValueError', () => {
    const x = zeros([2, 3]);
    try {
      expect(() => sum(x, 2)).toThrow(ValueError);
      expect(() => sum(x, -3)).toThrow(ValueError);
      expect(() => sum(x, [0, 0])).toThrow(ValueError);
      expect(() => max(x, 1.5)).toThrow(ValueError);
      expect(() => argmax(x, 2)).toThrow(ValueError);
      expect(() => concat([x, x], 2)).toThrow(ValueError);
      expect(() => softmax(x, 5)).toThrow(ValueError);
      expect(() => expandDims(x, 4)).toThrow(ValueError);
    } finally {
      x.dispose();
    }
  });

  it('error invalid arguments', () => {
    const x = zeros([2, 3]);
    const e = zeros([0, 3]);
    const i = zeros([3], { dtype: 'int32' });
    const outs: Tensor[] = [x, e, i];
    try {
      expect(() => reshape(x, [4])).toThrow(ShapeError);
      expect(() => reshape(x, [4])).toThrow(/\[2,3\]/);
      expect(() => max(e, 0)).toThrow(ShapeError);
      expect(() => E.clamp(x, 1, 0)).toThrow(ValueError);
      expect(() => zeros([2, -1])).toThrow(ShapeError);
      expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(ShapeError);
      // valueAndGrad needs a scalar float32 result and float32 parameters.
      expect(() => valueAndGrad((p: Tensor) => E.mul(p, 2))(x)).toThrow(ShapeError);
      expect(() => valueAndGrad((p: Tensor) => sum(p))(i)).toThrow(DTypeError);
    } finally {
      dispose(outs);
    }
  });
}
