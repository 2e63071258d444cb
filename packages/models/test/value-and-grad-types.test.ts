/**
 * `valueAndGrad` with the callback users write first, unannotated: `valueAndGrad((p) => net.loss(p,
 * ...))(params)`. The type assertions run when `tsc -p tsconfig.test.json` checks this file (they
 * once failed with TS2589 and TS2345); the values are checked against a gradient computed with an
 * annotated callback, which must be the same function.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { add, dispose, mul, setBackend, sum, type Tensor, tensor, valueAndGrad } from '@mru/core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { AdamW, createNetwork, flattenTree, type ParamTree } from '../src/index.js';

describe('valueAndGrad with an unannotated callback [cpu]', () => {
  beforeAll(() => setBackend(cpuBackend()));

  it('infers the gradient tree from the argument and feeds an optimizer step', async () => {
    const net = createNetwork({ dIn: 1, dModel: 8, dOut: 1, nLayers: 1, cell: { type: 'bmru', dState: 8 } });
    const params = net.init(0);
    const x = tensor(
      Float32Array.from({ length: 2 * 5 }, (_, i) => Math.sin(i)),
      { shape: [2, 5, 1] },
    );
    const y = tensor([[0.5], [-0.5]]);
    const natural = valueAndGrad((p) => net.loss(p, x, y, { loss: 'mse' }))(params);
    const annotated = valueAndGrad((p: ParamTree) => net.loss(p, x, y, { loss: 'mse' }))(params);
    expectTypeOf(natural.grads).toEqualTypeOf<ParamTree>();
    expectTypeOf(natural.value).toEqualTypeOf<Tensor>();

    expect(await natural.value.data()).toEqual(await annotated.value.data());
    const a = flattenTree(natural.grads);
    const b = flattenTree(annotated.grads);
    expect(Object.keys(a)).toEqual(Object.keys(flattenTree(params)));
    for (const k of Object.keys(a)) expect(await a[k].data()).toEqual(await b[k].data());

    const opt = new AdamW({ lr: 1e-3, meta: net.paramSpecs() });
    const next = opt.step(params, natural.grads);
    expectTypeOf(next).toEqualTypeOf<ParamTree>();
    dispose([next, natural, annotated, x, y]);
  });

  it('keeps the structure of a plain object and of a single tensor', async () => {
    const w = tensor([1, 2, 3]);
    const b = tensor([4]);
    const { grads } = valueAndGrad(({ w, b }) => add(sum(mul(w, w)), sum(b)))({ w, b });
    expectTypeOf(grads).toEqualTypeOf<{ w: Tensor; b: Tensor }>();
    expect(Array.from(await grads.w.data())).toEqual([2, 4, 6]);
    expect(Array.from(await grads.b.data())).toEqual([1]);
    const single = valueAndGrad((t) => sum(mul(t, t)))(w);
    expectTypeOf(single.grads).toEqualTypeOf<Tensor>();
    expect(Array.from(await single.grads.data())).toEqual([2, 4, 6]);
    dispose([w, b, grads, single]);
  });
});
