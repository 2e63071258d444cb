/**
 * The scan suite of the conformance kit: `scan` and `scanComplex` on the backend under test against
 * the float64 sequential references of `scan-reference.ts`, their gradients against float64 central
 * differences of the same references, and the shape errors core must raise before a kernel runs.
 *
 * Design: every input is generated on the host, rounded to float32 (so the backend and the reference
 * see the same numbers), and every expected value is computed on the host in float64. Reading goes
 * through `await t.data()`, so the suite runs unchanged on asynchronous (GPU) backends, and every
 * tensor a case creates is disposed before it ends.
 *
 * Forward tolerance. A float32 evaluation of `h_t = a_t h_{t-1} + b_t`, in any order (sequential, or
 * a tree of partial products as a parallel scan computes it), makes rounding errors proportional to
 * the magnitudes of the terms it adds, not to `|h_t|`, which may be small by cancellation. The natural
 * scale is therefore the scan of absolute values, computed in float64 beside the reference:
 *
 *     M_t = |a_t| M_{t-1} + |b_t|,   M_{-1} = |h0|        (moduli in the complex case)
 *
 * and the suite asks `|h_t - ref_t| <= 1e-5 * M_t + 1e-6` for every element (real and imaginary
 * parts separately in the complex case). With `|a| <= 1`, `M_t` stays O(1) when memory is short and
 * grows with the length of the memory when `|a|` is near 1, as the rounding error of a long sum does
 * (about sqrt(T) ulps for random signs sequentially, about log2(T) for a tree-shaped parallel scan).
 * Measured at T = 10^5: the CPU backend's worst error is about 1% of the bound, core's float32
 * Blelloch reference (the order a GPU uses) about 2%, and 9% on an LRU channel with |λ| = 1 exactly,
 * where the tree's powers λ^k accumulate phase error.
 * A wrong kernel (a lost step, a swapped operand order, a broadcast read from the wrong place) makes
 * errors of the order of `|b_t|` itself, far above the bound. BMRU gates (`a` in {0, 1}, `b` and
 * `h0` in {-1, 0, 1}) keep every value a small integer, which float32 represents exactly whatever the
 * evaluation order, so those cases demand exact equality.
 *
 * Gradient tolerance. Derivatives of the scalar loss `L = sum(w * h)` (fixed random `w`) with respect
 * to every element of `a`, `b` and `h0` come from `valueAndGrad` on the backend (float32) and from
 * central differences of the float64 reference (step 1e-6, error near 1e-10 here). They must agree to
 * `1e-4 * (1 + |fd|)`: float32 rounding of short (T <= 8) scans and their adjoint is around 1e-6,
 * while any error in the adjoint formula (a missing conjugate, a shift by one step, an unreduced
 * broadcast) is of order 1.
 *
 * Unit modulus. A time-invariant `a` with `|a| = 1` (an LRU channel on the unit circle, a gate stuck
 * at 1 or a sign flip at -1) forgets nothing, so rounding errors are never damped and the bounds above
 * (scaled by `M_t`, which grows like `t` there) say little. These cases, at T = 10^5 with few lanes
 * (the plan in which a GPU chunks time), instead compare the backend's error with the error of a
 * plain float32 sequential loop on the same inputs (`float32ScanLoop`: every product and sum rounded
 * to float32), both measured against the float64 reference, and ask for at most
 * `UNIT_LOOP_FACTOR` times the loop's error. Errors are root mean squares over every value of a
 * tensor (both parts of a complex one): rounding at |a| = 1 makes random walks, whose maxima over a
 * single lane fluctuate by tens of percent between two equally good evaluation orders, while the mean
 * over 16 lanes of 10^5 steps is stable to a few percent. A chunked parallel scan that rounds its chunk
 * product `a^L` to float32 fails these: every chunk repeats the same rounding, so the carries drift
 * coherently: 6x to 11x the loop's error on h and 7x to 30x on the gradient of `a` at 316 chunks.
 * The gradients (loss `sum(w * h)`) are compared with the float64 adjoint (`u` = the scan of `w` over
 * `conj(a)` in the other direction, `dL/db = u`, `dL/da = sum_t u_t conj(h_{t-1})`), the formula the
 * finite-difference cases above check at small T; the loop's gradient is the same formula on its
 * float32 `h` and `u` with float32 products, summed in float64 so that the bound measures the scans
 * and not the reduction.
 */
