/**
 * Elementwise ops: the unary and binary primitives with their VJPs, `where`, comparisons, and the
 * elementwise composites (relu, gelu, softplus, clamp...). A VJP of a broadcasting binary op sums the
 * cotangent back to each operand's shape (`unbroadcast`, in movement.ts).
 */
import type { BinaryOp, UnaryOp } from '../backend.js';
import type { DType } from '../dtype.js';
import { record, tidy as scoped } from '../engine.js';
import { fmtShape, ValueError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import { Tensor } from '../tensor.js';
import { type Expr, type ExprLike, fuse } from './fuse.js';
import { unbroadcast } from './movement.js';
import {
  backendOf,
  checkDType,
  checkSameDType,
  pair,
  scalarCheck,
  scalarOn,
  type TensorLike,
  wrap,
} from './util.js';
import { checkSize, checkTensorArg, checkTensorLikeArg, describeValue } from './validate.js';

const FLOAT: readonly DType[] = ['float32'];
const NUMERIC: readonly DType[] = ['float32', 'int32'];

function unary(
  op: UnaryOp,
  x: Tensor,
  allowed: readonly DType[],
  vjp?: (g: Tensor, x: Tensor, y: Tensor) => Tensor,
): Tensor {
  const b = backendOf(op, x);
  checkDType(op, allowed, x);
  const y = wrap(b, b.unary(op, x), x.shape, x.dtype);
  if (vjp) record(op, [x], [y], ([g]) => [vjp(g as Tensor, x, y)]);
  return y;
}

/**
 * Disposes the rank-0 tensors made from JS number operands once the kernel has them, so that
 * `mul(x, 2)` outside `tidy` leaves nothing behind (a VJP that needs one keeps it: disposal of a tensor
 * made under an open tape waits for the tape to close).
 */
/** Whether `t` is a live tensor whose backend compiles fused programs. */
function fusable(t: TensorLike): boolean {
  return t instanceof Tensor && !t.isDisposed && t.backend.elementwise !== undefined;
}

function releaseScalars(given: readonly TensorLike[], made: readonly Tensor[]): void {
  given.forEach((g, i) => {
    if (typeof g === 'number') made[i].dispose();
  });
}

function binary(
  op: BinaryOp,
  a: TensorLike,
  b: TensorLike,
  allowed: readonly DType[],
  outDType: DType | null,
  vjp?: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null],
): Tensor {
  checkTensorLikeArg(op, a, 'the first operand');
  checkTensorLikeArg(op, b, 'the second operand');
  // A JS number meeting a tensor is a kernel parameter where the backend compiles programs: one
  // kernel, no fill and no rank-0 buffer.
  if (typeof a === 'number' ? b instanceof Tensor && fusable(b) : typeof b === 'number' && fusable(a)) {
    const t = (typeof a === 'number' ? b : a) as Tensor;
    checkDType(op, allowed, t);
    scalarCheck(op, typeof a === 'number' ? a : (b as number), t.dtype);
    return fuse((e, x) => e.binary(op, typeof a === 'number' ? a : x, typeof b === 'number' ? b : x), {
      name: op,
    })(t);
  }
  const [x, z] = pair(op, a, b);
  // Released on every path: a check that throws (`lt(boolTensor, 1)`) must not leak the scalar.
  try {
    checkSameDType(op, x, z);
    checkDType(op, allowed, x);
    const be = backendOf(op, x, z);
    const shape = broadcastShapes(op, x.shape, z.shape);
    checkSize(op, shape);
    const y = wrap(be, be.binary(op, x, z, shape), shape, outDType ?? x.dtype);
    if (vjp) {
      record(op, [x, z], [y], ([g]) => {
        const [ga, gb] = vjp(g as Tensor, x, z, y);
        return [ga && unbroadcast(ga, x.shape), gb && unbroadcast(gb, z.shape)];
      });
    }
    return y;
  } finally {
    releaseScalars([a, b], [x, z]);
  }
}

