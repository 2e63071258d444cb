/** Shape arithmetic shared by core and the backends: sizes, strides, broadcasting, axis normalisation. */
import { fmtShape, ShapeError, ValueError } from './errors.js';

/**
 * Number of elements of a shape (1 for rank 0).
 *
 * @param shape - A shape.
 * @category Shapes and dtypes
 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Row-major (C-order) strides of a contiguous tensor of this shape, in elements.
 *
 * @param shape - A shape.
 * @category Shapes and dtypes
 */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Throws unless every dimension is a non-negative integer.
 *
 * @param op - The op to name in the error.
 * @param shape - The shape to validate.
 * @category Shapes and dtypes
 */
export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid shape ${fmtShape(shape)}`);
  }
}

/**
 * The NumPy broadcast of two shapes, or a `ShapeError` naming both.
 *
 * @param op - The op to name in the error.
 * @param a - The first shape.
 * @param b - The second shape.
 * @category Shapes and dtypes
 */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides (in elements) to read a contiguous tensor of shape `shape` as if broadcast to `outShape`:
 * broadcast dimensions get stride 0. `outShape` must be a valid broadcast target of `shape`.
 *
 * @param shape - The shape of the contiguous tensor.
 * @param outShape - The shape it is broadcast to.
 * @category Shapes and dtypes
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const off = outShape.length - shape.length;
  const s = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < shape.length; i++) s[off + i] = shape[i] === 1 ? 0 : own[i];
  return s;
}

/**
 * Normalises a possibly negative axis for a tensor of rank `rank`, or throws a `ValueError`.
 *
 * @param op - The op to name in the error.
 * @param axis - The axis (negative counts from the end).
 * @param rank - The rank of the tensor.
 * @category Shapes and dtypes
 */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ValueError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * Normalises a list of axes (default: all), sorted and without duplicates.
 *
 * @param op - The op to name in the error.
 * @param axes - The axis or axes (negative count from the end; all when omitted).
 * @param rank - The rank of the tensor.
 * @category Shapes and dtypes
 */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new ValueError(op, `repeated axis in [${list.join(',')}]`);
  return out;
}

/**
 * True when two shapes are identical.
 *
 * @param a - The first shape.
 * @param b - The second shape.
 * @category Shapes and dtypes
 */
export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
