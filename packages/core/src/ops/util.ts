/** Helpers shared by the op files: operand checks, wrapping kernel outputs, scalars, unbroadcasting. */
import type { Backend, DataId } from '../backend.js';
import type { DType } from '../dtype.js';
import { adopt, assertLive, getBackend } from '../engine.js';
import { BackendError, DTypeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { describeValue } from './validate.js';

/**
 * A tensor or a JS number (taking the dtype of the tensor operand it meets).
 *
 * @category Arithmetic
 */
export type TensorLike = Tensor | number;

/** Wraps a kernel output. */
export function wrap(backend: Backend, id: DataId, shape: readonly number[], dtype: DType): Tensor {
  return adopt(backend, id, shape, dtype);
}

/** Checks operands are live tensors of one backend; returns that backend. */
export function backendOf(op: string, ...xs: Tensor[]): Backend {
  let b: Backend | null = null;
  for (const x of xs) {
    if (!(x instanceof Tensor)) throw new DTypeError(op, `expected a Tensor, got ${describeValue(x)}`);
    assertLive(op, x);
    if (b && x.backend !== b) {
      throw new BackendError(
        op,
        `tensors on two backends meet: ${b.name} and ${x.backend.name} (shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')}); move one with toBackend()`,
      );
    }
    b = x.backend;
  }
  return b ?? getBackend();
}

/** Throws a `DTypeError` unless every tensor has one of `allowed`. */
export function checkDType(op: string, allowed: readonly DType[], ...xs: Tensor[]): void {
  for (const x of xs) {
    // A non-tensor here (`where(true, ...)`) must not reach the message builder below.
    if (!(x instanceof Tensor)) throw new DTypeError(op, `expected a Tensor, got ${describeValue(x)}`);
    if (!allowed.includes(x.dtype)) {
      throw new DTypeError(op, `expected ${allowed.join(' or ')}, got ${x.dtype}${fmtShape(x.shape)}`);
    }
  }
}

/** Throws a `DTypeError` unless both tensors share a dtype. */
export function checkSameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeError(
      op,
      `dtypes differ: ${a.dtype}${fmtShape(a.shape)} and ${b.dtype}${fmtShape(b.shape)}; cast one with cast()`,
    );
  }
}

/**
 * A rank-0 tensor on `backend` for a JS number operand of `op`. A number that the dtype cannot hold
 * exactly (2.5 meeting int32, 2 meeting bool) is a `DTypeError`, never a silent truncation.
 */
export function scalarOn(backend: Backend, value: number, dtype: DType, op = 'scalar'): Tensor {
  scalarCheck(op, value, dtype);
  return adopt(backend, backend.fill(1, dtype, value), [], dtype);
}

/**
 * Throws the `DTypeError` of a number that `dtype` cannot hold exactly (2.5 meeting int32, 2 meeting
 * bool): never a silent truncation.
 */
export function scalarCheck(op: string, value: number, dtype: DType): void {
  if ((dtype === 'int32' && !Number.isInteger(value)) || (dtype === 'bool' && value !== 0 && value !== 1)) {
    throw new DTypeError(
      op,
      `the number ${value} cannot meet a ${dtype} tensor without rounding; cast one side`,
    );
  }
}

/** Turns a pair of tensor-or-number operands into two tensors on one backend and dtype. */
export function pair(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') {
    const be = getBackend();
    return [scalarOn(be, a, 'float32'), scalarOn(be, b, 'float32')];
  }
  if (typeof a === 'number') {
    const bb = b as Tensor;
    return [scalarOn(backendOf(op, bb), a, bb.dtype, op), bb];
  }
  if (typeof b === 'number') return [a, scalarOn(backendOf(op, a), b, a.dtype, op)];
  backendOf(op, a, b);
  return [a, b];
}
