/**
 * The mru side of the benchmark: one training step of the bare `mru` network through the public API
 * only: `trainStep` of `@mru/models` (the step `mru train` runs: loss, gradients, clipping, AdamW), on
 * any backend.
 *
 * A step is timed until its metrics have been read back (`trainStep` reads the loss and the gradient
 * norm), so queued GPU work is inside the time. Counting is one extra, untimed step of the same loop
 * after the timed ones: the backend sits behind a Proxy that then counts method calls and, after
 * every call, reads the inner backend's live bytes; the maximum over the step is its peak. What the
 * forward keeps for backward is measured by one more untimed, unmetered gradient evaluation: the live
 * bytes at the moment the loss function returns its loss (the tape owns every tensor the forward
 * made) minus the live bytes before it (parameters and moments). The same `valueAndGrad` gives
 * the gradients that the peers are checked against.
 */
import { dispose, setBackend, tensor, valueAndGrad } from '@mru/core';
import { AdamW, createNetwork, trainStep } from '@mru/models';
import { NETWORK, OPTIMIZER } from './spec.mjs';

/** Method names that read state rather than do work, left out of the call counts. */
const NOT_CALLS = new Set(['name', 'memory', 'constructor', 'then']);

/**
 * `inner` behind a Proxy that, while `meter.on`, counts method calls by name and records the largest
 * `inner.memory().bytes` seen after any call. Off, it costs one extra function call per backend call.
 */
function meteredBackend(inner) {
  const meter = { on: false, counts: new Map(), peak: 0 };
  const proxy = new Proxy(inner, {
    get(target, prop) {
      // Read and called on the inner backend: backends keep private fields a Proxy cannot reach.
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || NOT_CALLS.has(prop)) return value.bind(target);
      return (...args) => {
        const result = value.apply(target, args);
        if (meter.on) {
          meter.counts.set(prop, (meter.counts.get(prop) ?? 0) + 1);
          meter.peak = Math.max(meter.peak, target.memory().bytes);
        }
        return result;
      };
    },
  });
  return { proxy, meter };
}

/**
 * A training loop of the bare network on backend `inner` for `batches` (typed arrays, see train.mjs).
 * The backend is used through a metering Proxy (see `meteredBackend`), so that `count()` can measure
 * a step of this very loop; metering is off in every other step.
 */
export async function createMruTrainer(inner, batches) {
  const { proxy, meter } = meteredBackend(inner);
  await setBackend(proxy);
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
  let atLoss = 0;
  let probe = false;
  const lossAndGrad = valueAndGrad((p, x, y) => {
    const loss = network.loss(p, x, y, { train: true, loss: 'mse' });
    // The tape holds every tensor the forward made until backward is done: this is what it keeps.
    if (probe) atLoss = inner.memory().bytes;
    return loss;
  });
  let index = 0;
  const step = async () => {
    // Another implementation may have made its own backend current between two rounds.
    await setBackend(proxy);
    const batch = batches[index++ % batches.length];
    const result = await trainStep({ network, optimizer }, params, { ...batch, loss: 'mse' });
    params = result.params;
    return result.metrics.loss;
  };
  return {
    network,
    /** One step on the next batch; resolves to the loss before the update. */
    step,
    /** The loss and gradients at the current parameters on `batch`, as plain arrays by name. */
    async lossAndGrads(batch) {
      await setBackend(proxy);
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
    /**
     * One more step, metered: backend calls and peak live bytes; before it, one unmetered gradient
     * evaluation measures the bytes the forward keeps for backward (live bytes when the loss function
     * returns minus those before, which hold the parameters and the moments). Call it after a step
     * has created the moments.
     */
    async count() {
      await setBackend(proxy);
      const batch = batches[index % batches.length];
      const beforeProbe = inner.memory().bytes;
      const x = tensor(batch.inputs, { shape: batch.inputShape });
      const y = tensor(batch.targets, { shape: batch.targetShape });
      probe = true;
      try {
        dispose(Object.values(lossAndGrad(params, x, y)));
      } finally {
        probe = false;
        dispose([x, y]);
      }
      const activations = atLoss - beforeProbe;
      meter.counts.clear();
      meter.peak = inner.memory().bytes;
      meter.on = true;
      try {
        await step();
      } finally {
        meter.on = false;
      }
      const paramBytes = network.paramCount() * 4;
      return {
        calls: [...meter.counts.values()].reduce((a, b) => a + b, 0),
        top: [...meter.counts.entries()].sort((p, q) => q[1] - p[1]).slice(0, 4),
        peak: meter.peak,
        activations,
        // Parameters, AdamW's two moments per parameter, and what the forward kept for backward.
        bound: 3 * paramBytes + activations,
      };
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
