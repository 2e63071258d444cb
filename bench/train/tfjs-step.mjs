/**
 * The same training step in tfjs 4.22 (wasm or cpu backend): the bare `mru` network rebuilt from its
 * equations (packages/models/src/network.ts, cells/bmru.ts, cells/surrogate.ts, nn/layers.ts):
 *
 *   x = Linear(1 -> 16)(input)
 *   2 x:  x̂ = LayerNorm(x);  c = W_c x̂ + b_c;  β = W_β x̂ + b_β
 *         z = H(|c| - |β|), v = sign(c)   (arctangent surrogate gradients, tf.customGrad)
 *         s_t = (1 - z_t) s_{t-1} + z_t v_t from s0   (one custom op, see `scanOp`)
 *         x = x + γ1 * σ(W_g x̂ + b_g) * (W_p (α s) + b_p)
 *   out = Linear(16 -> 1)(x at the last step);  loss = MSE
 *
 * then global-norm clipping at 1 and AdamW (decoupled decay on Linear weights only), written out with
 * tf ops because tfjs's optimizers have neither. Parameters are plain tensors replaced each step, as
 * in mru. tfjs has no scan kernel, and a scan of T slices as tf ops would cost T kernel calls per
 * direction, so the scan is one custom op: a sequential loop over time on the typed arrays that
 * `dataSync` returns (a copy out of the wasm heap), whose gradient is the reverse scan, done the same
 * way. That is what a tfjs user would write; it is the same loop mru's CPU backend runs.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
// The union package, not tfjs-core alone: only its Node bundle registers the gradient functions.
// It shares the one tfjs-core (and so the one engine) with the wasm and cpu backends.
import * as tf from '@tensorflow/tfjs';
import { LAYER_NORM_EPS, NETWORK, OPTIMIZER, parameterLayout, SURROGATE_K, sizeOf } from './spec.mjs';

let wasmReady = null;

/**
 * Registers and initialises a tfjs backend: 'wasm' loads its .wasm files from the installed package
 * (no network) and runs single-threaded, like mru and the 1-thread PyTorch rows; 'cpu' is plain JS.
 */
export async function useTfBackend(name) {
  if (name === 'wasm') {
    wasmReady ??= (async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      // The threaded build would start workers and use the second core: the other rows use one.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasm.setWasmPaths(`${dir}${path.sep}`);
    })();
    await wasmReady;
  } else if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else throw new Error(`unknown tfjs backend '${name}'`);
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
}

/** The surrogate derivative `k / (1 + (π k u)^2)` of the Heaviside step. */
function surrogate(u) {
  return tf.div(SURROGATE_K, tf.add(tf.square(tf.mul(u, Math.PI * SURROGATE_K)), 1));
}

/** `H(u)` (`H(0) = 1`) with the surrogate gradient. */
const heaviside = tf.customGrad((u, save) => {
  save([u]);
  return {
    value: tf.cast(tf.greaterEqual(u, 0), 'float32'),
    gradFunc: (dy, [saved]) => [tf.mul(dy, surrogate(saved))],
  };
});

/** `sign(u)` (`sign(0) = +1`) with twice the surrogate gradient. */
const signSte = tf.customGrad((u, save) => {
  save([u]);
  return {
    value: tf.where(tf.greaterEqual(u, 0), tf.onesLike(u), tf.neg(tf.onesLike(u))),
    gradFunc: (dy, [saved]) => [tf.mul(dy, tf.mul(surrogate(saved), 2))],
  };
});

/**
 * `h_t = a_t h_{t-1} + b_t` over `[B, T, C]` from `h0` `[C]`, one custom op. Each step is rounded to
 * float32 when stored, as a float32 kernel does. Backward: `λ_t = g_t + a_{t+1} λ_{t+1}`, then
 * `∂b = λ`, `∂a_t = λ_t h_{t-1}`, `∂h0 = Σ_batch a_1 λ_1`.
 */
