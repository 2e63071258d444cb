/** The element types mru tensors can hold, and the typed arrays that store them on the host. */
import { DTypeError } from './errors.js';

/**
 * Element type of a tensor. `bool` is stored as one byte per element (0 or 1).
 *
 * @category Shapes and dtypes
 */
export type DType = 'float32' | 'int32' | 'bool';

/**
 * The host typed array that holds the values of a tensor of the given dtype.
 *
 * @category Shapes and dtypes
 */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : Uint8Array;

/**
 * Any of the host typed arrays used for tensor data.
 *
 * @category Shapes and dtypes
 */
export type TypedArray = Float32Array | Int32Array | Uint8Array;

/**
 * All dtypes, in promotion order.
 *
 * @category Shapes and dtypes
 */
export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32'];

/**
 * Bytes per element of each dtype (what backends count in `memory()`).
 *
 * @param dtype - The dtype.
 * @category Shapes and dtypes
 */
export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'bool':
      return 1;
  }
}

/**
 * Allocates a zeroed typed array of `size` elements for `dtype`.
 *
 * @param dtype - The dtype.
 * @param size - The number of elements.
 * @category Shapes and dtypes
 */
export function allocHost(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/**
 * The dtype whose host storage is the given typed array.
 *
 * @param a - A typed array.
 * @category Shapes and dtypes
 */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  throw new DTypeError(
    'dtypeOfArray',
    `${(a as object).constructor.name} is not a tensor storage type (Float32Array, Int32Array, Uint8Array)`,
  );
}

/**
 * True for dtypes that carry gradients.
 *
 * @param dtype - The dtype.
 * @category Shapes and dtypes
 */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32';
}