import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../autograd.js';
import { dispose, tidy } from '../engine.js';
import { DTypeError, ShapeError } from '../errors.js';
import { add, mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { scan, scanComplex } from '../ops/scan.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { ConformanceContext, HostTensor } from './context.js';
import { expectWithinBound } from './host.js';
import { sequentialComplexScan64, sequentialScan64 } from './scan-reference.js';

/** Relative part of the forward bound, applied to the magnitude scan `M_t` (see the file comment). */
const SCAN_RTOL = 1e-5;
/** Absolute part of the forward bound. */
const SCAN_ATOL = 1e-6;
/** Gradient bound: `|analytic - numeric| <= GRAD_TOL * (1 + |numeric|)`. */
const GRAD_TOL = 1e-4;
/** Step of the float64 central differences. */
const FD_STEP = 1e-6;
/** Unit-modulus cases: the backend's RMS error may be at most this times a float32 loop's. */
const UNIT_LOOP_FACTOR = 2;

type Shape3 = readonly [number, number, number];

/** How the values of `a` are drawn. */
type RealGate =
  /** uniform in [-1, 1]: short, sign-alternating memory */
  | 'uniform'
  /** uniform in [0.999, 1]: memory of about a thousand steps */
  | 'near-one'
  /** Bernoulli in {0, 1} (P(1) = 0.99), with `b`, `h0` in {-1, 0, 1}: BMRU, exact */
  | 'gate';

/** One real forward case. */
interface RealCase {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  /** Shape of `a` as passed to `scan`; default `[B, T, C]`. */
  readonly aShape?: readonly number[];
  /** Shape of `h0` as passed to `scan`; absent for no `h0`. */
  readonly h0Shape?: readonly number[];
  readonly reverse?: boolean;
  readonly gate?: RealGate;
  readonly seed: number;
}

/** How the complex `λ` are drawn. */
type ComplexGate =
  /** uniform over the closed unit disc */
  | 'disc'
  /** time-invariant `[C]` with moduli cycling through 1, 0.999, 0.99, 0.9, 0.5: LRU-like */
  | 'lru';

/** One complex forward case. */
interface ComplexCase {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  readonly aShape?: readonly number[];
  readonly h0Shape?: readonly number[];
  readonly reverse?: boolean;
  readonly gate?: ComplexGate;
  readonly seed: number;
}

/** `a`'s shape padded with leading 1s to `[Ba, Ta, C]`, as the references index it. */
function rank3(shape: readonly number[]): Shape3 {
  const s = [...new Array<number>(3 - shape.length).fill(1), ...shape];
  return [s[0], s[1], s[2]];
}

/** `h0` values broadcast to `[B, C]` (from `[]`, `[C]`, `[1, C]` or `[B, C]`). */
function broadcastH0(h0: HostTensor, B: number, C: number): Float64Array {
  const out = new Float64Array(B * C);
  const [rows, cols] = h0.shape.length === 2 ? h0.shape : [1, h0.shape.length === 1 ? h0.shape[0] : 1];
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++)
      out[b * C + c] = h0.values[(rows === 1 ? 0 : b) * cols + (cols === 1 ? 0 : c)];
  }
  return out;
}

/** Host values of `shape` from a generator, rounded to float32. */
function hostOf(shape: readonly number[], gen: () => number): HostTensor {
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = Math.fround(gen());
  return { values, shape: [...shape] };
}

/** A value in {-1, 0, 1}, each with probability 1/3. */
function trit(r: () => number): number {
  const u = r();
  return u < 1 / 3 ? -1 : u < 2 / 3 ? 0 : 1;
}

/** Elementwise absolute values. */
function absOf(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, Math.abs);
}

/** Draws the operands of a real case. */
function realOperands(ctx: ConformanceContext, c: RealCase) {
  const { B, T, C } = c;
  const gate = c.gate ?? 'uniform';
  const aShape = c.aShape ?? [B, T, C];
  const r = ctx.rng(c.seed);
  const a =
    gate === 'uniform'
      ? hostOf(aShape, () => 2 * r() - 1)
      : gate === 'near-one'
        ? hostOf(aShape, () => 1 - 1e-3 * r())
        : hostOf(aShape, () => (r() < 0.99 ? 1 : 0));
  const b = gate === 'gate' ? hostOf([B, T, C], () => trit(r)) : hostOf([B, T, C], () => 2 * r() - 1);
  const h0 = c.h0Shape
    ? gate === 'gate'
      ? hostOf(c.h0Shape, () => trit(r))
      : hostOf(c.h0Shape, () => 2 * r() - 1)
    : undefined;
  return { a, b, h0, aShape };
}

/** Runs one real case on the backend and checks it against the float64 reference. */
async function checkReal(ctx: ConformanceContext, c: RealCase): Promise<void> {
  const { B, T, C } = c;
  const reverse = c.reverse ?? false;
  const { a, b, h0, aShape } = realOperands(ctx, c);
  const h0Host = h0 ? broadcastH0(h0, B, C) : null;
  const geo = { aShape: rank3(aShape), bShape: [B, T, C] as Shape3, reverse };
  const ref = sequentialScan64({ ...geo, a: a.values, b: b.values, h0: h0Host });
  const mag = sequentialScan64({
    ...geo,
    a: absOf(a.values),
    b: absOf(b.values),
    h0: h0Host && absOf(h0Host),
  });
  const h = tidy(() => scan(ctx.upload(a), ctx.upload(b), { h0: h0 && ctx.upload(h0), reverse }));
  try {
    expect(h.shape).toEqual([B, T, C]);
    expect(h.dtype).toBe('float32');
    const got = await ctx.read(h);
    const exact = c.gate === 'gate';
    expectWithinBound('scan', got, ref, mag, exact ? 0 : SCAN_RTOL, exact ? 0 : SCAN_ATOL);
  } finally {
    h.dispose();
  }
}

/** Draws the operands of a complex case: `λ` with `|λ| <= 1`, `b` and `h0` uniform in the square. */
function complexOperands(ctx: ConformanceContext, c: ComplexCase) {
  const { B, T, C } = c;
  const gate = c.gate ?? 'disc';
  const aShape = c.aShape ?? (gate === 'lru' ? [C] : [B, T, C]);
  const r = ctx.rng(c.seed);
  const n = sizeOf(aShape);
  const aRe = new Float64Array(n);
  const aIm = new Float64Array(n);
  const moduli = [1, 0.999, 0.99, 0.9, 0.5];
  for (let i = 0; i < n; i++) {
    // Uniform over the disc: radius sqrt(u). Rounding cos/sin to float32 may lift |λ| by an ulp.
    const rho = gate === 'lru' ? moduli[i % moduli.length] : Math.sqrt(r());
    const theta = 2 * Math.PI * r();
    aRe[i] = Math.fround(rho * Math.cos(theta));
    aIm[i] = Math.fround(rho * Math.sin(theta));
  }
  const unit = () => 2 * r() - 1;
  return {
    aRe: { values: aRe, shape: [...aShape] } as HostTensor,
    aIm: { values: aIm, shape: [...aShape] } as HostTensor,
    bRe: hostOf([B, T, C], unit),
    bIm: hostOf([B, T, C], unit),
    h0Re: c.h0Shape ? hostOf(c.h0Shape, unit) : undefined,
    h0Im: c.h0Shape ? hostOf(c.h0Shape, unit) : undefined,
    aShape,
  };
}

