/**
 * Deterministic memory: `tidy` frees intermediates and keeps results, `memory()` counts bytes,
 * buffers and tensors exactly, a closed autograd tape leaves only its results, and a training loop
 * runs in constant memory. Counts are measured as differences from a baseline taken in the same
 * test, so tensors other tests left alive do not matter.
 */
import { expect, it } from 'vitest';
import { valueAndGrad } from '../autograd.js';
import { dispose, keep, memory, tidy } from '../engine.js';
import { rand, zeros } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { oneHot, reshape } from '../ops/movement.js';
import { crossEntropy, layerNorm, mse, softmax } from '../ops/nn.js';
import { mean, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { ARITH } from './common.js';
import type { ConformanceContext } from './context.js';

/** Declares the memory cases. */
export function memorySuite(ctx: ConformanceContext): void {
  const snapshot = () => {
    const m = memory(ctx.backend());
    return { bytes: m.bytes, buffers: m.buffers, tensors: m.tensors };
  };
  /**
   * Asserts the change since `before`: one live buffer per entry of `sizes`, `tensors` live tensors,
   * and exactly the logical bytes of those buffers (`size x bytesPerElement(dtype)`, one byte per
   * bool). Allocation padding or size classes belong in `pooledBytes` (or nowhere), not in `bytes`.
   */
  const expectDelta = (before: ReturnType<typeof snapshot>, sizes: readonly number[], tensors: number) => {
    const now = snapshot();
    const got = {
      bytes: now.bytes - before.bytes,
      buffers: now.buffers - before.buffers,
      tensors: now.tensors - before.tensors,
    };
    const want = { bytes: sizes.reduce((s, n) => s + n, 0), buffers: sizes.length, tensors };
    expect(got, 'memory() change (bytes are logical: size x bytesPerElement)').toEqual(want);
  };

  it('memory counts bytes, buffers and tensors exactly', () => {
    const before = snapshot();
    const f = zeros([3, 5]);
    expectDelta(before, [60], 1);
    const i = zeros([7], { dtype: 'int32' });
    expectDelta(before, [60, 28], 2);
    // bool is one byte per element.
    const b = zeros([9], { dtype: 'bool' });
    expectDelta(before, [60, 28, 9], 3);
    // A reshape is a view: a new tensor sharing the buffer.
    const v = reshape(f, [15]);
    expectDelta(before, [60, 28, 9], 4);
    f.dispose();
    // The buffer lives on while the view does.
    expectDelta(before, [60, 28, 9], 3);
    v.dispose();
    expectDelta(before, [28, 9], 2);
    dispose([i, b]);
    expectDelta(before, [], 0);
  });

  it('memory ops outside tidy leave only their result alive', () => {
    const x = zeros([4, 6]);
    const labels = zeros([4], { dtype: 'int32' });
    const v = zeros([6]);
    const cases: [string, () => Tensor][] = [
      ['mul by a number', () => E.mul(x, 2)],
      ['where of numbers', () => E.where(E.gt(x, 0), 1, 0)],
      ['softmax', () => softmax(x)],
      ['layerNorm', () => layerNorm(x)],
      ['crossEntropy', () => crossEntropy(x, labels)],
      ['oneHot', () => oneHot(labels, 5)],
      ['rand with a range', () => rand([3], -1, 1)],
      ['matmul of a vector', () => matmul(x, v)],
      ['mean with keepDims', () => mean(x, -1, true)],
    ];
    for (const [what, f] of cases) {
      const before = snapshot();
      const y = f();
      // gt() leaves its mask for where(); everything else must leave exactly the result.
      const extra = what === 'where of numbers' ? 1 : 0;
      expect(snapshot().tensors - before.tensors, what).toBe(1 + extra);
      y.dispose();
    }
    dispose([x, labels, v]);
  });

  it('memory tidy disposes intermediates and keeps results', async () => {
    const before = snapshot();
    const x = ctx.upload([1, 2, 3, 4]);
    const { y, kept } = tidy(() => {
      const a = E.exp(x);
      const b = E.mul(a, 2);
      const k = keep(E.add(x, 1));
      E.neg(b); // dropped
      return { y: E.sub(b, a), kept: k };
    });
    expect(y.isDisposed).toBe(false);
    expect(kept.isDisposed).toBe(false);
    expectDelta(before, [16, 16, 16], 3);
    await ctx.check(
      y,
      [1, 2, 3, 4].map((v) => Math.exp(v)),
      { rtol: 1e-5 },
    );
    await ctx.check(kept, [2, 3, 4, 5], ARITH);
    // Nested scopes: the inner result moves to the outer scope, which frees it unless returned.
    const outer = tidy(() => {
      const inner = tidy(() => E.mul(E.add(x, 1), 3));
      tidy(() => E.mul(inner, 5));
      return E.add(inner, 0);
    });
    expectDelta(before, [16, 16, 16, 16], 4);
    await ctx.check(outer, [6, 9, 12, 15], ARITH);
    dispose([x, y, kept, outer]);
    expectDelta(before, [], 0);
  });

  it('memory valueAndGrad keeps only the value and the gradients', async () => {
    const w = ctx.upload([0.5, -1, 2, 0.25], [2, 2]);
    const before = snapshot();
    const { value, grads } = valueAndGrad((p: Tensor) => sum(E.tanh(matmul(p, E.exp(p)))))(w);
    // value (4 bytes) and one gradient (16 bytes); everything else the tape made is gone.
    expectDelta(before, [4, 16], 2);
    const v = await ctx.read(value);
    if (!Number.isFinite(v[0])) throw new Error(`value ${v[0]} must be finite`);
    dispose([value, grads]);
    expectDelta(before, [], 0);
    w.dispose();
  });

  it('memory a 1,000-step training loop runs in constant memory and learns', async () => {
    // A 2-layer tanh MLP fits y = sin(x0) + 0.5 x1 on 32 points with plain SGD.
    const n = 32;
    const r = ctx.rng(77);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < n; i++) {
      const x0 = 4 * r() - 2;
      const x1 = 2 * r() - 1;
      xs.push(x0, x1);
      ys.push(Math.sin(x0) + 0.5 * x1);
    }
    const X = ctx.upload(xs, [n, 2]);
    const Y = ctx.upload(ys, [n, 1]);
    let params = {
      w1: ctx.upload(ctx.normal(78, [2, 16], 0, 0.7)),
      b1: ctx.upload(new Array(16).fill(0), [16]),
      w2: ctx.upload(ctx.normal(79, [16, 1], 0, 0.3)),
      b2: ctx.upload([0], [1]),
    };
    type Params = typeof params;
    const step = valueAndGrad((p: Params) => {
      const h = E.tanh(E.add(matmul(X, p.w1), p.b1));
      return mse(E.add(matmul(h, p.w2), p.b2), Y);
    });
    const lr = 0.1;
    const losses: number[] = [];
    let reference: ReturnType<typeof snapshot> | null = null;
    try {
      for (let t = 0; t < 1000; t++) {
        const { value, grads } = step(params);
        const next = tidy(() => ({
          w1: E.sub(params.w1, E.mul(grads.w1, lr)),
          b1: E.sub(params.b1, E.mul(grads.b1, lr)),
          w2: E.sub(params.w2, E.mul(grads.w2, lr)),
          b2: E.sub(params.b2, E.mul(grads.b2, lr)),
        }));
        dispose([params, grads]);
        params = next;
        if (t % 100 === 0 || t === 999) losses.push((await ctx.read(value))[0]);
        value.dispose();
        if (t === 10) reference = snapshot();
        if (reference && t > 10) {
          const now = snapshot();
          if (
            now.tensors !== reference.tensors ||
            now.bytes !== reference.bytes ||
            now.buffers !== reference.buffers
          ) {
            throw new Error(
              `step ${t}: memory grew from ${JSON.stringify(reference)} at step 10 to ${JSON.stringify(now)}`,
            );
          }
        }
      }
    } finally {
      dispose([params, X, Y]);
    }
    const [first, last] = [losses[0], losses[losses.length - 1]];
    if (!(last < 0.2 * first)) throw new Error(`loss did not decrease enough: ${losses.join(', ')}`);
    for (let i = 1; i < losses.length; i++) {
      if (!(losses[i] <= losses[i - 1] * 1.001)) throw new Error(`loss went up: ${losses.join(', ')}`);
    }
  });
}