/**
 * `-x`.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const neg = (x: Tensor): Tensor => unary('neg', x, NUMERIC, (g) => neg(g));
/**
 * `|x|`; its gradient at 0 is 0.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const abs = (x: Tensor): Tensor => unary('abs', x, NUMERIC, (g, x) => mul(g, sign(x)));
/**
 * -1, 0 or 1 by the sign of `x` (no gradient).
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const sign = (x: Tensor): Tensor => unary('sign', x, NUMERIC);
/**
 * `e^x`.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const exp = (x: Tensor): Tensor => unary('exp', x, FLOAT, (g, _x, y) => mul(g, y));
/**
 * Natural logarithm.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const log = (x: Tensor): Tensor => unary('log', x, FLOAT, (g, x) => div(g, x));
/**
 * `log(1 + x)`, accurate near 0.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const log1p = (x: Tensor): Tensor => unary('log1p', x, FLOAT, (g, x) => div(g, add(x, 1)));
/**
 * Square root.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, FLOAT, (g, _x, y) => div(g, mul(y, 2)));
/**
 * `1 / sqrt(x)`.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const rsqrt = (x: Tensor): Tensor => scoped(() => div(1, sqrt(x)));
/**
 * Hyperbolic tangent.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const tanh = (x: Tensor): Tensor => unary('tanh', x, FLOAT, (g, _x, y) => mul(g, sub(1, mul(y, y))));
/**
 * Logistic sigmoid `1 / (1 + e^-x)`, stable for large |x|.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const sigmoid = (x: Tensor): Tensor =>
  unary('sigmoid', x, FLOAT, (g, _x, y) => mul(g, mul(y, sub(1, y))));
/**
 * Sine.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const sin = (x: Tensor): Tensor => unary('sin', x, FLOAT, (g, x) => mul(g, cos(x)));
/**
 * Cosine.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const cos = (x: Tensor): Tensor => unary('cos', x, FLOAT, (g, x) => neg(mul(g, sin(x))));
/**
 * Largest integer not above `x` (no gradient).
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const floor = (x: Tensor): Tensor => unary('floor', x, FLOAT);
/**
 * Logical not of a bool tensor.
 *
 * @param x - The input, a bool tensor.
 * @category Arithmetic
 */
export const logicalNot = (x: Tensor): Tensor => unary('not', x, ['bool']);

/**
 * `a + b` with broadcasting.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const add = (a: TensorLike, b: TensorLike): Tensor =>
  binary('add', a, b, NUMERIC, null, (g) => [g, g]);
/**
 * `a - b` with broadcasting.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  binary('sub', a, b, NUMERIC, null, (g) => [g, neg(g)]);
/**
 * `a * b` with broadcasting.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  binary('mul', a, b, NUMERIC, null, (g, a, b) => [mul(g, b), mul(g, a)]);
/**
 * `a / b` with broadcasting (int32 truncates toward zero).
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binary('div', a, b, NUMERIC, null, (g, a, b) => [div(g, b), neg(div(mul(g, a), mul(b, b)))]);
/**
 * `a ** b` (float32); the gradient to `b` is taken as 0 where `a <= 0`.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  binary('pow', a, b, FLOAT, null, (g, a, b, y) => [
    mul(g, mul(b, pow(a, sub(b, 1)))),
    mul(g, where(gt(a, 0), mul(y, log(maximum(a, 1e-30))), 0)),
  ]);
/**
 * Elementwise maximum; ties send the gradient to `a`.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binary('maximum', a, b, NUMERIC, null, (g, a, b) => {
    const m = ge(a, b);
    return [where(m, g, 0), where(m, 0, g)];
  });
/**
 * Elementwise minimum; ties send the gradient to `a`.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binary('minimum', a, b, NUMERIC, null, (g, a, b) => {
    const m = le(a, b);
    return [where(m, g, 0), where(m, 0, g)];
  });

const ALL: readonly DType[] = ['float32', 'int32', 'bool'];
/**
 * `a == b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const equal = (a: TensorLike, b: TensorLike): Tensor => binary('eq', a, b, ALL, 'bool');
/**
 * `a != b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const notEqual = (a: TensorLike, b: TensorLike): Tensor => binary('ne', a, b, ALL, 'bool');
/**
 * `a < b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary('lt', a, b, NUMERIC, 'bool');
/**
 * `a <= b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const le = (a: TensorLike, b: TensorLike): Tensor => binary('le', a, b, NUMERIC, 'bool');
/**
 * `a > b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary('gt', a, b, NUMERIC, 'bool');
/**
 * `a >= b` as bool.
 *
 * @param a - The first operand: a tensor, or a JS number (a scalar of the other operand's dtype).
 * @param b - The second operand: a tensor or a JS number, broadcast against `a` with NumPy's rules.
 * @category Arithmetic
 */
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary('ge', a, b, NUMERIC, 'bool');
/**
 * Logical and of bool tensors.
 *
 * @param a - The first operand, a bool tensor.
 * @param b - The second operand, a bool tensor, broadcast against `a`.
 * @category Arithmetic
 */
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => binary('and', a, b, ['bool'], 'bool');
/**
 * Logical or of bool tensors.
 *
 * @param a - The first operand, a bool tensor.
 * @param b - The second operand, a bool tensor, broadcast against `a`.
 * @category Arithmetic
 */