const scanOp = tf.customGrad((a, b, h0, save) => {
  const [B, T, C] = b.shape;
  const av = a.dataSync();
  const bv = b.dataSync();
  const h0v = h0.dataSync();
  const h = new Float32Array(B * T * C);
  for (let i = 0; i < B; i++) {
    const base = i * T * C;
    for (let c = 0; c < C; c++) h[base + c] = av[base + c] * h0v[c] + bv[base + c];
    for (let t = 1; t < T; t++) {
      const o = base + t * C;
      for (let c = 0; c < C; c++) h[o + c] = av[o + c] * h[o - C + c] + bv[o + c];
    }
  }
  const value = tf.tensor3d(h, [B, T, C]);
  save([a, value, h0]);
  return {
    value,
    gradFunc: (dy, [sa, sh, sh0]) => {
      const g = dy.dataSync();
      const ar = sa.dataSync();
      const hr = sh.dataSync();
      const h0r = sh0.dataSync();
      const lam = new Float32Array(B * T * C);
      const da = new Float32Array(B * T * C);
      const dh0 = new Float32Array(C);
      for (let i = 0; i < B; i++) {
        const base = i * T * C;
        const last = base + (T - 1) * C;
        for (let c = 0; c < C; c++) lam[last + c] = g[last + c];
        for (let t = T - 2; t >= 0; t--) {
          const o = base + t * C;
          for (let c = 0; c < C; c++) lam[o + c] = g[o + c] + ar[o + C + c] * lam[o + C + c];
        }
        for (let c = 0; c < C; c++) {
          da[base + c] = lam[base + c] * h0r[c];
          dh0[c] += ar[base + c] * lam[base + c];
        }
        for (let t = 1; t < T; t++) {
          const o = base + t * C;
          for (let c = 0; c < C; c++) da[o + c] = lam[o + c] * hr[o - C + c];
        }
      }
      return [tf.tensor3d(da, [B, T, C]), tf.tensor3d(lam, [B, T, C]), tf.tensor1d(dh0)];
    },
  };
});

/** The network's loss for parameters `p` (by name), inputs `x` `[B, T, 1]` and targets `y` `[B, 1]`. */
function networkLoss(p, x, y) {
  const [B, T] = x.shape;
  const d = NETWORK.dModel;
  const n = NETWORK.cell.dState;
  const linear = (name, v) => tf.add(tf.matMul(v, p[`${name}.weight`]), p[`${name}.bias`]);
  // Rows are (batch, time) pairs; every layer but the scan acts on the last axis.
  let h = linear('input', tf.reshape(x, [B * T, NETWORK.dIn]));
  for (let l = 0; l < NETWORK.nLayers; l++) {
    const q = `layers.${l}`;
    const { mean, variance } = tf.moments(h, -1, true);
    const xhat = tf.add(
      tf.mul(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, LAYER_NORM_EPS))), p[`${q}.norm1.weight`]),
      p[`${q}.norm1.bias`],
    );
    const c = linear(`${q}.cell.wc`, xhat);
    const beta = linear(`${q}.cell.wbeta`, xhat);
    const z = heaviside(tf.sub(tf.abs(c), tf.abs(beta)));
    const v = signSte(c);
    const s = scanOp(
      tf.reshape(tf.sub(1, z), [B, T, n]),
      tf.reshape(tf.mul(z, v), [B, T, n]),
      p[`${q}.cell.s0`],
    );
    const cellOut = tf.mul(tf.reshape(s, [B * T, n]), p[`${q}.cell.alpha`]);
    const gate = tf.sigmoid(linear(`${q}.gate`, xhat));
    h = tf.add(h, tf.mul(tf.mul(gate, linear(`${q}.proj`, cellOut)), p[`${q}.gamma1`]));
  }
  const last = tf.reshape(tf.slice(tf.reshape(h, [B, T, d]), [0, T - 1, 0], [B, 1, d]), [B, d]);
  return tf.mean(tf.square(tf.sub(linear('readout', last), y)));
}

