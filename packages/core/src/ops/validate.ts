/**
 * Argument checks at the public boundary of the ops. TypeScript types vanish at run time, and a
 * JavaScript caller (or a config read from disk) can pass anything: a string where a shape belongs,
 * `null` for an axis, an unknown dtype name, a size no typed array can hold. Each check here turns
 * such a call into a typed error naming the op and the offending value before any kernel runs or any
 * buffer is allocated, instead of a `TypeError` from deep inside, a silent NaN or a wrong shape.
 */
import type { Backend } from '../backend.js';
import { DTYPES, type DType } from '../dtype.js';
import { DTypeError, ShapeError, ValueError } from '../errors.js';
import { Tensor } from '../tensor.js';

/**
 * The most elements one tensor may have: 2^32 - 1. Typed arrays cannot be longer on every engine,
 * WebGPU buffer sizes and kernel indices are 32-bit, and a size past this is always a mistake on the
 * machines mru targets; refusing it up front keeps a bad size from becoming a multi-GiB allocation
 * or a `RangeError` from the engine.
 */
export const MAX_ELEMENTS = 2 ** 32 - 1;

/**
 * A short description of any value for an error message. Never throws, whatever it is given: a
 * symbol, an object whose `toString` throws, or a cyclic structure must still produce a message.
 */
export function describeValue(v: unknown): string {
  try {
    if (v === null) return 'null';
    if (v === undefined) return 'undefined';
    if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}' (a string)`;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    if (typeof v === 'symbol') return v.toString();
    if (typeof v === 'function') return 'a function';
    if (v instanceof Tensor) return `a ${v.dtype}[${v.shape.join(',')}] tensor`;
    if (Array.isArray(v)) {
      const items = v.slice(0, 8).map((x) => (typeof x === 'string' ? `'${x}'` : describeValue(x)));
      return `[${items.join(',')}${v.length > 8 ? ',...' : ''}]`;
    }
    if (typeof (v as { then?: unknown }).then === 'function') return 'a Promise';
    const name = (v as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  } catch {
    return 'an unprintable value';
  }
}

/** Throws a `ShapeError` unless `shape` has at most `MAX_ELEMENTS` elements; returns the count. */
export function checkSize(op: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (n > MAX_ELEMENTS) {
    throw new ShapeError(
      op,
      `shape [${shape.join(',')}] has ${n} elements; a tensor holds at most 2^32 - 1 = ${MAX_ELEMENTS}`,
    );
  }
  return n;
}

/**
 * Checks a shape argument: an array of non-negative integers (and, with `allowInfer`, one `-1`),
 * whose size a tensor can hold. Returns it as a plain array.
 */
export function checkShapeArg(op: string, shape: unknown, what = 'shape', allowInfer = false): number[] {
  if (!Array.isArray(shape)) {
    throw new ShapeError(
      op,
      `${what} must be an array of non-negative integers, got ${describeValue(shape)}`,
    );
  }
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || (d < 0 && !(allowInfer && d === -1))) {
      throw new ShapeError(
        op,
        `${what} ${describeValue(shape)} has the dimension ${describeValue(d)}; dimensions are non-negative integers${allowInfer ? ' (or one -1)' : ''}`,
      );
    }
  }
  if (!allowInfer || !shape.includes(-1)) checkSize(op, shape);
  return [...shape];
}

/** Throws a `DTypeError` unless `dtype` is undefined or one of the dtype names. */
export function checkDTypeArg(op: string, dtype: unknown): DType | undefined {
  if (dtype === undefined) return undefined;
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new DTypeError(op, `unknown dtype ${describeValue(dtype)}; the dtypes are ${DTYPES.join(', ')}`);
  }
  return dtype as DType;
}

/** Throws unless `x` is a `Tensor` (a `DTypeError` naming the argument and what it got). */
export function checkTensorArg(op: string, x: unknown, what = 'the argument'): Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${what} must be a Tensor, got ${describeValue(x)}`);
  return x;
}

/** Throws unless `x` is a tensor or a finite-or-infinite JS number (NaN is a number too). */
export function checkTensorLikeArg(op: string, x: unknown, what: string): void {
  if (!(x instanceof Tensor) && typeof x !== 'number') {
    throw new DTypeError(op, `${what} must be a Tensor or a number, got ${describeValue(x)}`);
  }
}

/** Throws unless `xs` is a non-empty array of tensors. */
export function checkTensorList(op: string, xs: unknown): Tensor[] {
  if (!Array.isArray(xs)) {
    throw new ValueError(op, `expects an array of tensors, got ${describeValue(xs)}`);
  }
  if (xs.length === 0) throw new ValueError(op, 'needs at least one tensor');
  xs.forEach((x, i) => {
    checkTensorArg(op, x, `element ${i} of the list`);
  });
  return xs;
}

/** Throws unless `axes` is undefined, an integer-valued number, or an array of them. */
export function checkAxesArg(op: string, axes: unknown): void {
  if (axes === undefined) return;
  const ok = (a: unknown) => typeof a === 'number' && Number.isInteger(a);
  if (ok(axes) || (Array.isArray(axes) && axes.every(ok))) return;
  throw new ValueError(op, `axes must be an integer or an array of integers, got ${describeValue(axes)}`);
}

/** Throws unless `axis` is an integer (used where one axis is meant). */
export function checkAxisArg(op: string, axis: unknown, what = 'axis'): void {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new ValueError(op, `${what} must be an integer, got ${describeValue(axis)}`);
  }
}

/** Throws unless `v` is an integer array (or, with `optional`, undefined). */
export function checkIntArrayArg(op: string, v: unknown, what: string, optional = false): void {
  if (optional && v === undefined) return;
  if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' && Number.isInteger(d))) {
    throw new ValueError(op, `${what} must be an array of integers, got ${describeValue(v)}`);
  }
}

/** Throws unless `v` is a number (NaN and infinities included: ops define their meaning). */
export function checkNumberArg(op: string, v: unknown, what: string): number {
  if (typeof v !== 'number') throw new ValueError(op, `${what} must be a number, got ${describeValue(v)}`);
  return v;
}

/** Throws unless `v` is a finite number. */
export function checkFiniteArg(op: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ValueError(op, `${what} must be a finite number, got ${describeValue(v)}`);
  }
  return v;
}

/** Throws unless `v` is undefined or a plain options object (not null, an array or a tensor). */
export function checkOptionsArg(op: string, v: unknown): void {
  if (v === undefined) return;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Tensor) {
    throw new ValueError(op, `options must be an object, got ${describeValue(v)}`);
  }
}

/** The members every backend has (see `Backend`); used to refuse something that is not one. */
const BACKEND_METHODS = ['write', 'fill', 'read', 'free', 'memory', 'unary', 'binary', 'reduce'] as const;

/** Throws a `ValueError` unless `b` looks like a `Backend` (a name and the storage and kernel methods). */
export function checkBackendArg(op: string, b: unknown): Backend {
  const o = b as Record<string, unknown> | null;
  const missing =
    o === null || typeof o !== 'object'
      ? ['name', ...BACKEND_METHODS]
      : [
          ...(typeof o.name === 'string' ? [] : ['name']),
          ...BACKEND_METHODS.filter((m) => typeof o[m] !== 'function'),
        ];
  if (missing.length > 0) {
    throw new ValueError(
      op,
      `expects a registered backend name or a Backend object, got ${describeValue(b)} (missing: ${missing.join(', ')})`,
    );
  }
  return b as Backend;
}
