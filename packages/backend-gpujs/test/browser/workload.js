/**
 * The computation the browser test runs twice: in Chromium on the gpu.js backend (WebGL2) and in Node
 * on the CPU backend (imported by browser.test.ts). Sharing the module means both sides run the same
 * core and models calls on the same inputs, so any difference comes from the backends.
 *
 * Inputs are deterministic, never `Math.random`: scan operands come from core's `rand` with an
 * explicit seed (bit-identical across backends; a fingerprint of the bits travels back to prove it),
 * the training batch from an integer formula.
 *
 * Plain JavaScript without imports: core and models are passed in, so this file needs no import map
 * entry and no build step.
 */

/** Scan shape `[1, T, C]` and the cases run at that shape. */
export const SCAN = {
  T: 100_000,
  C: 4,
  cases: [
    // Short, sign-alternating memory: every step matters, errors stay O(eps).
    { name: 'uniform', aLo: -1, aHi: 1, aSeed: 101, bSeed: 102, reverse: false },
    // Memory of about a thousand steps, backwards in time: carries cross many chunks of the plan.
    { name: 'near-one reverse', aLo: 0.999, aHi: 1, aSeed: 103, bSeed: 104, reverse: true },
  ],
};

/** The BMRU training run: a one-layer network, a fixed batch, a few AdamW steps. */
export const TRAIN = { steps: 4, batch: 4, T: 24, dModel: 8, dState: 8, lr: 2e-3 };

/** FNV-1a over the float32 bit patterns of `values`: equal fingerprints mean equal bits. */
export function fingerprint(values) {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) {
    for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((bits[i] >>> s) & 0xff), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Element `i` of the training inputs (`which = 0`) or targets (`which = 1`), in [-1, 1). */
export function trainEntry(which, i) {
  const k = which === 0 ? (i * 37 + 5) % 101 : (i * 53 + 11) % 97;
  return (2 * k) / (which === 0 ? 101 : 97) - 1;
}

/**
 * Runs the workload on core's current backend. Returns per scan case the output `h`, the inputs `a`
 * and `b` (each `[1, T, C]` flattened) and their fingerprints; and for the training run the loss
 * before each step and every parameter after the last, by name.
 */
export async function workload(core, models) {
  // Both runs start the global random stream at the same point, whatever ran before them.
  core.seed(0);
  const scans = {};
  for (const c of SCAN.cases) {
    const shape = [1, SCAN.T, SCAN.C];
    const a = core.rand(shape, c.aLo, c.aHi, { seed: c.aSeed });
    const b = core.rand(shape, -1, 1, { seed: c.bSeed });
    const aValues = await a.data();
    const bValues = await b.data();
    const h = core.scan(a, b, { reverse: c.reverse });
    const hValues = await h.data();
    scans[c.name] = {
      h: hValues,
      a: aValues,
      b: bValues,
      aPrint: fingerprint(aValues),
      bPrint: fingerprint(bValues),
    };
    core.dispose([a, b, h]);
  }

  const { steps, batch, T, dModel, dState, lr } = TRAIN;
  const net = models.createNetwork({
    dIn: 1,
    dModel,
    dOut: 1,
    nLayers: 1,
    dropout: 0,
    cell: { type: 'bmru', dState },
  });
  let params = net.init(0);
  const opt = new models.AdamW({ lr, meta: net.paramSpecs(), clipNorm: 1 });
  const xs = Float32Array.from({ length: batch * T }, (_, i) => trainEntry(0, i));
  const ys = Float32Array.from({ length: batch }, (_, i) => trainEntry(1, i));
  const x = core.tensor(xs, { shape: [batch, T, 1] });
  const y = core.tensor(ys, { shape: [batch, 1] });
  const losses = [];
  for (let s = 0; s < steps; s++) {
    const { value, grads } = core.valueAndGrad((p) => net.loss(p, x, y, { train: true, loss: 'mse' }))(
      params,
    );
    losses.push((await value.data())[0]);
    params = opt.step(params, grads);
    core.dispose([value, grads]);
  }
  const finalParams = {};
  for (const [name, t] of Object.entries(models.flattenTree(params)))
    finalParams[name] = Array.from(await t.data());
  core.dispose([x, y, params]);
  return { scans, train: { losses, params: finalParams } };
}