/**
 * A training loop of the tfjs network on backend `backendName`, from `initial` (Float32Arrays by
 * name, mru's initial parameters).
 */
export async function createTfTrainer(backendName, batches, initial) {
  await useTfBackend(backendName);
  const layout = parameterLayout();
  const names = layout.map(([name]) => name);
  let params = layout.map(([name, shape]) => {
    const values = initial[name];
    if (!values || values.length !== sizeOf(shape)) throw new Error(`tfjs: no initial value for '${name}'`);
    return tf.tensor(values, shape, 'float32');
  });
  let moments = null;
  let t = 0;
  let measuring = false;
  let atLoss = 0;
  const lossOf =
    (batch) =>
    (...ps) => {
      const p = Object.fromEntries(names.map((name, i) => [name, ps[i]]));
      const loss = networkLoss(p, batch.x, batch.y);
      // tfjs keeps the forward's tensors (and copies of those a gradient saves) until backward ends.
      if (measuring) atLoss = tf.memory().numBytes;
      return loss;
    };
  const tensors = (batch) => ({
    x: tf.tensor(batch.inputs, batch.inputShape, 'float32'),
    y: tf.tensor(batch.targets, batch.targetShape, 'float32'),
  });
  let index = 0;
  const { lr, beta1, beta2, eps, weightDecay, clipNorm } = OPTIMIZER;
  const paramCount = layout.reduce((s, [, shape]) => s + sizeOf(shape), 0);
  const step = async () => {
    await useTfBackend(backendName);
    const batch = tensors(batches[index++ % batches.length]);
    const { value, grads } = tf.valueAndGrads(lossOf(batch))(params);
    t += 1;
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    const next = tf.tidy(() => {
      const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
      const scale = tf.minimum(tf.div(clipNorm, tf.add(norm, 1e-6)), 1);
      return params.map((p0, i) => {
        const g = tf.mul(grads[i], scale);
        const p1 = layout[i][2] ? tf.mul(p0, 1 - lr * weightDecay) : p0;
        const m0 = moments ? moments[i][0] : tf.zerosLike(p0);
        const v0 = moments ? moments[i][1] : tf.zerosLike(p0);
        const m = tf.add(tf.mul(m0, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(v0, beta2), tf.mul(tf.square(g), 1 - beta2));
        const dir = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        return [tf.sub(p1, tf.mul(dir, lr)), m, v];
      });
    });
    tf.dispose([params, moments ?? [], grads, batch.x, batch.y]);
    params = next.map((e) => e[0]);
    moments = next.map((e) => [e[1], e[2]]);
    const loss = (await value.data())[0];
    value.dispose();
    return loss;
  };
  return {
    paramCount,
    step,
    async lossAndGrads(raw) {
      await useTfBackend(backendName);
      const batch = tensors(raw);
      const { value, grads } = tf.valueAndGrads(lossOf(batch))(params);
      const out = { loss: (await value.data())[0], grads: {} };
      for (let i = 0; i < names.length; i++) out.grads[names[i]] = await grads[i].data();
      tf.dispose([value, grads, batch.x, batch.y]);
      return out;
    },
    /**
     * One more step under `tf.profile`: kernel calls, peak bytes, and the bytes the forward keeps
     * for backward (live bytes when the loss function returns, minus those before the step).
     */
    async count() {
      await useTfBackend(backendName);
      const before = tf.memory().numBytes;
      measuring = true;
      let info;
      try {
        info = await tf.profile(() => step());
      } finally {
        measuring = false;
      }
      const activations = atLoss - before;
      const counts = new Map();
      for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
      return {
        calls: info.kernels.length,
        top: [...counts.entries()].sort((p, q) => q[1] - p[1]).slice(0, 4),
        peak: Math.max(info.peakBytes, before),
        activations,
        bound: 3 * paramCount * 4 + activations,
      };
    },
    dispose() {
      tf.dispose([params, moments ?? []]);
    },
  };
}
