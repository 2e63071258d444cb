/**
 * Test helpers: run a suite once per backend, on the CPU backend, on WebGPU (Dawn, the npm package
 * `webgpu`; Mesa lavapipe on machines without a GPU) and on gpu.js (its CPU mode in Node). Each test file makes its own WebGPU backend on
 * first use and disposes it after its last suite (a live Dawn device keeps the process running).
 * Tests read values with `await t.data()`, since a GPU backend has no synchronous reads.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { gpujsBackend } from '@mru/backend-gpujs';
import { webgpuBackend } from '@mru/backend-webgpu';
import { nodeGpu } from '@mru/backend-webgpu/node';
import {
  add,
  type Backend,
  mul,
  randn,
  reshape,
  setBackend,
  slice,
  stack,
  sum,
  type Tensor,
  tidy,
  valueAndGrad,
} from '@mru/core';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { flattenTree, type Network, type ParamTree, unflattenTree } from '../src/index.js';

/** A named backend factory. */
export interface BackendFactory {
  readonly name: string;
  /** The backend (the same one on every call where `dispose` is given). */
  readonly create: () => Backend | Promise<Backend>;
  /** Frees what `create` made; registered to run after the file's last suite. */
  readonly dispose?: () => Promise<void>;
}

/** The CPU backend (a fresh one per suite). */
export const CPU: BackendFactory = { name: 'cpu', create: () => cpuBackend() };

/**
 * The WebGPU backend of this test file, made on first use, on the default adapter or on the one that
 * `MRU_WEBGPU_FLAGS` (comma-separated Dawn flags, e.g. `backend=opengl`) and
 * `MRU_WEBGPU_FEATURE_LEVEL=compatibility` choose, as in the backend's own tests. With no adapter,
 * every WebGPU test fails with the backend's error naming what to install: never a skip.
 */
export const WEBGPU: BackendFactory = (() => {
  let made: Promise<Backend> | null = null;
  return {
    name: 'webgpu',
    create: () => {
      made ??= (async () => {
        const flags = process.env.MRU_WEBGPU_FLAGS?.split(',').filter(Boolean) ?? [];
        const featureLevel =
          process.env.MRU_WEBGPU_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : undefined;
        return webgpuBackend({ gpu: await nodeGpu({ flags }), featureLevel });
      })();
      return made;
    },
    dispose: async () => {
      const m = made;
      made = null;
      const backend = await m?.catch(() => null);
      backend?.dispose();
    },
  };
})();

/** The gpu.js backend in its default Node mode (gpu.js's CPU mode), a fresh one per suite. */
export const GPUJS: BackendFactory = { name: 'gpujs', create: () => gpujsBackend() };

/** The backends every suite runs on (CPU first). */
export const BACKENDS: BackendFactory[] = [CPU, WEBGPU, GPUJS];

/** Factories whose `dispose` is already registered as an `afterAll` of this file. */
const disposeRegistered = new Set<BackendFactory>();

/** `describe(title)` once per backend, with that backend current during the suite. */
export function describeOnBackends(
  title: string,
  body: (backend: BackendFactory) => void,
  backends: readonly BackendFactory[] = BACKENDS,
): void {
  for (const b of backends) {
    if (b.dispose && !disposeRegistered.has(b)) {
      // A file-level hook (this runs while the file is collected): after every suite of the file.
      disposeRegistered.add(b);
      afterAll(b.dispose);
    }
    describe(`${title} [${b.name}]`, () => {
      if (b.dispose) {
        // One backend per file, taken before each test: without an adapter every test fails with
        // the backend's error (a failing `beforeAll` would only mark the tests skipped).
        beforeEach(async () => {
          await setBackend(await b.create());
        });
      } else {
        beforeAll(async () => {
          await setBackend(await b.create());
        });
      }
      body(b);
    });
  }
}

/** Values of a tensor as a plain number array. */
export async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/**
 * Checks `valueAndGrad(fn)` against central finite differences along one random direction per
 * parameter: `(f(p + h d) - f(p - h d)) / 2h` against `<grad, d>`. Float32 arithmetic limits the
 * accuracy, so the tolerance is relative to the derivative's scale plus a small absolute floor.
 */
export async function checkGradients(
  fn: (params: ParamTree) => Tensor,
  params: ParamTree,
  options: { h?: number; rtol?: number; atol?: number; seed?: number } = {},
): Promise<{ name: string; analytic: number; numeric: number }[]> {
  const h = options.h ?? 1e-2;
  const rtol = options.rtol ?? 2e-2;
  const atol = options.atol ?? 1e-3;
  const { value, grads } = valueAndGrad(fn)(params);
  value.dispose();
  const flatP = flattenTree(params);
  const flatG = flattenTree(grads);
  const report: { name: string; analytic: number; numeric: number }[] = [];
  let k = 0;
  for (const [name, p] of Object.entries(flatP)) {
    const d = randn(p.shape, 0, 1, { seed: (options.seed ?? 0) * 1000 + k++ });
    const analytic = (await sum(mul(flatG[name], d)).data())[0];
    const shifted = (sign: number): ParamTree =>
      unflattenTree({ ...flatP, [name]: add(p, mul(d, sign * h)) });
    const plus = (await fn(shifted(1)).data())[0];
    const minus = (await fn(shifted(-1)).data())[0];
    const numeric = (plus - minus) / (2 * h);
    report.push({ name, analytic, numeric });
    if (!(Math.abs(analytic - numeric) <= atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric)))) {
      throw new Error(`gradient of '${name}': analytic ${analytic}, finite differences ${numeric}`);
    }
  }
  return report;
}

/** Runs `network.step` over a sequence `[B, T, D]` and stacks the outputs along time. */
export function stepThrough(net: Network, params: ParamTree, x: Tensor): Tensor {
  const [B, T, D] = x.shape;
  let state = net.initialState(params, B);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const r = tidy(() => net.step(params, reshape(slice(x, [0, t], [null, t + 1]), [B, D]), state));
    state = r.state;
    outs.push(r.output);
  }
  return stack(outs, 1);
}
