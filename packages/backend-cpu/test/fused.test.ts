/**
 * The fused paths of core against the composites they replace, on the CPU backend whose generated
 * kernels must give the very bits of the primitives: `fuse` against `runPrimitives` (the same program
 * one primitive per node), a JS number as a kernel parameter against a filled rank-0 tensor, and
 * `layerNorm` against its textbook composite, values and gradients.
 */
import {
  add,
  cast,
  div,
  fuse,
  ge,
  layerNorm,
  mean,
  mul,
  randn,
  setBackend,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  valueAndGrad,
  where,
} from '@mru/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/index.js';

const bits = (t: Tensor) => Array.from(t.dataSync() as Float32Array);

/** A CPU backend that hides `elementwise`: core then runs each node of a program as a primitive. */
function primitivesOnly() {
  const plain = cpuBackend();
  return new Proxy(plain, {
    get: (t, k) => {
      if (k === 'elementwise') return undefined;
      const v = Reflect.get(t, k);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

describe('cpu: fused paths equal the composites they replace', () => {
  beforeEach(async () => {
    await setBackend(cpuBackend());
  });

  it('a generated kernel returns the bits of the same program run one primitive at a time', async () => {
    const run = () => {
      const x = randn([3, 5, 7], 0, 2, { seed: 1 });
      const b = randn([7], 0, 1, { seed: 2 });
      const m = ge(randn([3, 1, 7], 0, 1, { seed: 3 }), 0);
      const out = fuse((e, xx, bb, mm) => {
        const y = e.tanh(e.add(e.mul(xx, 1.7), bb));
        return [
          e.where(mm, e.sigmoid(y), e.exp(e.neg(e.abs(y)))),
          e.cast(e.gt(y, 0), 'int32'),
          e.sqrt(e.abs(xx)),
        ];
      })(x, b, m);
      const g = valueAndGrad((p: Tensor) =>
        sum(fuse((e, pp, mm) => e.where(mm, e.mul(e.sigmoid(pp), pp), e.log1p(e.square(pp))))(p, m)),
      )(x);
      return [...out, g.grads].map((t) => Array.from(t.dataSync()));
    };
    const fused = run();
    // The same calls on a CPU backend that hides `elementwise`: core runs each node as a primitive.
    await setBackend(primitivesOnly());
    expect(run()).toEqual(fused);
  });

  it('large programs (the WebAssembly path) return the bits of the primitives, values and gradients', async () => {
    // The BMRU gates and coefficients with a gated readout: a bias row, a per-row column, a scalar
    // parameter, comparisons, where, sign, division and sigmoid, over 25,600 elements.
    const run = () => {
      const cm = randn([4, 100, 64], 0, 1, { seed: 11 });
      const bc = randn([64], 0, 0.3, { seed: 12 });
      const bm = randn([4, 100, 64], 0, 1, { seed: 13 });
      const col = randn([4, 100, 1], 1, 0.5, { seed: 14 });
      const f = (p: { cm: Tensor; bc: Tensor; bm: Tensor; col: Tensor }) =>
        fuse((e, c0, b0, m0, k0) => {
          const c = e.add(c0, b0);
          const z = e.cast(e.ge(e.sub(e.abs(c), e.abs(m0)), 0), 'float32');
          const v = e.where(e.ge(c, 0), 1, -1);
          const gate = e.sigmoid(e.div(c, k0));
          return [
            e.sub(1, z),
            e.mul(e.mul(z, v), gate),
            e.mul(e.sign(m0), e.div(1.5, e.add(e.square(c), 1))),
          ];
        })(p.cm, p.bc, p.bm, p.col);
      const outs = f({ cm, bc, bm, col });
      const g = valueAndGrad((p: { cm: Tensor; bc: Tensor; bm: Tensor; col: Tensor }) => {
        const [a, b, s] = f(p);
        return sum(mul(add(mul(a, b), s), p.cm));
      })({ cm, bc, bm, col });
      return [...outs, g.grads.cm, g.grads.bc, g.grads.bm, g.grads.col].map((t) => Array.from(t.dataSync()));
    };
    const fused = run();
    await setBackend(primitivesOnly());
    expect(run()).toEqual(fused);
  });

  it('a number meeting a tensor is a kernel parameter with the values and gradient of the filled scalar', () => {
    const x = randn([4, 6], 0, 3, { seed: 4 });
    const viaParam = bits(div(sub(mul(x, 0.1), 3), 7));
    const s = (v: number) => tensor(v);
    const viaTensor = bits(div(sub(mul(x, s(0.1)), s(3)), s(7)));
    expect(viaParam).toEqual(viaTensor);
    const g1 = valueAndGrad((p: Tensor) => sum(mul(div(1, add(p, 10)), 3)))(x);
    const g2 = valueAndGrad((p: Tensor) => sum(mul(div(s(1), add(p, s(10))), s(3))))(x);
    expect(bits(g1.grads)).toEqual(bits(g2.grads));
    expect(bits(where(ge(x, 0), x, 0.5))).toEqual(bits(where(ge(x, 0), x, s(0.5))));
    expect(Array.from(cast(mul(tensor([1, 2], { dtype: 'int32' }), 3), 'float32').dataSync())).toEqual([
      3, 6,
    ]);
  });

  it('layerNorm equals (x - mean) / sqrt(variance + eps) * w + b, values and gradients', () => {
    const x = randn([2, 5, 8], 1, 2, { seed: 5 });
    const w = randn([8], 1, 0.5, { seed: 6 });
    const b = randn([8], 0, 0.5, { seed: 7 });
    const composite = (p: { x: Tensor; w: Tensor; b: Tensor }) => {
      const m = mean(p.x, -1, true);
      const v = mean(square(sub(p.x, m)), -1, true);
      return add(mul(mul(sub(p.x, m), div(1, sqrt(add(v, 1e-5)))), p.w), p.b);
    };
    const fused = (p: { x: Tensor; w: Tensor; b: Tensor }) => layerNorm(p.x, { weight: p.w, bias: p.b });
    expect(bits(fused({ x, w, b }))).toEqual(bits(composite({ x, w, b })));
    const weights = randn([2, 5, 8], 0, 1, { seed: 8 });
    const loss = (f: typeof fused) => (p: { x: Tensor; w: Tensor; b: Tensor }) => sum(mul(f(p), weights));
    const g1 = valueAndGrad(loss(fused))({ x, w, b });
    const g2 = valueAndGrad(loss(composite))({ x, w, b });
    for (const k of ['x', 'w', 'b'] as const) {
      const a = bits(g1.grads[k]);
      const r = bits(g2.grads[k]);
      const scale = Math.max(1, ...r.map(Math.abs));
      const worst = Math.max(...a.map((v, i) => Math.abs(v - r[i])));
      expect(worst / scale).toBeLessThan(1e-6);
    }
  });
});
