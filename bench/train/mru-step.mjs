/**
 * The mru side of the benchmark: one training step of the bare `mru` network through the public API
 * only (createNetwork, valueAndGrad, AdamW with clipping, dispose), on any backend.
 *
 * A step is timed until the loss has been read back (`await value.data()`), so queued GPU work is
 * inside the time. Counting is a separate, untimed pass on a fresh network: the backend is wrapped in
 * a Proxy that counts method calls and, after every call, reads the inner backend's live bytes; the
 * maximum over a step is its peak. The same pass measures what the forward keeps for backward: the
 * live bytes at the moment the loss function returns its loss (the tape owns every tensor the
 * forward made) minus the live bytes before the step (parameters, moments, inputs).
 */
import { dispose, setBackend, tensor, valueAndGrad } from '@mru/core';
import { AdamW, createNetwork } from '@mru/models';
import { NETWORK, OPTIMIZER } from './spec.mjs';

/** Method names that read state rather than do work, left out of the call counts. */
const NOT_CALLS = new Set(['name', 'memory', 'constructor', 'then']);

/**
 * A training loop of the bare network on `backend` for `batches` (typed arrays, see train.mjs).
 * `probe`, if given, runs when the loss function returns (inside the open tape).
 */
export async function createMruTrainer(backend, batches, probe) {
  await setBackend(backend);
  const network = createNetwork(NETWORK);
  let params = network.init(0);
  const optimizer = new AdamW({
    lr: OPTIMIZER.lr,
    beta1: OPTIMIZER.beta1,
    beta2: OPTIMIZER.beta2,
    eps: OPTIMIZER.eps,
    weightDecay: OPTIMIZER.weightDecay,
    meta: network.paramSpecs(),
    clipNorm: OPTIMIZER.clipNorm,
  });
  const lossAndGrad = valueAndGrad((p, x, y) => {
    const loss = network.loss(p, x, y, { train: true, loss: 'mse' });
    probe?.();
    return loss;
  });
  let index = 0;
  return {
    network,
    get params() {
      return params;
    },
    /** One step on the next batch; resolves to the loss before the update. */
    async step() {
      // Another implementation may have made its own backend current between two rounds.
      await setBackend(backend);
      const batch = batches[index++ % batches.length];
      const x = tensor(batch.inputs, { shape: batch.inputShape });
      const y = tensor(batch.targets, { shape: batch.targetShape });
      const { value, grads } = lossAndGrad(params, x, y);
      params = optimizer.step(params, grads);
      dispose([grads, x, y]);
      const loss = (await value.data())[0];
      value.dispose();
      return loss;
    },
    /** The loss and gradients at the current parameters on `batch`, as plain arrays by name. */
    async lossAndGrads(batch) {
      await setBackend(backend);
      const x = tensor(batch.inputs, { shape: batch.inputShape });
      const y = tensor(batch.targets, { shape: batch.targetShape });
      const { value, grads } = lossAndGrad(params, x, y);
      const out = { loss: (await value.data())[0], grads: await flatData(grads) };
      dispose([value, grads, x, y]);
      return out;
    },
    /** The current parameters as Float32Arrays by dotted name. */
    paramData() {
      return flatData(params);
    },
    dispose() {
      dispose(params);
      optimizer.dispose();
    },
  };
}

async function flatData(tree, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (typeof v.data === 'function' && Array.isArray(v.shape)) out[name] = await v.data();
    else await flatData(v, name, out);
  }
  return out;
}

/**
 * Backend calls and peak live bytes of one steady-state step, and the bytes the forward keeps for
 * backward. Runs `warmSteps` steps first (the first step also creates the optimizer's moments), then
 * measures the next one.
 */
export async function countMruStep(inner, batches, warmSteps = 2) {
  const counts = new Map();
  let counting = false;
  let peak = 0;
  const proxy = new Proxy(inner, {
    get(target, prop) {
      // Read and called on the inner backend: backends keep private fields a Proxy cannot reach.
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || NOT_CALLS.has(prop)) return value.bind(target);
      return (...args) => {
        const result = value.apply(target, args);
        if (counting) {
          counts.set(prop, (counts.get(prop) ?? 0) + 1);
          peak = Math.max(peak, target.memory().bytes);
        }
        return result;
      };
    },
  });
  let atLoss = 0;
  const trainer = await createMruTrainer(proxy, batches, () => {
    if (counting) atLoss = inner.memory().bytes;
  });
  for (let i = 0; i < warmSteps; i++) await trainer.step();
  const before = inner.memory().bytes;
  peak = before;
  counting = true;
  await trainer.step();
  counting = false;
  const paramBytes = trainer.network.paramCount() * 4;
  trainer.dispose();
  const calls = [...counts.values()].reduce((a, b) => a + b, 0);
  const top = [...counts.entries()].sort((p, q) => q[1] - p[1]).slice(0, 4);
  const activations = atLoss - before;
  // Parameters, AdamW's two moments per parameter, and what the forward kept for backward.
  const bound = 3 * paramBytes + activations;
  return { calls, top, peak, activations, bound, paramBytes };
}
