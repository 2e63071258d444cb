/**
 * Test helpers: run a suite once per backend. The CPU backend is always present; other backends
 * (WebGPU) are added by passing more factories, or by pushing onto `BACKENDS` from a setup file.
 * Tests read values with `await t.data()` so that they work on backends without synchronous reads.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { add, type Backend, mul, randn, setBackend, sum, type Tensor, valueAndGrad } from '@mru/core';
import { beforeAll, describe } from 'vitest';
import { flattenTree, type ParamTree, unflattenTree } from '../src/index.js';

/** A named backend factory. */
export interface BackendFactory {
  readonly name: string;
  readonly create: () => Backend | Promise<Backend>;
}

/** The backends every suite runs on (CPU first). */
export const BACKENDS: BackendFactory[] = [{ name: 'cpu', create: () => cpuBackend() }];

/** `describe(title)` once per backend, with that backend current during the suite. */
export function describeOnBackends(
  title: string,
  body: (backend: BackendFactory) => void,
  backends: readonly BackendFactory[] = BACKENDS,
): void {
  for (const b of backends) {
    describe(`${title} [${b.name}]`, () => {
      beforeAll(async () => {
        await setBackend(await b.create());
      });
      body(b);
    });
  }
}

/** Values of a tensor as a plain number array. */
export async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
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
