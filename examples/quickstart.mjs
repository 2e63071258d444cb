// Quick start: fit a two-layer network to y = sin(3x) with @mru/core and the CPU backend, printing
// the loss as it falls. Run with `pnpm build && node examples/quickstart.mjs`.

import { cpuBackend } from '@mru/backend-cpu';
import {
  add,
  dispose,
  matmul,
  memory,
  mse,
  mul,
  rand,
  randn,
  seed,
  setBackend,
  sin,
  sub,
  tanh,
  tidy,
  valueAndGrad,
} from '@mru/core';

await setBackend(cpuBackend());
seed(0);

const hidden = 32;
let params = {
  w1: randn([1, hidden], 0, 1),
  b1: randn([hidden], 0, 0.1),
  w2: randn([hidden, 1], 0, 1 / Math.sqrt(hidden)),
  b2: randn([1], 0, 0.1),
};

const x = rand([256, 1], -1, 1);
const y = sin(mul(x, 3));
const loss = (p) => mse(add(matmul(tanh(add(matmul(x, p.w1), p.b1)), p.w2), p.b2), y);
const step = valueAndGrad(loss);

const lr = 0.1;
for (let i = 0; i <= 2000; i++) {
  const { value, grads } = step(params);
  // Tensors returned from tidy survive it; the temporaries of the update do not.
  const next = tidy(() =>
    Object.fromEntries(Object.keys(params).map((k) => [k, sub(params[k], mul(grads[k], lr))])),
  );
  if (i % 200 === 0) {
    const m = memory();
    console.log(
      `step ${String(i).padStart(4)}  loss ${value.itemSync().toFixed(5)}  live tensors ${m.tensors}`,
    );
  }
  dispose([params, grads, value]);
  params = next;
}
