/**
 * The context every part of the conformance kit receives: the backend under test, seeded host data,
 * float64 comparisons and a finite-difference gradient checker.
 *
 * Design: references are computed on the host in float64 from values that are exactly representable
 * in float32 (every generator here rounds with `Math.fround`), so a mismatch measures the backend and
 * never the rounding of the inputs. Everything that reads a tensor is asynchronous (`await t.data()`),
 * so the kit runs unchanged on backends that cannot read synchronously (WebGPU). Nothing here imports
 * vitest: a failed comparison throws an `Error` with a message naming what, where and by how much,
 * which any test runner reports.
 */

import { valueAndGrad } from '../autograd.js';
import type { Backend } from '../backend.js';
import type { DType } from '../dtype.js';
import { dispose, noGrad, tidy } from '../engine.js';
import { tensor } from '../ops/creation.js';
import { abs, mul } from '../ops/elementwise.js';
import { reshape } from '../ops/movement.js';
import { sum } from '../ops/reduce.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { expectClose, fmt, mulberry32, type Tolerance } from './host.js';

/** Host values with a shape: float64 values, every one exactly representable in float32. */
export interface HostTensor {
  /** Row-major values. */
  readonly values: Float64Array;
  /** The dimensions; `values.length` equals their product. */
  readonly shape: readonly number[];
}

/** Options of `ConformanceContext.check`: a tolerance plus the expected shape and dtype. */
export interface CheckOptions extends Tolerance {
  /** Expected shape of the tensor; checked exactly when given. */
  readonly shape?: readonly number[];
  /** Expected dtype of the tensor; checked when given. */
  readonly dtype?: DType;
}

/** Options of `ConformanceContext.gradCheck`. */
export interface GradCheckOptions {
  /** Step of the central differences, applied to the float32 inputs; default 1e-2. */
  readonly eps?: number;
  /** Relative tolerance on each derivative; default 2e-2. */
  readonly rtol?: number;
  /**
   * Absolute tolerance on each derivative; default 2e-3. The checker adds an estimate of the float32
   * rounding noise of the finite differences, proportional to the size of the projected output.
   */
  readonly atol?: number;
  /** Seed of the random projection of the output (and of the directions); default 1. */
  readonly seed?: number;
  /**
   * Inputs with at most this many elements in total are checked element by element (two evaluations
   * per element); larger ones along `directions` random directions. Default 64.
   */
  readonly maxElementwise?: number;
  /** Number of random directions in directional mode; default 6. */
  readonly directions?: number;
  /** Name of the function, for failure messages. */
  readonly what?: string;
}

/**
 * What a part of the conformance kit (the scan suite among them) receives. Obtain the backend with
 * `backend()` inside a test (it is created in a `beforeAll` hook, so it does not exist while tests are
 * being declared). Tensors created by ops land on that backend, which the kit makes current before
 * every test.
 *
 * ```ts
 * export function scanSuite(ctx: ConformanceContext): void {
 *   it('scan forward', async () => {
 *     const a = ctx.uniform(1, [2, 5, 3], -1, 1);
 *     const b = ctx.normal(2, [2, 5, 3]);
 *     const h = scan(ctx.upload(a), ctx.upload(b));
 *     await ctx.check(h, sequentialScan64({ a: a.values, aShape: [2, 5, 3], b: b.values, bShape: [2, 5, 3] }), {
 *       shape: [2, 5, 3], rtol: 1e-5, atol: 1e-5,
 *     });
 *     h.dispose();
 *   });
 * }
 * ```
 */