/** Runs one complex case on the backend and checks both parts against the float64 reference. */
async function checkComplex(ctx: ConformanceContext, c: ComplexCase): Promise<void> {
  const { B, T, C } = c;
  const reverse = c.reverse ?? false;
  const o = complexOperands(ctx, c);
  const h0Re = o.h0Re ? broadcastH0(o.h0Re, B, C) : null;
  const h0Im = o.h0Im ? broadcastH0(o.h0Im, B, C) : null;
  const geo = { aShape: rank3(o.aShape), bShape: [B, T, C] as Shape3, reverse };
  const [refRe, refIm] = sequentialComplexScan64({
    ...geo,
    aRe: o.aRe.values,
    aIm: o.aIm.values,
    bRe: o.bRe.values,
    bIm: o.bIm.values,
    h0Re,
    h0Im,
  });
  const modulus = (re: ArrayLike<number>, im: ArrayLike<number>) =>
    Float64Array.from(re, (x, i) => Math.hypot(x, im[i]));
  const mag = sequentialScan64({
    ...geo,
    a: modulus(o.aRe.values, o.aIm.values),
    b: modulus(o.bRe.values, o.bIm.values),
    h0: h0Re && h0Im ? modulus(h0Re, h0Im) : null,
  });
  const h = tidy(() =>
    scanComplex(
      { re: ctx.upload(o.aRe), im: ctx.upload(o.aIm) },
      { re: ctx.upload(o.bRe), im: ctx.upload(o.bIm) },
      {
        h0: o.h0Re && o.h0Im ? { re: ctx.upload(o.h0Re), im: ctx.upload(o.h0Im) } : undefined,
        reverse,
      },
    ),
  );
  try {
    expect(h.re.shape).toEqual([B, T, C]);
    expect(h.im.shape).toEqual([B, T, C]);
    expectWithinBound('scanComplex (re)', await ctx.read(h.re), refRe, mag, SCAN_RTOL, SCAN_ATOL);
    expectWithinBound('scanComplex (im)', await ctx.read(h.im), refIm, mag, SCAN_RTOL, SCAN_ATOL);
  } finally {
    dispose(h);
  }
}

/**
 * Compares backend gradients with float64 central differences of `loss`, which evaluates the scalar
 * loss from the host values of `params` (the same float32-representable values the backend saw).
 */
function expectGradients(
  what: string,
  names: readonly string[],
  params: readonly HostTensor[],
  grads: readonly Float64Array[],
  loss: (values: readonly Float64Array[]) => number,
): void {
  const bad: string[] = [];
  let count = 0;
  params.forEach((p, i) => {
    if (grads[i].length !== p.values.length) {
      throw new Error(
        `${what}: gradient of ${names[i]} has ${grads[i].length} values, expected ${p.values.length}`,
      );
    }
    const values = params.map((q) => Float64Array.from(q.values));
    for (let j = 0; j < p.values.length; j++) {
      const x = values[i][j];
      values[i][j] = x + FD_STEP;
      const up = loss(values);
      values[i][j] = x - FD_STEP;
      const down = loss(values);
      values[i][j] = x;
      const numeric = (up - down) / (2 * FD_STEP);
      const analytic = grads[i][j];
      if (!(Math.abs(analytic - numeric) <= GRAD_TOL * (1 + Math.abs(numeric)))) {
        count++;
        if (bad.length < 6) bad.push(`d/d${names[i]}[${j}]: analytic ${analytic}, numeric ${numeric}`);
      }
    }
  });
  if (count > 0) {
    throw new Error(
      `${what}: ${count} derivatives differ from float64 central differences by more than ` +
        `${GRAD_TOL} * (1 + |fd|): ${bad.join('; ')}`,
    );
  }
}

/** One gradient case: shapes of `a` and `h0` (none when absent) and the direction. */
interface GradCase {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  readonly aShape: readonly number[];
  readonly h0Shape?: readonly number[];
  readonly reverse: boolean;
  readonly seed: number;
}

/** Random signed weights of magnitude in [0.5, 1.5): the projection `w` of the loss. */
function weights(r: () => number, shape: readonly number[]): HostTensor {
  return hostOf(shape, () => (r() < 0.5 ? -1 : 1) * (0.5 + r()));
}

async function checkRealGradient(ctx: ConformanceContext, c: GradCase): Promise<void> {
  const { B, T, C, reverse } = c;
  const r = ctx.rng(c.seed);
  const unit = () => 2 * r() - 1;
  const params = [hostOf(c.aShape, unit), hostOf([B, T, C], unit)];
  const names = ['a', 'b'];
  if (c.h0Shape) {
    params.push(hostOf(c.h0Shape, unit));
    names.push('h0');
  }
  const w = weights(r, [B, T, C]);
  const geo = { aShape: rank3(c.aShape), bShape: [B, T, C] as Shape3, reverse };
  const loss = (v: readonly Float64Array[]): number => {
    const h0 = c.h0Shape ? broadcastH0({ values: v[2], shape: c.h0Shape }, B, C) : null;
    const h = sequentialScan64({ ...geo, a: v[0], b: v[1], h0 });
    let s = 0;
    for (let i = 0; i < h.length; i++) s += w.values[i] * h[i];
    return s;
  };
  const grads = tidy(() => {
    const wt = ctx.upload(w);
    const f = (ps: Tensor[]) => sum(mul(scan(ps[0], ps[1], { h0: ps[2], reverse }), wt));
    return valueAndGrad(f)(params.map((p) => ctx.upload(p))).grads;
  });
  try {
    expect(grads.map((g) => g.shape)).toEqual(params.map((p) => p.shape));
    const values = await Promise.all(grads.map((g) => ctx.read(g)));
    expectGradients('scan', names, params, values, loss);
  } finally {
    dispose(grads);
  }
}

