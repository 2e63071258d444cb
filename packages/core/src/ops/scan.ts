/**
 * The scan: the diagonal linear recurrence `h_t = a_t * h_{t-1} + b_t` along time, real and complex,
 * forward and reverse. Every memory recurrent unit (BMRU, CMRU, FQ-BMRU), the LRU and minGRU reduce
 * to it, which is what lets them train in parallel.
 *
 * Adjoint. With `g_t = dL/dh_t`, the cotangent flowing back into the state,
 * `u_t = g_t + a_{t+1} u_{t+1}`, is itself a scan run in the opposite direction over `a` shifted by
 * one step; then `dL/db_t = u_t`, `dL/da_t = u_t * h_{t-1}` and `dL/dh0 = a_1 u_1` (1-based, as in
 * DESIGN.md). In the complex case the backward scan runs over `conj(a)` and
 * `dL/da_t = u_t * conj(h_{t-1})` (the convention `dL/dz = dL/dRe z + i dL/dIm z` for a real loss), so
 * one primitive serves both directions of training.
 */
import type { KernelTensor } from '../backend.js';
import { record, tidy as scoped } from '../engine.js';
import { DTypeError, fmtShape, ShapeError } from '../errors.js';
import { shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { add, mul, neg, sub } from './elementwise.js';
import { broadcastTo, concat, pad, reshape, slice, unbroadcast } from './movement.js';
import { backendOf, wrap } from './util.js';
import { checkOptionsArg, describeValue } from './validate.js';

/**
 * Options of `scan` and `scanComplex`.
 *
 * @category Scan
 */
export interface ScanOptions<H = Tensor> {
  /** Initial state, `[batch, channels]` (or broadcastable to it, e.g. `[channels]`); default zeros. */
  readonly h0?: H;
  /** Run from the last step to the first: `h_t = a_t * h_{t+1} + b_t`. */
  readonly reverse?: boolean;
}

/**
 * A complex tensor as its real and imaginary parts, of equal shapes.
 *
 * @category Scan
 */
export interface Complex {
  /** Real part. */
  readonly re: Tensor;
  /** Imaginary part. */
  readonly im: Tensor;
}

/** Checked geometry of one scan call. */
interface Geometry {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  /** `a` viewed as rank 3 `[Ba, Ta, C]`. */
  readonly a3: Tensor;
  /** `h0` broadcast to `[B, C]`, or null. */
  readonly h0: Tensor | null;
}

/** Checks dtypes and shapes of one scan call without creating any tensor; returns `a`'s rank-3 shape. */
function checkScan(op: string, a: Tensor, b: Tensor, h0: Tensor | undefined): number[] {
  for (const [name, t] of [
    ['a', a],
    ['b', b],
    ['h0', h0],
  ] as const) {
    if (t && t.dtype !== 'float32')
      throw new DTypeError(op, `${name} must be float32, got ${t.dtype}${fmtShape(t.shape)}`);
  }
  // Every check runs before any view is made, so a bad call allocates nothing.
  if (b.rank !== 3) throw new ShapeError(op, `b must be [batch, time, channels], got ${fmtShape(b.shape)}`);
  const [B, T, C] = b.shape;
  if (a.rank < 1 || a.rank > 3) {
    throw new ShapeError(
      op,
      `a must be [channels], [time, channels] or [batch, time, channels], got ${fmtShape(a.shape)}`,
    );
  }
  const shape3 = [...new Array<number>(3 - a.rank).fill(1), ...a.shape];
  const [Ba, Ta, Ca] = shape3;
  if (Ca !== C || (Ba !== 1 && Ba !== B) || (Ta !== 1 && Ta !== T)) {
    throw new ShapeError(op, `a ${fmtShape(a.shape)} does not broadcast against b ${fmtShape(b.shape)}`);
  }
  if (
    h0 &&
    (h0.rank > 2 ||
      (h0.rank >= 1 && h0.shape[h0.rank - 1] !== C) ||
      (h0.rank === 2 && h0.shape[0] !== B && h0.shape[0] !== 1))
  ) {
    throw new ShapeError(
      op,
      `h0 ${fmtShape(h0.shape)} does not broadcast to [batch, channels] = ${fmtShape([B, C])}`,
    );
  }
  return shape3;
}

/** Checks one scan call, then views `a` as rank 3 and broadcasts `h0` to `[B, C]`. */
function geometry(op: string, a: Tensor, b: Tensor, h0: Tensor | undefined): Geometry {
  const shape3 = checkScan(op, a, b, h0);
  const [B, T, C] = b.shape;
  const a3 = a.rank === 3 ? a : reshape(a, shape3);
  const h = h0 ? (shapesEqual(h0.shape, [B, C]) ? h0 : broadcastTo(h0, [B, C])) : null;
  return { B, T, C, a3, h0: h };
}

/** `a` shifted one step against the direction of the scan, as the backward scan needs it. */
function shiftForAdjoint(a3: Tensor, reverse: boolean): Tensor {
  const Ta = a3.shape[1];
  if (Ta <= 1) return a3;
  // Forward: u_t = g_t + a_{t+1} u_{t+1}; the coefficient at the last step multiplies zero.
  return reverse
    ? pad(
        slice(a3, [0, 0], [null, Ta - 1]),
        [
          [0, 0],
          [1, 0],
          [0, 0],
        ],
        0,
      )
    : pad(
        slice(a3, [0, 1]),
        [
          [0, 0],
          [0, 1],
          [0, 0],
        ],
        0,
      );
}

/** The state one step before each `h_t` in the direction of the scan (`h0` or 0 at the boundary). */
function previousStates(h: Tensor, h0: Tensor | null, reverse: boolean): Tensor {
  const [B, T, C] = h.shape;
  const edge = h0 ? reshape(h0, [B, 1, C]) : zeros([B, 1, C], { backend: h.backend });
  if (T === 0) return h;
  return reverse ? concat([slice(h, [0, 1]), edge], 1) : concat([edge, slice(h, [0, 0], [null, T - 1])], 1);
}

/** The step at which the scan starts (0 forward, T-1 reverse), as `[B, C]`. */
function firstStep(x: Tensor, reverse: boolean): Tensor {
  const t = reverse ? x.shape[1] - 1 : 0;
  const s = slice(x, [0, t], [null, t + 1]);
  return reshape(s, [s.shape[0], s.shape[2]]);
}

/**
 * The diagonal linear recurrence along the time axis, independently for every batch row and channel:
 *
 *     h_t = a_t * h_{t-1} + b_t     for t = 0 .. T-1, with h_{-1} = h0 (default zeros)
 *
 * With `reverse`, time runs backwards: `h_t = a_t * h_{t+1} + b_t` for t = T-1 .. 0, with `h_T = h0`.
 *
 * Shapes: `b` is `[batch, time, channels]` (`[B, T, C]`); `a` is `[C]`, `[T, C]` or `[Ba, Ta, C]`
 * with `Ba` in {1, B} and `Ta` in {1, T} (missing leading dims and size-1 dims broadcast, e.g. a
 * time-invariant decay `[C]`); `h0` is `[B, C]` or broadcastable to it (`[C]`, `[1, C]`). Returns every
 * state `h`, `[B, T, C]`, float32; `T = 0` gives `[B, 0, C]`. All operands must be float32
 * (`DTypeError`); shapes that do not fit raise a `ShapeError` before any work is done.
 *
 * Differentiable in `a`, `b` and `h0`. The adjoint is a scan in the opposite direction: with
 * `g_t = dL/dh_t`, `u_t = g_t + a_{t+1} u_{t+1}`, then `dL/db_t = u_t`, `dL/da_t = u_t h_{t-1}`
 * (summed over the axes `a` broadcasts along) and `dL/dh0 = a_0 u_0`.
 *
 * ```ts
 * const h = scan(tensor([0.5]), tensor([[[1], [1], [1]]]));   // [[[1], [1.5], [1.75]]]
 * ```
 *
 * @param a - The decay coefficients: `[C]`, `[T, C]` or `[B or 1, T or 1, C]`, broadcast against `b`.
 * @param b - The inputs, `[B, T, C]`.
 * @param options - The initial state `h0` and the direction (`reverse`).
 * @category Scan
 */
export function scan(a: Tensor, b: Tensor, options: ScanOptions = {}): Tensor {
  return scoped(() => {
    const op = 'scan';
    checkOptionsArg(op, options);
    const be = backendOf(op, a, b, ...(options.h0 ? [options.h0] : []));
    const reverse = options.reverse ?? false;
    const { B, T, C, a3, h0 } = geometry(op, a, b, options.h0);
    const h = wrap(be, be.scan({ a: a3, x: b, h0, reverse }), [B, T, C], 'float32');
    const inputs = options.h0 ? [a, b, options.h0] : [a, b];
    record(op, inputs, [h], ([g]) => {
      const u = scan(shiftForAdjoint(a3, reverse), g as Tensor, { reverse: !reverse });
      const da = unbroadcast(mul(u, previousStates(h, h0, reverse)), a3.shape);
      const grads: (Tensor | null)[] = [reshape(da, a.shape), u];
      if (options.h0) {
        // With no time step, h0 reaches no output (and there is no first step to slice).
        const dh0 =
          T === 0
            ? zeros([B, C], { backend: be })
            : mul(broadcastTo(firstStep(a3, reverse), [B, C]), firstStep(u, reverse));
        grads.push(unbroadcast(dh0, options.h0.shape));
      }
      return grads;
    });
    return h;
  });
}

/** Refuses anything but a `{ re, im }` pair of tensors before its parts are read. */
function checkComplexArg(op: string, name: string, z: unknown): void {
  const o = z as Partial<Complex> | null;
  if (o === null || typeof o !== 'object' || !(o.re instanceof Tensor) || !(o.im instanceof Tensor)) {
    throw new DTypeError(op, `${name} must be a { re, im } pair of tensors, got ${describeValue(z)}`);
  }
}

function checkComplex(op: string, name: string, z: Complex): void {
  if (!shapesEqual(z.re.shape, z.im.shape)) {
    throw new ShapeError(
      op,
      `${name}.re ${fmtShape(z.re.shape)} and ${name}.im ${fmtShape(z.im.shape)} differ`,
    );
  }
}

/**
 * The complex form of `scan`, for the LRU's `h_t = λ_t h_{t-1} + b_t` with complex `λ` (complex
 * multiplication; `reverse` and `h0` as in `scan`). Each complex operand is a pair of real tensors
 * `{ re, im }` whose two parts have equal shapes (`ShapeError` otherwise); `a` and `h0` broadcast as in
 * `scan` and `b` is `[B, T, C]`. Returns `{ re, im }`, each `[B, T, C]`.
 *
 * Differentiable in every part of `a`, `b` and `h0`. For a real loss, with the convention
 * `dL/dz = dL/dRe z + i dL/dIm z`, the adjoint is the complex scan over `conj(a)` in the opposite
 * direction: `u_t = g_t + conj(a_{t+1}) u_{t+1}`, `dL/db_t = u_t`, `dL/da_t = u_t conj(h_{t-1})`,
 * `dL/dh0 = conj(a_0) u_0`; the real and imaginary parts of each are the gradients of the parts.
 *
 * ```ts
 * // λ = i rotates an impulse by 90 degrees a step: re [1, 0, -1, 0], im [0, 1, 0, -1].
 * const lambda = { re: tensor([0]), im: tensor([1]) };
 * const h = scanComplex(lambda, { re: tensor([[[1], [0], [0], [0]]]), im: zeros([1, 4, 1]) });
 * ```
 *
 * @param a - The complex coefficients as `{ re, im }`, shaped as for `scan`.
 * @param b - The complex inputs as `{ re, im }`, each `[B, T, C]`.
 * @param options - The complex initial state `h0` and the direction (`reverse`).
 * @category Scan
 */
export function scanComplex(a: Complex, b: Complex, options: ScanOptions<Complex> = {}): Complex {
  return scoped(() => {
    const op = 'scanComplex';
    checkOptionsArg(op, options);
    checkComplexArg(op, 'a', a);
    checkComplexArg(op, 'b', b);
    if (options.h0 !== undefined) checkComplexArg(op, 'h0', options.h0);
    const h0in = options.h0;
    const be = backendOf(op, a.re, a.im, b.re, b.im, ...(h0in ? [h0in.re, h0in.im] : []));
    checkComplex(op, 'a', a);
    checkComplex(op, 'b', b);
    if (h0in) checkComplex(op, 'h0', h0in);
    const reverse = options.reverse ?? false;
    // Both parts are checked before either is viewed, so a bad call allocates nothing.
    checkScan(op, a.re, b.re, h0in?.re);
    checkScan(op, a.im, b.im, h0in?.im);
    const gRe = geometry(op, a.re, b.re, h0in?.re);
    const gIm = geometry(op, a.im, b.im, h0in?.im);
    const { B, T, C } = gRe;
    const args = {
      aRe: gRe.a3 as KernelTensor,
      aIm: gIm.a3 as KernelTensor,
      xRe: b.re as KernelTensor,
      xIm: b.im as KernelTensor,
      h0Re: gRe.h0 as KernelTensor | null,
      h0Im: gIm.h0 as KernelTensor | null,
      reverse,
    };
    const [idRe, idIm] = be.scanComplex(args);
    const hRe = wrap(be, idRe, [B, T, C], 'float32');
    const hIm = wrap(be, idIm, [B, T, C], 'float32');
    const inputs = [a.re, a.im, b.re, b.im, ...(h0in ? [h0in.re, h0in.im] : [])];
    record(op, inputs, [hRe, hIm], ([g1, g2]) => {
      const gr = g1 ?? zeros([B, T, C], { backend: be });
      const gi = g2 ?? zeros([B, T, C], { backend: be });
      // Backward scan over conj(a), shifted against the direction of the forward scan.
      const u = scanComplex(
        { re: shiftForAdjoint(gRe.a3, reverse), im: neg(shiftForAdjoint(gIm.a3, reverse)) },
        { re: gr, im: gi },
        { reverse: !reverse },
      );
      const pRe = previousStates(hRe, gRe.h0, reverse);
      const pIm = previousStates(hIm, gIm.h0, reverse);
      // u * conj(hPrev)
      const daRe = add(mul(u.re, pRe), mul(u.im, pIm));
      const daIm = sub(mul(u.im, pRe), mul(u.re, pIm));
      const grads: (Tensor | null)[] = [
        reshape(unbroadcast(daRe, gRe.a3.shape), a.re.shape),
        reshape(unbroadcast(daIm, gIm.a3.shape), a.im.shape),
        u.re,
        u.im,
      ];
      if (h0in && T === 0) {
        // With no time step, h0 reaches no output (and there is no first step to slice).
        grads.push(zeros(h0in.re.shape, { backend: be }), zeros(h0in.im.shape, { backend: be }));
      } else if (h0in) {
        // conj(a_first) * u_first
        const ar = broadcastTo(firstStep(gRe.a3, reverse), [B, C]);
        const ai = broadcastTo(firstStep(gIm.a3, reverse), [B, C]);
        const ur = firstStep(u.re, reverse);
        const ui = firstStep(u.im, reverse);
        grads.push(unbroadcast(add(mul(ar, ur), mul(ai, ui)), h0in.re.shape));
        grads.push(unbroadcast(sub(mul(ar, ui), mul(ai, ur)), h0in.im.shape));
      }
      return grads;
    });
    return { re: hRe, im: hIm };
  });
}
