/**
 * The public autograd API: parameter trees, auxiliary outputs, stopping gradients, no-grad regions,
 * hand-written VJPs, repeated and unused inputs. Values are checked exactly where the arithmetic is
 * exact in float32.
 */
import { it } from 'vitest';
import { customVjp, stopGradient, valueAndGrad } from '../autograd.js';
import { dispose, noGrad } from '../engine.js';
import * as E from '../ops/elementwise.js';
import { cast } from '../ops/movement.js';
import { sum } from '../ops/reduce.js';
import { Tensor } from '../tensor.js';
import { ARITH } from './common.js';
import type { ConformanceContext } from './context.js';

/** Declares the autograd API cases. */
export function autogradSuite(ctx: ConformanceContext): void {
  const a0 = [1, -2, 0.5, 3];
  const b0 = [2, 0.25, -1, 4];

  it('autograd two parameters never share one gradient tensor', async () => {
    const a = ctx.upload(a0);
    const b = ctx.upload(b0);
    // add's VJP hands the same cotangent to both operands.
    const { value, grads } = valueAndGrad((p: { a: Tensor; b: Tensor }) => sum(E.add(p.a, p.b)))({ a, b });
    try {
      if (grads.a === grads.b) throw new Error('grads.a and grads.b are one tensor');
      grads.a.dispose();
      await ctx.check(grads.b, [1, 1, 1, 1], { ...ARITH, shape: [4], what: 'd/db after disposing d/da' });
    } finally {
      dispose([a, b, value, grads]);
    }
  });

  it('autograd customVjp of an identity forward counts its gradient once', async () => {
    const x = ctx.upload(a0);
    const halfGrad = customVjp(
      (t: Tensor) => t,
      (g) => [E.mul(g, 0.5)],
    );
    const { value, grads } = valueAndGrad((t: Tensor) => sum(halfGrad(t)))(x);
    try {
      await ctx.check(grads, [0.5, 0.5, 0.5, 0.5], { ...ARITH, shape: [4] });
    } finally {
      dispose([x, value, grads]);
    }
  });

  it('autograd valueAndGrad with an array tree', async () => {
    const a = ctx.upload(a0);
    const b = ctx.upload(b0);
    // f = sum(a * b) + sum(a): df/da = b + 1, df/db = a.
    const { value, grads } = valueAndGrad((p: Tensor[]) => E.add(sum(E.mul(p[0], p[1])), sum(p[0])))([a, b]);
    try {
      if (!Array.isArray(grads) || grads.length !== 2)
        throw new Error('grads must mirror the array of parameters');
      const expectedValue = a0.reduce((s, v, i) => s + v * b0[i] + v, 0);
      await ctx.check(value, [expectedValue], { ...ARITH, shape: [] });
      await ctx.check(
        grads[0],
        b0.map((v) => v + 1),
        { ...ARITH, shape: [4], what: 'd/da' },
      );
      await ctx.check(grads[1], a0, { ...ARITH, shape: [4], what: 'd/db' });
    } finally {
      dispose([a, b, value, grads]);
    }
  });

  it('autograd valueAndGrad with an object tree', async () => {
    const w = ctx.upload(a0, [2, 2]);
    const bias = ctx.upload([0.5, -0.5]);
    const c = ctx.upload([3]);
    const params = { w, nested: { bias }, list: [c] };
    // f = sum(w * c) + sum(bias * bias) * c
    const { value, grads } = valueAndGrad((p: typeof params) =>
      E.add(sum(E.mul(p.w, p.list[0])), E.mul(sum(E.mul(p.nested.bias, p.nested.bias)), p.list[0])),
    )(params);
    try {
      if (
        !(grads.w instanceof Tensor) ||
        !(grads.nested.bias instanceof Tensor) ||
        !(grads.list[0] instanceof Tensor)
      ) {
        throw new Error('grads must mirror the structure of the parameters');
      }
      await ctx.check(value, [3 * (1 - 2 + 0.5 + 3) + 0.5 * 3], { ...ARITH, shape: [1] });
      await ctx.check(grads.w, [3, 3, 3, 3], { ...ARITH, shape: [2, 2], what: 'd/dw' });
      await ctx.check(grads.nested.bias, [3, -3], { ...ARITH, shape: [2], what: 'd/dbias' });
      await ctx.check(grads.list[0], [2.5 + 0.5], { ...ARITH, shape: [1], what: 'd/dc' });
    } finally {
      dispose([w, bias, c, value, grads]);
    }
  });

  it('autograd hasAux passes auxiliary outputs through', async () => {
    const x = ctx.upload(a0);
    const { value, grads, aux } = valueAndGrad(
      (p: Tensor) => {
        const y = E.mul(p, 2);
        return [sum(y), { doubled: y, count: 4 }] as [Tensor, { doubled: Tensor; count: number }];
      },
      { hasAux: true },
    )(x);
    try {
      if (aux.count !== 4) throw new Error(`aux number must pass through, got ${aux.count}`);
      // The aux tensor survives the tape and holds the right values.
      await ctx.check(
        aux.doubled,
        a0.map((v) => 2 * v),
        { ...ARITH, shape: [4], what: 'aux' },
      );
      await ctx.check(value, [5], ARITH);
      await ctx.check(grads, [2, 2, 2, 2], { ...ARITH, what: 'grad' });
    } finally {
      dispose([x, value, grads, aux.doubled]);
    }
  });

  it('autograd stopGradient', async () => {
    const x = ctx.upload(a0);
    // d/dx sum(x * stop(x)) = stop(x) = x, not 2x.
    const { value, grads } = valueAndGrad((p: Tensor) => sum(E.mul(p, stopGradient(p))))(x);
    try {
      await ctx.check(grads, a0, ARITH);
      await ctx.check(value, [a0.reduce((s, v) => s + v * v, 0)], ARITH);
    } finally {
      dispose([x, value, grads]);
    }
  });

  it('autograd noGrad', async () => {
    const x = ctx.upload(a0);
    // d/dx sum(x * noGrad(3x)) = 3x, not 6x.
    const { value, grads } = valueAndGrad((p: Tensor) =>
      sum(
        E.mul(
          p,
          noGrad(() => E.mul(p, 3)),
        ),
      ),
    )(x);
    try {
      await ctx.check(
        grads,
        a0.map((v) => 3 * v),
        ARITH,
      );
    } finally {
      dispose([x, value, grads]);
    }
  });

  it('autograd customVjp', async () => {
    // A step function with a straight-through surrogate gradient scaled by 2, and a second input
    // whose cotangent is declared null.
    const step = customVjp(
      (x: Tensor, y: Tensor) => E.mul(cast(E.gt(x, 0), 'float32'), y),
      (g, [, y]) => [E.mul(g, E.mul(y, 2)), null],
    );
    const x = ctx.upload(a0);
    const y = ctx.upload(b0);
    const outside = step(x, y);
    const { value, grads } = valueAndGrad((p: Tensor[]) => sum(step(p[0], p[1])))([x, y]);
    try {
      await ctx.check(
        outside,
        a0.map((v, i) => (v > 0 ? b0[i] : 0)),
        { ...ARITH, what: 'forward outside a tape' },
      );
      await ctx.check(value, [a0.reduce((s, v, i) => s + (v > 0 ? b0[i] : 0), 0)], ARITH);
      await ctx.check(
        grads[0],
        b0.map((v) => 2 * v),
        { ...ARITH, what: 'surrogate gradient' },
      );
      await ctx.check(grads[1], [0, 0, 0, 0], { ...ARITH, what: 'null cotangent' });
    } finally {
      dispose([x, y, outside, value, grads]);
    }
  });

  it('autograd an input used twice accumulates', async () => {
    const x = ctx.upload(a0);
    // f = sum(x * x) + sum(exp(0) * x): df/dx = 2x + 1; both uses contribute.
    const { grads } = valueAndGrad((p: Tensor) => E.add(sum(E.mul(p, p)), sum(p)))(x);
    try {
      await ctx.check(
        grads,
        a0.map((v) => 2 * v + 1),
        ARITH,
      );
    } finally {
      dispose([x, grads]);
    }
  });

  it('autograd a captured tensor is a constant', async () => {
    const x = ctx.upload(a0);
    // The parameter is x, and fn also closes over x: only the parameter is differentiated.
    const { grads } = valueAndGrad((p: Tensor) => sum(E.mul(p, x)))(x);
    try {
      await ctx.check(grads, a0, ARITH);
    } finally {
      dispose([x, grads]);
    }
  });

  it('autograd unused inputs get zeros', async () => {
    const a = ctx.upload(a0);
    const b = ctx.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const { grads } = valueAndGrad((p: { a: Tensor; b: Tensor }) => sum(E.mul(p.a, 2)))({ a, b });
    const constant = valueAndGrad((_p: Tensor) => sum(E.mul(b, 3)))(a);
    try {
      await ctx.check(grads.a, [2, 2, 2, 2], { ...ARITH, what: 'used input' });
      await ctx.check(grads.b, [0, 0, 0, 0, 0, 0], {
        ...ARITH,
        shape: [2, 3],
        dtype: 'float32',
        what: 'unused input',
      });
      await ctx.check(constant.value, [63], ARITH);
      await ctx.check(constant.grads, [0, 0, 0, 0], {
        ...ARITH,
        shape: [4],
        what: 'value independent of the input',
      });
    } finally {
      dispose([a, b, grads, constant]);
    }
  });
}
