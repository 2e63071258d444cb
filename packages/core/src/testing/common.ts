/**
 * Pieces shared by the parts of the kit: tolerances, reading a raw kernel output, and host tensors
 * with chosen values.
 */
import type { Backend, DataId } from '../backend.js';
import type { DType } from '../dtype.js';
import type { ConformanceContext, HostTensor } from './context.js';
import type { Tolerance } from './host.js';

/** Bit-exact results (integer ops, movement, comparisons, the uniform generator). */
export const EXACT: Tolerance = { rtol: 0, atol: 0 };
/** One correctly rounded float32 operation (or a few): a couple of ulps. */
export const ARITH: Tolerance = { rtol: 1e-6, atol: 1e-7 };
/** Transcendental functions, which GPUs evaluate to a few ulps. */
export const TRANSCENDENTAL: Tolerance = { rtol: 1e-5, atol: 1e-6 };
/** Composites of several ops and reductions of moderate length. */
export const COMPOSITE: Tolerance = { rtol: 2e-5, atol: 2e-6 };

/** Reads a buffer a kernel returned (called directly on the backend) and frees it. */
export async function readKernel(
  backend: Backend,
  id: DataId,
  shape: readonly number[],
  dtype: DType,
): Promise<Float64Array> {
  try {
    return Float64Array.from(await backend.read({ id, shape, dtype }));
  } finally {
    backend.free(id);
  }
}

/** Random values with chosen extra values appended (special cases), as a 1-D host tensor. */
export function withExtras(
  ctx: ConformanceContext,
  seed: number,
  n: number,
  lo: number,
  hi: number,
  extras: readonly number[],
): HostTensor {
  const base = ctx.uniform(seed, [n], lo, hi).values;
  const values = new Float64Array(n + extras.length);
  values.set(base);
  extras.forEach((v, i) => {
    values[n + i] = Math.fround(v);
  });
  return { values, shape: [values.length] };
}

/** Random integers in `[lo, hi]` (inclusive) as a host tensor. */
export function ints(
  ctx: ConformanceContext,
  seed: number,
  shape: readonly number[],
  lo: number,
  hi: number,
): HostTensor {
  const r = ctx.rng(seed);
  const h = ctx.uniform(seed, shape);
  const values = h.values.map(() => lo + Math.floor(r() * (hi - lo + 1)));
  return { values, shape: h.shape };
}

/** Float32-rounding of a float64 reference, for ops whose intermediate results a backend rounds. */
export function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => Math.fround(v));
}

/** Seeded host values suited to `dtype`: uniform floats, integers in [-99, 99], or 0/1 for bool. */
export function sample(
  ctx: ConformanceContext,
  seed: number,
  shape: readonly number[],
  dtype: DType,
): HostTensor {
  if (dtype === 'float32') return ctx.uniform(seed, shape);
  return ints(ctx, seed, shape, dtype === 'bool' ? 0 : -99, dtype === 'bool' ? 1 : 99);
}