async function checkComplexGradient(ctx: ConformanceContext, c: GradCase): Promise<void> {
  const { B, T, C, reverse } = c;
  const r = ctx.rng(c.seed);
  const unit = () => 2 * r() - 1;
  // |λ| <= 1 keeps the loss well scaled; the derivatives are checked for every real part.
  const n = sizeOf(c.aShape);
  const aRe = new Float64Array(n);
  const aIm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const rho = 0.3 + 0.65 * r();
    const theta = 2 * Math.PI * r();
    aRe[i] = Math.fround(rho * Math.cos(theta));
    aIm[i] = Math.fround(rho * Math.sin(theta));
  }
  const params: HostTensor[] = [
    { values: aRe, shape: [...c.aShape] },
    { values: aIm, shape: [...c.aShape] },
    hostOf([B, T, C], unit),
    hostOf([B, T, C], unit),
  ];
  const names = ['a.re', 'a.im', 'b.re', 'b.im'];
  if (c.h0Shape) {
    params.push(hostOf(c.h0Shape, unit), hostOf(c.h0Shape, unit));
    names.push('h0.re', 'h0.im');
  }
  const wRe = weights(r, [B, T, C]);
  const wIm = weights(r, [B, T, C]);
  const geo = { aShape: rank3(c.aShape), bShape: [B, T, C] as Shape3, reverse };
  const loss = (v: readonly Float64Array[]): number => {
    const h0 = (k: number) => (c.h0Shape ? broadcastH0({ values: v[k], shape: c.h0Shape }, B, C) : null);
    const [hr, hi] = sequentialComplexScan64({
      ...geo,
      aRe: v[0],
      aIm: v[1],
      bRe: v[2],
      bIm: v[3],
      h0Re: h0(4),
      h0Im: h0(5),
    });
    let s = 0;
    for (let i = 0; i < hr.length; i++) s += wRe.values[i] * hr[i] + wIm.values[i] * hi[i];
    return s;
  };
  const grads = tidy(() => {
    const wr = ctx.upload(wRe);
    const wi = ctx.upload(wIm);
    const f = (ps: Tensor[]) => {
      const h = scanComplex(
        { re: ps[0], im: ps[1] },
        { re: ps[2], im: ps[3] },
        { h0: ps.length > 4 ? { re: ps[4], im: ps[5] } : undefined, reverse },
      );
      return add(sum(mul(h.re, wr)), sum(mul(h.im, wi)));
    };
    return valueAndGrad(f)(params.map((p) => ctx.upload(p))).grads;
  });
  try {
    expect(grads.map((g) => g.shape)).toEqual(params.map((p) => p.shape));
    const values = await Promise.all(grads.map((g) => ctx.read(g)));
    expectGradients('scanComplex', names, params, values, loss);
  } finally {
    dispose(grads);
  }
}

/** Expects `fn` (given freshly uploaded zero tensors of `shapes`) to throw `errorClass`. */
function expectThrows(
  ctx: ConformanceContext,
  shapes: readonly (readonly number[])[],
  fn: (...xs: Tensor[]) => unknown,
  errorClass: typeof ShapeError | typeof DTypeError = ShapeError,
  dtypes: readonly ('float32' | 'int32')[] = [],
): void {
  // Inputs are made outside any tidy scope and freed here, since a throwing op leaves no result.
  const xs = shapes.map((s, i) => ctx.upload(new Float64Array(sizeOf(s)), s, dtypes[i] ?? 'float32'));
  try {
    expect(() => tidy(() => fn(...xs))).toThrow(errorClass);
  } finally {
    dispose(xs);
  }
}

/** One unit-modulus case: `a` time-invariant `[C]`, no `h0`, loss `sum(w * h)`. */
interface UnitCase {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  /** Complex `a` on the unit circle (a random angle per channel), or a real constant. */
  readonly a: { readonly kind: 'circle' } | { readonly kind: 'real'; readonly value: 1 | -1 };
  readonly reverse: boolean;
  readonly seed: number;
}

/** A complex lane-major scan's arrays, real scans having `aIm`, `bIm` all zero. */
interface UnitScan {
  readonly aRe: Float64Array;
  readonly aIm: Float64Array;
  readonly bRe: Float64Array;
  readonly bIm: Float64Array;
}

/**
 * `h_t = a h_{t-1} + b_t` for a time-invariant complex `a` of `[C]` over `[B, T, C]`, in float64 or
 * as a plain float32 loop (`f32`: each of the four products and each sum rounded to float32, the
 * order a straightforward float32 implementation uses). A real scan is the case `aIm = bIm = 0`,
 * where the float32 loop rounds exactly as a real one (the zero products are exact).
 */
function unitScan(
  s: UnitScan,
  [B, T, C]: Shape3,
  reverse: boolean,
  f32: boolean,
): [Float64Array, Float64Array] {
  const r = f32 ? Math.fround : (x: number) => x;
  const hr = new Float64Array(B * T * C);
  const hi = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const ar = s.aRe[c];
      const ai = s.aIm[c];
      let xr = 0;
      let xi = 0;
      for (let k = 0; k < T; k++) {
        const i = (b * T + (reverse ? T - 1 - k : k)) * C + c;
        const nr = r(r(r(ar * xr) - r(ai * xi)) + s.bRe[i]);
        const ni = r(r(r(ar * xi) + r(ai * xr)) + s.bIm[i]);
        xr = nr;
        xi = ni;
        hr[i] = xr;
        hi[i] = xi;
      }
    }
  }
  return [hr, hi];
}

/**
 * `h`, and the gradients of `L = sum(wRe * hRe + wIm * hIm)` with respect to `a` (`[C]`, both parts)
 * and `b` (both parts), in float64 or from the plain float32 loop (see the file comment). With a
 * time-invariant `a` the adjoint is the scan of `w` over `conj(a)` in the other direction.
 */
