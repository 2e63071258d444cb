/**
 * Dispatch counts (not a benchmark of time): how many WebGPU dispatches one training step makes, and
 * how many `fuse` saves, from the backend's own `stats().dispatches`.
 *
 * Why counts: an elementwise-heavy step is dominated by one kernel launch, one pooled buffer and one
 * full read and write per primitive (plus a `fill` kernel per JS number operand), so the number of
 * dispatches is the figure fusion changes, and it does not depend on the adapter.
 *
 * It prints:
 *   - one training step of the README's network (BMRU, 2 layers, dModel 32) with AdamW, as the
 *     models package is built now: forward + backward (`valueAndGrad`) and `opt.step`;
 *   - the same AdamW update written with `fuse` (one program per parameter: new parameter, m, v;
 *     counted on stand-in operands, its values are not the point), so the optimizer's share after
 *     conversion is known (gradient clipping, a reduction per parameter, is not included);
 *   - the BMRU gate chain (`z = H(|c| - |β|)`, `a = 1 - z(1 - ε)`, `b = z sign(c)`) as primitives and
 *     fused.
 * Run again once models use `fuse` to see the converted step.
 *
 * Needs the workspace built (`pnpm build`); run from the repository root:
 * `node packages/backend-webgpu/bench/dispatches.mjs`.
 */
import {
  abs,
  dispose,
  fuse,
  gt,
  mul,
  randn,
  setBackend,
  sign,
  sub,
  tidy,
  valueAndGrad,
  where,
} from '@mru/core';
import { AdamW, createNetwork } from '../../models/dist/index.js';
import { webgpuBackend } from '../dist/index.js';
import { nodeGpu } from '../dist/node.js';

const flags = process.env.MRU_WEBGPU_FLAGS?.split(',').filter(Boolean) ?? [];
const be = await webgpuBackend({ gpu: await nodeGpu({ flags }) });
await setBackend(be);
const count = (f) => {
  const before = be.stats().dispatches;
  const out = f();
  return { out, n: be.stats().dispatches - before };
};

const B = 8;
const T = 50;
const net = createNetwork({ dIn: 1, dModel: 32, dOut: 1, nLayers: 2, cell: { type: 'bmru', dState: 32 } });
let params = net.init(0);
const opt = new AdamW({ lr: 1e-3, meta: net.paramSpecs(), clipNorm: 1 });
const x = randn([B, T, 1], 0, 1, { seed: 1 });
const y = randn([B, 1], 0, 1, { seed: 2 });
const lossOf = (p) => net.loss(p, x, y, { train: true, loss: 'mse' });

// Two steps first: the second is the steady state (moments exist).
for (let s = 0; s < 2; s++) {
  const { value, grads } = valueAndGrad(lossOf)(params);
  params = opt.step(params, grads);
  dispose([value, grads]);
}
await be.sync();
const fb = count(() => valueAndGrad(lossOf)(params));
const st = count(() => opt.step(params, fb.out.grads));
params = st.out;
await be.sync();
const leaves = [];
const walk = (t) => {
  if (t && typeof t === 'object' && 'dtype' in t && 'shape' in t) leaves.push(t);
  else if (t && typeof t === 'object') for (const v of Object.values(t)) walk(v);
};
walk(params);

// The AdamW update with fuse: one program per parameter (decoupled decay, bias corrections as
// numbers, so they are kernel parameters: no recompile per step).
const adamw = fuse(
  (e, p, g, m, v) => {
    const lr = 1e-3;
    const wd = 0.01;
    const [b1, b2, eps, t] = [0.9, 0.99, 1e-8, 3];
    const m2 = e.add(e.mul(m, b1), e.mul(g, 1 - b1));
    const v2 = e.add(e.mul(v, b2), e.mul(e.mul(g, g), 1 - b2));
    const dir = e.div(e.div(m2, 1 - b1 ** t), e.add(e.sqrt(e.div(v2, 1 - b2 ** t)), eps));
    return [e.sub(e.mul(p, 1 - lr * wd), e.mul(dir, lr)), m2, v2];
  },
  { name: 'adamw' },
);
const fusedOpt = count(() =>
  tidy(() => {
    const outs = [];
    for (const p of leaves) outs.push(...adamw(p, p, p, p));
    return outs;
  }),
);

// The BMRU gates over [B, T, dState].
const c = randn([B, T, 32], 0, 1, { seed: 3 });
const beta = randn([B, T, 32], 0, 1, { seed: 4 });
const eps = 0.1;
const gatesPrim = count(() =>
  tidy(() => {
    const z = where(gt(sub(abs(c), abs(beta)), 0), 1, 0);
    return [sub(1, mul(z, 1 - eps)), mul(z, sign(c))];
  }),
);
const gatesFused = count(() =>
  fuse((e, cc, bb) => {
    const z = e.where(e.gt(e.sub(e.abs(cc), e.abs(bb)), 0), 1, 0);
    return [e.sub(1, e.mul(z, 1 - eps)), e.mul(z, e.sign(cc))];
  })(c, beta),
);
await be.sync();

const rows = [
  ['forward + backward (valueAndGrad)', fb.n],
  [`AdamW opt.step (${leaves.length} parameter tensors, clipNorm 1)`, st.n],
  ['  the same update fused: one program per parameter', fusedOpt.n],
  ['one training step now', fb.n + st.n],
  ['BMRU gates [8,50,32] as primitives', gatesPrim.n],
  ['BMRU gates fused', gatesFused.n],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`WebGPU dispatches (${be.adapterInfo.description || be.adapterInfo.device})`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${String(v).padStart(6)}`);
dispose([fb.out.value, fb.out.grads, params, fusedOpt.out, gatesPrim.out, gatesFused.out, c, beta, x, y]);
be.dispose();