export interface ConformanceContext {
  /** The name given to `runConformance`, e.g. `'cpu'`. */
  readonly name: string;
  /** True when the suite was asked to run its large cases (long sequences, big tensors). */
  readonly large: boolean;
  /** The backend under test (current during every test). Throws when called outside a test. */
  backend(): Backend;
  /** The reference backend for bit-exact comparisons (RNG), or null when none was given. */
  reference(): Backend | null;
  /**
   * A deterministic uniform generator on `[0, 1)` (mulberry32) for the given seed: host-side randomness
   * that is independent of the backend's counter-based generator.
   *
   * @param seed - The seed.
   */
  rng(seed: number): () => number;
  /**
   * Seeded uniform host values in `[lo, hi)` (default `[-1, 1)`), rounded to float32.
   *
   * @param seed - The seed.
   * @param shape - The shape.
   * @param lo - The lower bound.
   * @param hi - The upper bound.
   */
  uniform(seed: number, shape: readonly number[], lo?: number, hi?: number): HostTensor;
  /**
   * Seeded normal host values (default mean 0, std 1), rounded to float32.
   *
   * @param seed - The seed.
   * @param shape - The shape.
   * @param mean - The mean.
   * @param std - The standard deviation.
   */
  normal(seed: number, shape: readonly number[], mean?: number, std?: number): HostTensor;
  /**
   * Uploads host values to the backend under test. A `HostTensor` brings its shape; a plain array
   * needs `shape` (default: 1-D). `dtype` defaults to float32 (int32 truncates, bool is `!= 0`).
   *
   * @param values - The host values.
   * @param shape - The shape (default: those of the host values).
   * @param dtype - The dtype (default float32).
   */
  upload(values: HostTensor | ArrayLike<number>, shape?: readonly number[], dtype?: DType): Tensor;
  /**
   * Reads a tensor back (`await t.data()`) as float64 (bool as 0/1).
   *
   * @param t - The tensor to read.
   */
  read(t: Tensor): Promise<Float64Array>;
  /**
   * Throws unless `actual` and `expected` have equal lengths and every element is within tolerance.
   * NaN matches only NaN, and an infinity only the same infinity.
   *
   * @param actual - The values computed.
   * @param expected - The reference values.
   * @param opts - Tolerances.
   */
  expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts?: Tolerance): void;
  /**
   * Reads `t` and checks its values (and `shape`/`dtype` when given) against `expected`.
   *
   * @param t - The tensor to check.
   * @param expected - The expected values, row-major.
   * @param opts - Expected shape and dtype, and tolerances.
   */
  check(t: Tensor, expected: ArrayLike<number>, opts?: CheckOptions): Promise<void>;
  /**
   * Checks the reverse-mode gradient of `f` at `inputs` against central finite differences. `f` maps
   * float32 tensors (one per input, uploaded by the checker) to a tensor of any shape; the checker
   * differentiates `sum(f(...xs) * w)` for a fixed random `w` with `valueAndGrad`, and compares every
   * derivative (or, for large inputs, random directional derivatives) with finite differences of the
   * same projection, evaluated on the backend in float32 and differenced on the host in float64. Keep
   * inputs away from kinks (`abs`, `relu`, `max`, `clamp`) by at least `eps`. Tensors `f` closes over
   * (integer indices, constants) are constants; they must stay alive until the check resolves.
   *
   * @param f - The function of the inputs to check, returning a tensor.
   * @param inputs - The host inputs (from `uniform` or `normal`).
   * @param opts - Tolerances and the finite-difference step.
   */
  gradCheck(
    f: (...xs: Tensor[]) => Tensor,
    inputs: readonly HostTensor[],
    opts?: GradCheckOptions,
  ): Promise<void>;
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/** Reads a tensor as float64. */
async function read(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** The sources of a context: `runConformance` fills them in `beforeAll`. */
export interface ContextSources {
  /** Name of the backend under test. */
  readonly name: string;
  /** Whether large cases run. */
  readonly large: boolean;
  /** The backend under test, once created. */
  readonly backend: () => Backend | null;
  /** The reference backend, once created (null when none). */
  readonly reference: () => Backend | null;
}

/**
 * Builds a `ConformanceContext` over backends that are created later (in `beforeAll`).
 *
 * @param sources - The suite's name, whether large cases run, and getters for the backend under test and the reference backend.
 */
export function createContext(sources: ContextSources): ConformanceContext {
  const backend = (): Backend => {
    const b = sources.backend();
    if (!b) throw new Error(`conformance(${sources.name}): the backend is only available inside a test`);
    return b;
  };

  const host = (shape: readonly number[], gen: () => number): HostTensor => {
    const values = new Float64Array(sizeOf(shape));
    for (let i = 0; i < values.length; i++) values[i] = Math.fround(gen());
    return { values, shape: [...shape] };
  };

  const upload = (
    values: HostTensor | ArrayLike<number>,
    shape?: readonly number[],
    dtype: DType = 'float32',
  ): Tensor => {
    const isHost = (v: unknown): v is HostTensor =>
      typeof v === 'object' && v !== null && 'values' in v && 'shape' in v && !ArrayBuffer.isView(v);
    const flat: ArrayLike<number> = isHost(values) ? values.values : values;
    const s = isHost(values) ? values.shape : (shape ?? [flat.length]);
    let arr: Float32Array | Int32Array | Uint8Array;
    if (dtype === 'float32') arr = Float32Array.from(flat);
    else if (dtype === 'int32') arr = Int32Array.from(flat, (v) => Math.trunc(v));
    else arr = Uint8Array.from(flat, (v) => (v !== 0 ? 1 : 0));
    return tensor(arr, { shape: s, dtype, backend: backend() });
  };

  const check = async (t: Tensor, expected: ArrayLike<number>, opts: CheckOptions = {}): Promise<void> => {
    const what = opts.what ? `${opts.what}: ` : '';
    if (opts.shape && shapeStr(t.shape) !== shapeStr(opts.shape)) {
      throw new Error(`${what}expected shape ${shapeStr(opts.shape)}, got ${shapeStr(t.shape)}`);
    }
    if (opts.dtype && t.dtype !== opts.dtype) {
      throw new Error(`${what}expected dtype ${opts.dtype}, got ${t.dtype}`);
    }
    expectClose(await read(t), expected, opts);
  };

  const gradCheck = async (
    f: (...xs: Tensor[]) => Tensor,
    inputs: readonly HostTensor[],
    opts: GradCheckOptions = {},
  ): Promise<void> => {
    const eps = opts.eps ?? 1e-2;
    const rtol = opts.rtol ?? 2e-2;
    const atol = opts.atol ?? 2e-3;
    const what = `grad of ${opts.what ?? 'f'}`;
    const gen = mulberry32(opts.seed ?? 1);
    const xs = inputs.map((x) => upload(x));
    // A fixed projection with weights of magnitude in [0.5, 1.5) and random signs.
    const probe = noGrad(() => tidy(() => f(...xs)));
    const outShape = [...probe.shape];
    probe.dispose();
    const wHost = host(outShape, () => (gen() < 0.5 ? -1 : 1) * (0.5 + gen()));
    const w = upload(wHost);
    const loss = (...ys: Tensor[]): Tensor => {
      const y = f(...ys);
      if (shapeStr(y.shape) !== shapeStr(outShape)) {
        throw new Error(`${what}: f returned shape ${shapeStr(y.shape)}, then ${shapeStr(outShape)}`);
      }
      return sum(mul(y, w));
    };
    const scale = noGrad(() => tidy(() => sum(abs(mul(f(...xs), w)))));
    const { value, grads } = valueAndGrad((ps: Tensor[]) => loss(...ps))(xs);
    try {
      const g = await Promise.all(
        grads.map(async (t, i) => {
          if (shapeStr(t.shape) !== shapeStr(inputs[i].shape)) {
            throw new Error(
              `${what}: gradient ${i} has shape ${shapeStr(t.shape)}, input ${shapeStr(inputs[i].shape)}`,
            );
          }
          return read(t);
        }),
      );
      const magnitude = (await read(scale))[0];
      // float32 rounding of the projected sum, amplified by the division by the step.
      const noise = (64 * 2 ** -24 * magnitude) / eps;
      const tol = atol + noise;
      const total = inputs.reduce((n, x) => n + x.values.length, 0);
      const plus = (x: number, d: number): number => Math.fround(x + d);

      // Every evaluation is queued before any is read, so an asynchronous backend waits only once.
      const evaluate = (shifted: (HostTensor | null)[]): Tensor =>
        tidy(() => reshape(loss(...shifted.map((h, i) => (h ? upload(h) : xs[i]))), []));
      const shift = (i: number, delta: (j: number) => number): HostTensor => {
        const v = inputs[i].values;
        const out = new Float64Array(v.length);
        for (let j = 0; j < v.length; j++) out[j] = plus(v[j], delta(j));
        return { values: out, shape: inputs[i].shape };
      };

      if (total <= (opts.maxElementwise ?? 64)) {
        const jobs: { i: number; j: number; h: number; hi: Tensor; lo: Tensor }[] = [];
        inputs.forEach((x, i) => {
          for (let j = 0; j < x.values.length; j++) {
            const one = (s: number) => (k: number) => (k === j ? s * eps : 0);
            const up = shift(i, one(1));
            const down = shift(i, one(-1));
            const others = (h: HostTensor) => inputs.map((_, k) => (k === i ? h : null));
            jobs.push({
              i,
              j,
              h: up.values[j] - down.values[j],
              hi: evaluate(others(up)),
              lo: evaluate(others(down)),
            });
          }
        });
        try {
          const vals = await Promise.all(
            jobs.map(async (jb) => [(await read(jb.hi))[0], (await read(jb.lo))[0]]),
          );
          const bad: string[] = [];
          jobs.forEach((jb, n) => {
            const numeric = (vals[n][0] - vals[n][1]) / jb.h;
            const analytic = g[jb.i][jb.j];
            if (!(Math.abs(numeric - analytic) <= tol + rtol * Math.abs(numeric))) {
              bad.push(`input ${jb.i}[${jb.j}]: analytic ${fmt(analytic)}, numeric ${fmt(numeric)}`);
            }
          });
          if (bad.length) {
            throw new Error(
              `${what}: ${bad.length} of ${jobs.length} derivatives differ from central differences ` +
                `(eps ${eps}, rtol ${rtol}, atol ${fmt(tol)}): ${bad.slice(0, 6).join('; ')}`,
            );
          }
        } finally {
          for (const jb of jobs) dispose([jb.hi, jb.lo]);
        }
      } else {
        const k = opts.directions ?? 6;
        // Random-sign directions; every evaluation is queued before any is read.
        const steps = Array.from({ length: k }, () => {
          const dirs = inputs.map((x) => Float64Array.from(x.values, () => (gen() < 0.5 ? -eps : eps)));
          const up = inputs.map((_, i) => shift(i, (j) => dirs[i][j]));
          const down = inputs.map((_, i) => shift(i, (j) => -dirs[i][j]));
          return { up, down, hi: evaluate(up), lo: evaluate(down) };
        });
        const bad: string[] = [];
        try {
          const vals = await Promise.all(
            steps.map(async (st) => (await read(st.hi))[0] - (await read(st.lo))[0]),
          );
          steps.forEach((st, d) => {
            // The analytic change along the (float32-rounded) step actually taken. With random signs
            // an error vector e in the gradient shows up as about |e * h|_2 here, so the relative
            // tolerance is taken against the 2-norm of the terms, not their (much larger) 1-norm.
            let analytic = 0;
            let norm2 = 0;
            inputs.forEach((_, i) => {
              for (let j = 0; j < g[i].length; j++) {
                const h = st.up[i].values[j] - st.down[i].values[j];
                analytic += g[i][j] * h;
                norm2 += (g[i][j] * h) ** 2;
              }
            });
            const err = Math.abs(vals[d] - analytic);
            if (!(err <= 2 * eps * tol + rtol * Math.sqrt(norm2))) {
              bad.push(
                `direction ${d}: analytic ${fmt(analytic / (2 * eps))}, numeric ${fmt(vals[d] / (2 * eps))}`,
              );
            }
          });
        } finally {
          for (const st of steps) dispose([st.hi, st.lo]);
        }
        if (bad.length) {
          throw new Error(`${what}: ${bad.length} of ${k} directional derivatives differ: ${bad.join('; ')}`);
        }
      }
    } finally {
      dispose([value, grads, scale, w, xs]);
    }
  };

  return {
    name: sources.name,
    large: sources.large,
    backend,
    reference: () => sources.reference(),
    rng: mulberry32,
    uniform: (seed, shape, lo = -1, hi = 1) => {
      const r = mulberry32(seed);
      return host(shape, () => lo + (hi - lo) * r());
    },
    normal: (seed, shape, mean = 0, std = 1) => {
      const r = mulberry32(seed);
      return host(shape, () => {
        const u1 = 1 - r();
        const u2 = r();
        return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      });
    },
    upload,
    read,
    expectClose,
    check,
    gradCheck,
  };
}