function unitGradients(s: UnitScan, w: UnitScan, dims: Shape3, reverse: boolean, f32: boolean) {
  const [B, T, C] = dims;
  const r = f32 ? Math.fround : (x: number) => x;
  const [hr, hi] = unitScan(s, dims, reverse, f32);
  const conj = { aRe: s.aRe, aIm: s.aIm.map((v) => -v), bRe: w.bRe, bIm: w.bIm };
  const [ur, ui] = unitScan(conj, dims, !reverse, f32);
  const daRe = new Float64Array(C);
  const daIm = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    // h_{t-1} in the scan's direction; the step before the first is h0 = 0.
    for (let k = 1; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      const tPrev = reverse ? t + 1 : t - 1;
      for (let c = 0; c < C; c++) {
        const i = (b * T + t) * C + c;
        const p = (b * T + tPrev) * C + c;
        daRe[c] += r(ur[i] * hr[p]) + r(ui[i] * hi[p]);
        daIm[c] += r(ui[i] * hr[p]) - r(ur[i] * hi[p]);
      }
    }
  }
  return { h: [hr, hi], da: [daRe, daIm], db: [ur, ui] };
}

/** Root mean square of `got - ref` over every value of every part. */
function rmsError(got: readonly ArrayLike<number>[], ref: readonly ArrayLike<number>[]): number {
  let sq = 0;
  let n = 0;
  ref.forEach((part, j) => {
    if (got[j].length !== part.length)
      throw new Error(`expected ${part.length} values, got ${got[j].length}`);
    for (let i = 0; i < part.length; i++) {
      const e = got[j][i] - part[i];
      sq += e * e;
      n++;
    }
  });
  return Math.sqrt(sq / Math.max(n, 1));
}

/** Throws unless the backend's RMS error is at most `UNIT_LOOP_FACTOR` times the float32 loop's. */
function expectWithinLoop(
  what: string,
  got: readonly ArrayLike<number>[],
  ref: readonly ArrayLike<number>[],
  loop: readonly ArrayLike<number>[],
): void {
  const err = rmsError(got, ref);
  const loopErr = rmsError(loop, ref);
  if (!(err <= UNIT_LOOP_FACTOR * loopErr)) {
    throw new Error(
      `${what}: RMS error ${err.toExponential(3)} against the float64 reference exceeds ${UNIT_LOOP_FACTOR}x ` +
        `that of a plain float32 sequential loop (${loopErr.toExponential(3)}); ratio ${(err / loopErr).toFixed(2)}`,
    );
  }
}

/** Draws a unit-modulus case: `a` as float32 values, `b` and the loss weights `w` uniform in [-1, 1]. */
function unitOperands(ctx: ConformanceContext, c: UnitCase): { s: UnitScan; w: UnitScan } {
  const { B, T, C } = c;
  const r = ctx.rng(c.seed);
  const n = B * T * C;
  const complex = c.a.kind === 'circle';
  const aRe = new Float64Array(C);
  const aIm = new Float64Array(C);
  for (let i = 0; i < C; i++) {
    if (c.a.kind === 'circle') {
      // cos and sin rounded to float32: |a| = 1 to within an ulp, which the references see exactly.
      const theta = 2 * Math.PI * r();
      aRe[i] = Math.fround(Math.cos(theta));
      aIm[i] = Math.fround(Math.sin(theta));
    } else {
      aRe[i] = c.a.value;
    }
  }
  const unit = () => Float64Array.from({ length: n }, () => Math.fround(2 * r() - 1));
  const zero = () => new Float64Array(n);
  const bRe = unit();
  const bIm = complex ? unit() : zero();
  const wRe = unit();
  const wIm = complex ? unit() : zero();
  return { s: { aRe, aIm, bRe, bIm }, w: { aRe, aIm, bRe: wRe, bIm: wIm } };
}

/**
 * A unit-modulus case on the backend: `h` (forward) or the gradients of `sum(w * h)` with respect to
 * `a` and `b` (`grad`), each within `UNIT_LOOP_FACTOR` times the float32 loop's RMS error.
 */
async function checkUnitModulus(ctx: ConformanceContext, c: UnitCase, grad: boolean): Promise<void> {
  const { B, T, C, reverse } = c;
  const dims: Shape3 = [B, T, C];
  const complex = c.a.kind === 'circle';
  const { s, w } = unitOperands(ctx, c);
  const ref = unitGradients(s, w, dims, reverse, false);
  const loop = unitGradients(s, w, dims, reverse, true);
  const host = (values: Float64Array, shape: readonly number[]): HostTensor => ({ values, shape });
  const outs = tidy(() => {
    const aRe = ctx.upload(host(s.aRe, [C]));
    const bRe = ctx.upload(host(s.bRe, dims));
    const wRe = ctx.upload(host(w.bRe, dims));
    if (!complex) {
      const f = (ps: Tensor[]) => sum(mul(scan(ps[0], ps[1], { reverse }), wRe));
      return grad ? valueAndGrad(f)([aRe, bRe]).grads : [scan(aRe, bRe, { reverse })];
    }
    const aIm = ctx.upload(host(s.aIm, [C]));
    const bIm = ctx.upload(host(s.bIm, dims));
    const wIm = ctx.upload(host(w.bIm, dims));
    const run = (ps: Tensor[]) =>
      scanComplex({ re: ps[0], im: ps[1] }, { re: ps[2], im: ps[3] }, { reverse });
    if (!grad) {
      const h = run([aRe, aIm, bRe, bIm]);
      return [h.re, h.im];
    }
    const f = (ps: Tensor[]) => {
      const h = run(ps);
      return add(sum(mul(h.re, wRe)), sum(mul(h.im, wIm)));
    };
    return valueAndGrad(f)([aRe, aIm, bRe, bIm]).grads;
  });
  try {
    const v = await Promise.all(outs.map((t) => ctx.read(t)));
    const parts = complex ? 2 : 1;
    const take = (xs: readonly Float64Array[]) => xs.slice(0, parts);
    if (!grad) {
      expectWithinLoop(complex ? 'scanComplex h' : 'scan h', v, take(ref.h), take(loop.h));
      return;
    }
    // grads come as [a, b] (real) or [a.re, a.im, b.re, b.im] (complex).
    const ga = complex ? [v[0], v[1]] : [v[0]];
    const gb = complex ? [v[2], v[3]] : [v[1]];
    const name = complex ? 'scanComplex' : 'scan';
    expectWithinLoop(`${name} dL/da`, ga, take(ref.da), take(loop.da));
    expectWithinLoop(`${name} dL/db`, gb, take(ref.db), take(loop.db));
  } finally {
    dispose(outs);
  }
}

