/**
 * What every implementation of the benchmark agrees on: the network of the bare `mru` command, the
 * batch, the optimizer, and the layout of the parameters by name.
 *
 * The layout is written out here from the equations (packages/models/src/network.ts, cells/bmru.ts,
 * nn/layers.ts), not read from mru, so that the peers' parameter count is an independent check: the
 * driver asserts that mru's `paramSpecs()` lists exactly these names, shapes and weight-decay groups.
 * Every peer starts from mru's own initial values (sent by name), so one batch gives one loss and one
 * gradient everywhere, which is how the benchmark checks that the peers compute the same function.
 */

/** The network `pnpm mru` trains (apps/cli defaults for the bare command): 7,377 parameters. */
export const NETWORK = Object.freeze({
  dIn: 1,
  dModel: 16,
  dOut: 1,
  nLayers: 2,
  cell: Object.freeze({ type: 'bmru', dState: 64 }),
  readout: 'last',
  mlpExpansion: 0,
  dropout: 0,
});

/** Sequences per batch. */
export const BATCH = 64;

/** AdamW as the bare command runs it; clipping of the global gradient norm at 1. */
export const OPTIMIZER = Object.freeze({
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 1e-4,
  clipNorm: 1,
});

/** LayerNorm's ε (nn/layers.ts) and the surrogate sharpness k (cells/bmru.ts defaults). */
export const LAYER_NORM_EPS = 1e-5;
export const SURROGATE_K = 1;

/**
 * `[name, shape, decay]` for every parameter, in mru's flattening order. Linear weights decay;
 * biases, norm gains and shifts, γ, α and s0 do not (MODELS.md parameter groups).
 */
export function parameterLayout() {
  const { dIn, dModel: d, dOut, nLayers, cell } = NETWORK;
  const n = cell.dState;
  const out = [];
  const linear = (name, i, o, ...extra) => {
    out.push([`${name}.weight`, [i, o], true], [`${name}.bias`, [o], false], ...extra);
  };
  linear('input', dIn, d);
  for (let l = 0; l < nLayers; l++) {
    const p = `layers.${l}`;
    out.push([`${p}.norm1.weight`, [d], false], [`${p}.norm1.bias`, [d], false]);
    linear(`${p}.cell.wc`, d, n);
    linear(`${p}.cell.wbeta`, d, n);
    out.push([`${p}.cell.alpha`, [n], false], [`${p}.cell.s0`, [n], false]);
    linear(`${p}.proj`, n, d);
    linear(`${p}.gate`, d, d);
    out.push([`${p}.gamma1`, [d], false]);
  }
  linear('readout', d, dOut);
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape) {
  return shape.reduce((a, b) => a * b, 1);
}
