/**
 * Host-side helpers every package's tests share: the seeded generator of test data and the
 * tolerance checks. They were copied into each package's test helpers (a mulberry32 in four places,
 * a "largest scaled error" in five), each with its own convention for NaN, infinities and the
 * direction of the tolerance, so the same comparison could pass in one package and fail in another.
 *
 * Nothing here imports vitest or a backend: a failed check throws an `Error` naming what, where and
 * by how much, which any runner reports.
 */

import { allocHost, type DType, type TypedArray } from '../dtype.js';

/** Tolerance of a comparison: element `i` passes when `|actual - expected| <= atol + rtol * |expected|`. */
export interface Tolerance {
  /** Relative tolerance; default 1e-5. */
  readonly rtol?: number;
  /** Absolute tolerance; default 1e-6. */
  readonly atol?: number;
  /** What is being compared, for the failure message. */
  readonly what?: string;
}

/**
 * mulberry32: a tiny, good-enough seeded generator of uniform floats in `[0, 1)` for host test data,
 * independent of the backends' counter-based generator.
 *
 * @param seed - Any 32-bit integer; equal seeds give equal streams.
 * @returns A function that returns the next value of the stream on each call.
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` seeded values uniform in `[lo, hi)`, each rounded to float32: a reference computed from them in
 * float64 then sees exactly the inputs a backend sees, so a mismatch measures the backend and never
 * the rounding of the inputs.
 *
 * @param seed - The seed of the stream (see `mulberry32`).
 * @param n - How many values.
 * @param lo - The lower bound (inclusive).
 * @param hi - The upper bound (exclusive).
 */
export function uniformArray(seed: number, n: number, lo = -1, hi = 1): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** A number for a failure message: 8 significant digits. @internal */
export function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(8) : String(v);
}

/**
 * Host values as the typed array a backend stores for `dtype` (float32, int32, or bytes for bool),
 * converted as the typed array's own `set` does, ready for `backend.write` in a kernel test.
 *
 * @param values - The host values.
 * @param dtype - The dtype whose storage array to fill.
 */
export function typedArrayOf(values: ArrayLike<number>, dtype: DType): TypedArray {
  const out = allocHost(dtype, values.length);
  out.set(values);
  return out;
}

/**
 * Compares two arrays elementwise; throws a descriptive `Error` on the first mismatches. Exported for
 * every package's tests; the kit reaches it through `ConformanceContext.expectClose`.
 *
 * @param actual - The values computed.
 * @param expected - The reference values.
 * @param opts - Tolerances (`rtol` default 1e-5, `atol` default 1e-6) and a label for the message.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: Tolerance = {},
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-6;
  const what = opts.what ? `${opts.what}: ` : '';
  if (actual.length !== expected.length) {
    throw new Error(`${what}expected ${expected.length} values, got ${actual.length}`);
  }
  const bad: string[] = [];
  let count = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else {
      const err = Math.abs(a - e);
      ok = err <= atol + rtol * Math.abs(e);
      if (!ok && Number.isFinite(err)) worst = Math.max(worst, err);
    }
    if (!ok) {
      count++;
      if (bad.length < 6) bad.push(`[${i}] got ${fmt(a)}, expected ${fmt(e)}`);
    }
  }
  if (count > 0) {
    throw new Error(
      `${what}${count} of ${expected.length} values out of tolerance (rtol ${rtol}, atol ${atol}; ` +
        `worst abs error ${fmt(worst)}): ${bad.join('; ')}`,
    );
  }
}

/**
 * Throws unless `|actual_i - ref_i| <= rtol * mag_i + atol` for every element; the message names
 * the worst element and how many failed. `rtol = atol = 0` demands exact equality. `mag` is the scale
 * of the rounding errors at each element (for a scan, the scan of the magnitudes `M_t`; for a
 * product, the sum of the magnitudes of its terms), which an `rtol` on `|ref|` alone misses where the
 * result cancels to near zero.
 *
 * @param what - A label for the failure message.
 * @param actual - The values computed.
 * @param ref - The reference values.
 * @param mag - The scale of the rounding errors at each element.
 * @param rtol - The relative part of the bound, on `mag`.
 * @param atol - The absolute part of the bound.
 */
export function expectWithinBound(
  what: string,
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  mag: ArrayLike<number>,
  rtol: number,
  atol: number,
): void {
  if (actual.length !== ref.length)
    throw new Error(`${what}: expected ${ref.length} values, got ${actual.length}`);
  let failed = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(actual[i] - ref[i]);
    const bound = rtol * mag[i] + atol;
    if (!(err <= bound)) {
      failed++;
      const ratio = Number.isNaN(err) ? Infinity : err / bound;
      if (worst < 0 || ratio > worstRatio) {
        worst = i;
        worstRatio = ratio;
      }
    }
  }
  if (failed > 0) {
    throw new Error(
      `${what}: ${failed} of ${ref.length} values exceed |actual - ref| <= ${rtol} * M + ${atol}; worst [${worst}]: ` +
        `got ${actual[worst]}, expected ${ref[worst]}, M = ${mag[worst]}`,
    );
  }
}

/**
 * Largest absolute difference between two arrays of equal length (NaN anywhere gives NaN).
 *
 * @param a - One array.
 * @param b - The other, of the same length.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

/**
 * Largest `|actual_i - expected_i| / bound_i` over all elements (NaN counts as infinitely bad): at
 * most 1 means every element is within its bound. For tests that report how close to the bound a
 * result came, not only whether it passed.
 *
 * @param actual - The values computed.
 * @param expected - The reference values.
 * @param bound - The allowed absolute error of each element.
 */
export function worstRatio(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: ArrayLike<number>,
): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / bound[i];
    if (!(r <= worst)) worst = Number.isNaN(r) ? Number.POSITIVE_INFINITY : r;
  }
  return worst;
}