/**
 * Declares the scan suite in the calling vitest file: every case is its own `it`, in four `describe`
 * groups (forward real, forward complex, gradients, errors). `runConformance` calls it inside
 * `describe('scan')` with the context of the backend under test, whose backend is current in every
 * test. Takes a few seconds on the CPU backend; with `ctx.large`, adds sequences of 10^6 steps.
 */
export function scanSuite(ctx: ConformanceContext): void {
  describe('forward, against the float64 sequential reference', () => {
    it('the documented example: a = 0.5, b = 1 gives 1, 1.5, 1.75', async () => {
      const h = tidy(() => scan(ctx.upload([0.5], [1]), ctx.upload([1, 1, 1], [1, 3, 1])));
      try {
        await ctx.check(h, [1, 1.5, 1.75], { shape: [1, 3, 1], rtol: 0, atol: 0, what: 'scan' });
      } finally {
        h.dispose();
      }
    });

    for (const [T, B, C] of [
      [1, 2, 3],
      [7, 2, 3],
      [1000, 2, 3],
      [100_000, 1, 4],
    ] as const) {
      it(`a uniform in [-1, 1], T = ${T} (B = ${B}, C = ${C})`, () =>
        checkReal(ctx, { B, T, C, seed: 100 + T }));
    }

    it('a uniform in [0.999, 1] (long memory), T = 100000', () =>
      checkReal(ctx, { B: 1, T: 100_000, C: 4, gate: 'near-one', seed: 3 }));

    it('BMRU gates: a in {0, 1}, b and h0 in {-1, 0, 1}, T = 100000, exact', () =>
      checkReal(ctx, { B: 2, T: 100_000, C: 3, gate: 'gate', h0Shape: [2, 3], seed: 4 }));

    it('BMRU gates in reverse, T = 1000, exact', () =>
      checkReal(ctx, { B: 2, T: 1000, C: 3, gate: 'gate', h0Shape: [2, 3], reverse: true, seed: 5 }));

    it('reverse, T = 1000', () => checkReal(ctx, { B: 2, T: 1000, C: 3, reverse: true, seed: 6 }));

    it('reverse, T = 100000', () => checkReal(ctx, { B: 1, T: 100_000, C: 2, reverse: true, seed: 7 }));

    it('non-zero h0 [B, C], forward', () => checkReal(ctx, { B: 3, T: 50, C: 4, h0Shape: [3, 4], seed: 8 }));

    it('non-zero h0 [B, C], reverse', () =>
      checkReal(ctx, { B: 3, T: 50, C: 4, h0Shape: [3, 4], reverse: true, seed: 9 }));

    it('h0 [C] broadcast over the batch', () =>
      checkReal(ctx, { B: 3, T: 20, C: 4, h0Shape: [4], seed: 10 }));

    it('h0 scalar [] broadcast to [B, C]', () =>
      checkReal(ctx, { B: 3, T: 20, C: 4, h0Shape: [], seed: 12 }));

    it('h0 [1, C] broadcast over the batch, reverse', () =>
      checkReal(ctx, { B: 3, T: 20, C: 4, h0Shape: [1, 4], reverse: true, seed: 11 }));

    for (const [label, shape] of [
      ['[C]', [5]],
      ['[T, C]', [40, 5]],
      ['[1, T, C]', [1, 40, 5]],
      ['[B, 1, C]', [3, 1, 5]],
      ['[1, 1, C]', [1, 1, 5]],
    ] as const) {
      it(`a broadcast as ${label}, with h0`, () =>
        checkReal(ctx, { B: 3, T: 40, C: 5, aShape: shape, h0Shape: [3, 5], seed: 20 + shape.length }));
      it(`a broadcast as ${label}, reverse`, () =>
        checkReal(ctx, { B: 3, T: 40, C: 5, aShape: shape, reverse: true, seed: 30 + shape.length }));
    }

    it('zero-length time: T = 0 gives [B, 0, C]', () => checkReal(ctx, { B: 2, T: 0, C: 3, seed: 40 }));

    it('zero-length time with h0 and a [C], reverse', () =>
      checkReal(ctx, { B: 2, T: 0, C: 3, aShape: [3], h0Shape: [2, 3], reverse: true, seed: 41 }));

    it('zero batch and zero channels', async () => {
      await checkReal(ctx, { B: 0, T: 5, C: 3, seed: 42 });
      await checkReal(ctx, { B: 2, T: 5, C: 0, seed: 43 });
    });

    it('many lanes: B = 3, C = 257 (crosses workgroup and vector widths), T = 64', () =>
      checkReal(ctx, { B: 3, T: 64, C: 257, h0Shape: [3, 257], seed: 44 }));

    it('many lanes in reverse with a [B, T, C], B = 5, C = 33, T = 300', () =>
      checkReal(ctx, { B: 5, T: 300, C: 33, reverse: true, seed: 45 }));

    it('T = 1 with h0: one step of a * h0 + b', () =>
      checkReal(ctx, { B: 2, T: 1, C: 3, h0Shape: [2, 3], seed: 46 }));

    if (ctx.large) {
      it('large: a uniform in [-1, 1], T = 1000000', () =>
        checkReal(ctx, { B: 1, T: 1_000_000, C: 2, seed: 47 }));
      it('large: BMRU gates, T = 1000000, exact', () =>
        checkReal(ctx, { B: 1, T: 1_000_000, C: 2, gate: 'gate', h0Shape: [1, 2], seed: 48 }));
    }
  });

  describe('complex, |λ| <= 1, against the float64 sequential reference', () => {
    for (const [T, B, C] of [
      [1, 2, 3],
      [7, 2, 3],
      [1000, 2, 3],
      [100_000, 1, 3],
    ] as const) {
      it(`λ uniform on the unit disc, T = ${T} (B = ${B}, C = ${C})`, () =>
        checkComplex(ctx, { B, T, C, seed: 200 + T }));
    }

    it('LRU-like time-invariant λ [C] with |λ| in {1, 0.999, 0.99, 0.9, 0.5}, T = 100000', () =>
      checkComplex(ctx, { B: 1, T: 100_000, C: 5, gate: 'lru', seed: 50 }));

    it('reverse, T = 1000', () => checkComplex(ctx, { B: 2, T: 1000, C: 3, reverse: true, seed: 51 }));

    it('non-zero h0 [B, C], forward', () =>
      checkComplex(ctx, { B: 3, T: 50, C: 4, h0Shape: [3, 4], seed: 52 }));

    it('non-zero h0 [B, C], reverse', () =>
      checkComplex(ctx, { B: 3, T: 50, C: 4, h0Shape: [3, 4], reverse: true, seed: 53 }));

    it('h0 [C] broadcast over the batch', () =>
      checkComplex(ctx, { B: 3, T: 20, C: 4, h0Shape: [4], seed: 54 }));

    for (const [label, shape] of [
      ['[C]', [5]],
      ['[T, C]', [40, 5]],
      ['[1, T, C]', [1, 40, 5]],
      ['[B, 1, C]', [3, 1, 5]],
    ] as const) {
      it(`λ broadcast as ${label}, with h0, reverse`, () =>
        checkComplex(ctx, {
          B: 3,
          T: 40,
          C: 5,
          aShape: shape,
          h0Shape: [3, 5],
          reverse: true,
          seed: 60 + shape.length,
        }));
      it(`λ broadcast as ${label}, forward`, () =>
        checkComplex(ctx, { B: 3, T: 40, C: 5, aShape: shape, seed: 70 + shape.length }));
    }

    it('zero-length time: T = 0 gives [B, 0, C] parts', () =>
      checkComplex(ctx, { B: 2, T: 0, C: 3, h0Shape: [2, 3], seed: 80 }));

    it('many lanes: B = 3, C = 257, T = 64', () =>
      checkComplex(ctx, { B: 3, T: 64, C: 257, h0Shape: [3, 257], seed: 81 }));

    if (ctx.large) {
      it('large: λ on the unit disc, T = 1000000', () =>
        checkComplex(ctx, { B: 1, T: 1_000_000, C: 2, seed: 82 }));
    }
  });

  describe('gradients against float64 central differences', () => {
    const B = 2;
    const T = 6;
    const C = 3;
    const realCases: [string, GradCase][] = [
      [
        'a [B, T, C], h0 [B, C], forward',
        { B, T, C, aShape: [B, T, C], h0Shape: [B, C], reverse: false, seed: 1 },
      ],
      [
        'a [B, T, C], h0 [B, C], reverse',
        { B, T, C, aShape: [B, T, C], h0Shape: [B, C], reverse: true, seed: 2 },
      ],
      ['a [C] broadcast, h0 [C], forward', { B, T, C, aShape: [C], h0Shape: [C], reverse: false, seed: 3 }],
      [
        'a [C] broadcast, h0 [1, C], reverse',
        { B, T, C, aShape: [C], h0Shape: [1, C], reverse: true, seed: 4 },
      ],
      [
        'a [T, C] broadcast, h0 [B, C], reverse',
        { B, T, C, aShape: [T, C], h0Shape: [B, C], reverse: true, seed: 5 },
      ],
      ['a [1, T, C] broadcast, forward, no h0', { B, T, C, aShape: [1, T, C], reverse: false, seed: 6 }],
      [
        'a [B, 1, C] broadcast, h0 [B, C], forward',
        { B, T, C, aShape: [B, 1, C], h0Shape: [B, C], reverse: false, seed: 7 },
      ],
      ['a [B, 1, C] broadcast, reverse, no h0', { B, T, C, aShape: [B, 1, C], reverse: true, seed: 8 }],
      [
        'T = 1, h0 [B, C], reverse',
        { B, T: 1, C, aShape: [B, 1, C], h0Shape: [B, C], reverse: true, seed: 9 },
      ],
      [
        'T = 0: every gradient is zero, forward',
        { B, T: 0, C, aShape: [C], h0Shape: [B, C], reverse: false, seed: 10 },
      ],
      [
        'T = 0: every gradient is zero, reverse',
        { B, T: 0, C, aShape: [B, 0, C], h0Shape: [B, C], reverse: true, seed: 11 },
      ],
    ];
    for (const [label, c] of realCases) it(`scan: ${label}`, () => checkRealGradient(ctx, c));

    const complexCases: [string, GradCase][] = [
      [
        'a [B, T, C], h0 [B, C], forward',
        { B, T, C, aShape: [B, T, C], h0Shape: [B, C], reverse: false, seed: 21 },
      ],
      [
        'a [B, T, C], h0 [B, C], reverse',
        { B, T, C, aShape: [B, T, C], h0Shape: [B, C], reverse: true, seed: 22 },
      ],
      ['λ [C] broadcast, h0 [C], forward', { B, T, C, aShape: [C], h0Shape: [C], reverse: false, seed: 23 }],
      [
        'λ [C] broadcast, h0 [B, C], reverse',
        { B, T, C, aShape: [C], h0Shape: [B, C], reverse: true, seed: 24 },
      ],
      ['λ [T, C] broadcast, forward, no h0', { B, T, C, aShape: [T, C], reverse: false, seed: 25 }],
      [
        'λ [B, 1, C] broadcast, h0 [1, C], reverse',
        { B, T, C, aShape: [B, 1, C], h0Shape: [1, C], reverse: true, seed: 26 },
      ],
      [
        'T = 0: every gradient is zero',
        { B, T: 0, C, aShape: [C], h0Shape: [B, C], reverse: false, seed: 27 },
      ],
    ];
    for (const [label, c] of complexCases) it(`scanComplex: ${label}`, () => checkComplexGradient(ctx, c));
  });

  describe('|a| = 1, T = 100000, few lanes: within 2x the error of a float32 sequential loop', () => {
    const dims = { B: 2, T: 100_000, C: 8 };
    const cases: [string, UnitCase][] = [
      [
        'complex λ [C] on the unit circle, forward',
        { ...dims, a: { kind: 'circle' }, reverse: false, seed: 90 },
      ],
      [
        'complex λ [C] on the unit circle, reverse',
        { ...dims, a: { kind: 'circle' }, reverse: true, seed: 91 },
      ],
      ['real a = 1 [C], forward', { ...dims, a: { kind: 'real', value: 1 }, reverse: false, seed: 92 }],
      ['real a = -1 [C], reverse', { ...dims, a: { kind: 'real', value: -1 }, reverse: true, seed: 93 }],
    ];
    for (const [label, c] of cases) {
      it(`${label}: h`, () => checkUnitModulus(ctx, c, false));
      it(`${label}: gradients of a and b`, () => checkUnitModulus(ctx, c, true));
    }
  });

  describe('shape and dtype errors', () => {
    const op = (xs: Tensor[]) => scan(xs[0], xs[1], xs[2] ? { h0: xs[2] } : {});
    it('b of rank 2 is a ShapeError', () => expectThrows(ctx, [[3], [4, 3]], (...xs) => op(xs)));
    it('b of rank 4 is a ShapeError', () => expectThrows(ctx, [[3], [1, 2, 4, 3]], (...xs) => op(xs)));
    it('a of rank 4 is a ShapeError', () =>
      expectThrows(
        ctx,
        [
          [1, 2, 4, 3],
          [2, 4, 3],
        ],
        (...xs) => op(xs),
      ));
    it('a of rank 0 is a ShapeError', () => expectThrows(ctx, [[], [2, 4, 3]], (...xs) => op(xs)));
    it('a with other channels ([C + 1]) is a ShapeError', () =>
      expectThrows(ctx, [[4], [2, 4, 3]], (...xs) => op(xs)));
    it('a with other time ([T + 1, C]) is a ShapeError', () =>
      expectThrows(
        ctx,
        [
          [5, 3],
          [2, 4, 3],
        ],
        (...xs) => op(xs),
      ));
    it('a with another batch ([2, T, C] against B = 3) is a ShapeError', () =>
      expectThrows(
        ctx,
        [
          [2, 4, 3],
          [3, 4, 3],
        ],
        (...xs) => op(xs),
      ));
    it('h0 with other channels ([B, C + 1]) is a ShapeError', () =>
      expectThrows(ctx, [[3], [2, 4, 3], [2, 4]], (...xs) => op(xs)));
    it('h0 with another batch ([2, C] against B = 3) is a ShapeError', () =>
      expectThrows(ctx, [[3], [3, 4, 3], [2, 3]], (...xs) => op(xs)));
    it('h0 of rank 3 is a ShapeError', () =>
      expectThrows(ctx, [[3], [2, 4, 3], [2, 1, 3]], (...xs) => op(xs)));
    it('int32 b is a DTypeError', () =>
      expectThrows(ctx, [[3], [2, 4, 3]], (...xs) => op(xs), DTypeError, ['float32', 'int32']));

    const cop = (xs: Tensor[]) =>
      scanComplex(
        { re: xs[0], im: xs[1] },
        { re: xs[2], im: xs[3] },
        xs[4] ? { h0: { re: xs[4], im: xs[5] } } : {},
      );
    it('complex: a.re and a.im of different shapes is a ShapeError', () =>
      expectThrows(ctx, [[3], [4, 3], [2, 4, 3], [2, 4, 3]], (...xs) => cop(xs)));
    it('complex: b.re and b.im of different shapes is a ShapeError', () =>
      expectThrows(ctx, [[3], [3], [2, 4, 3], [1, 4, 3]], (...xs) => cop(xs)));
    it('complex: h0.re and h0.im of different shapes is a ShapeError', () =>
      expectThrows(ctx, [[3], [3], [2, 4, 3], [2, 4, 3], [2, 3], [3]], (...xs) => cop(xs)));
    it('complex: b of rank 2 is a ShapeError', () =>
      expectThrows(ctx, [[3], [3], [4, 3], [4, 3]], (...xs) => cop(xs)));
    it('complex: λ not broadcastable against b is a ShapeError', () =>
      expectThrows(
        ctx,
        [
          [5, 3],
          [5, 3],
          [2, 4, 3],
          [2, 4, 3],
        ],
        (...xs) => cop(xs),
      ));
    it('complex: h0 of the wrong shape is a ShapeError', () =>
      expectThrows(ctx, [[3], [3], [2, 4, 3], [2, 4, 3], [2, 4], [2, 4]], (...xs) => cop(xs)));
  });
}