export const logicalOr = (a: Tensor, b: Tensor): Tensor => binary('or', a, b, ['bool'], 'bool');

/**
 * `cond ? a : b` elementwise with broadcasting; `cond` is bool, `a` and `b` share a dtype.
 *
 * @param cond - A bool tensor: where it is true the result takes `a`, elsewhere `b`.
 * @param a - The values where `cond` is true: a tensor or a JS number.
 * @param b - The values where `cond` is false: a tensor or a JS number of the same dtype as `a`.
 * @category Arithmetic
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const op = 'where';
  checkDType(op, ['bool'], cond);
  checkTensorLikeArg(op, a, 'the second argument');
  checkTensorLikeArg(op, b, 'the third argument');
  const home = backendOf(op, cond);
  if ((typeof a === 'number' || typeof b === 'number') && home.elementwise) {
    const branches = [a, b].filter((v): v is Tensor => typeof v !== 'number');
    backendOf(op, cond, ...branches);
    const dtype = branches[0]?.dtype ?? 'float32';
    for (const v of [a, b]) if (typeof v === 'number') scalarCheck(op, v, dtype);
    if (branches.length === 2) checkSameDType(op, branches[0], branches[1]);
    return fuse(
      (e, c, ...xs) => {
        const it = xs[Symbol.iterator]();
        const pick = (v: TensorLike): ExprLike => (typeof v === 'number' ? v : (it.next().value as Expr));
        const x = pick(a);
        const y = pick(b);
        return e.where(c, x, y);
      },
      { name: op },
    )(cond, ...branches);
  }
  // Scalars made from number operands are released on every path, a failed check included.
  const made: Tensor[] = [];
  try {
    const x = typeof a === 'number' ? scalarOn(home, a, typeof b === 'number' ? 'float32' : b.dtype, op) : a;
    if (x !== a) made.push(x);
    const z = typeof b === 'number' ? scalarOn(home, b, x.dtype, op) : b;
    if (z !== b) made.push(z);
    checkSameDType(op, x, z);
    const be = backendOf(op, cond, x, z);
    const shape = broadcastShapes(op, broadcastShapes(op, cond.shape, x.shape), z.shape);
    checkSize(op, shape);
    const y = wrap(be, be.where(cond, x, z, shape), shape, x.dtype);
    record(op, [cond, x, z], [y], ([g]) => {
      const gg = g as Tensor;
      return [null, unbroadcast(where(cond, gg, 0), x.shape), unbroadcast(where(cond, 0, gg), z.shape)];
    });
    return y;
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * `x * x`.
 *
 * @param x - The input tensor.
 * @category Arithmetic
 */
export const square = (x: Tensor): Tensor => mul(x, x);
/**
 * `max(x, 0)`; the gradient at 0 is 0.
 *
 * @param x - The input tensor.
 * @category Neural network
 */
export const relu = (x: Tensor): Tensor => scoped(() => where(gt(x, 0), x, 0));
/**
 * `log(1 + e^x)`, computed stably: `x + log1p(e^-x)` for `x > 0`, `log1p(e^x)` otherwise. Each branch
 * only sees arguments clipped to its own side (so the unused one never overflows to a NaN gradient),
 * and the gradient is `sigmoid(x)` everywhere, including `0.5` at `x = 0` (a `relu`/`abs` form
 * would give 0 there, where both kinks meet).
 *
 * @param x - The input tensor.
 * @category Neural network
 */
export function softplus(x: Tensor): Tensor {
  return scoped(() => {
    const pos = gt(x, 0);
    return where(pos, add(x, log1p(exp(neg(maximum(x, 0))))), log1p(exp(minimum(x, 0))));
  });
}
/**
 * GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
 *
 * @param x - The input tensor.
 * @category Neural network
 */
export function gelu(x: Tensor): Tensor {
  return scoped(() => {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  });
}
/**
 * Limits `x` to `[lo, hi]`; the gradient is 0 outside.
 *
 * @param x - The input tensor.
 * @param lo - The lower bound.
 * @param hi - The upper bound (at least `lo`).
 * @category Arithmetic
 */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  return scoped(() => {
    checkTensorArg('clamp', x);
    if (typeof lo !== 'number' || typeof hi !== 'number' || !(lo <= hi))
      throw new ValueError(
        'clamp',
        `lo (${describeValue(lo)}) must be a number not exceeding hi (${describeValue(hi)}) for ${x.dtype}${fmtShape(x.shape)}`,
      );
    return minimum(maximum(x, lo), hi);
  });
}
