/**
 * The Tensor handle: an immutable view of a backend buffer with a shape and a dtype.
 *
 * Ops never mutate a tensor; they return new ones. A tensor is released with `dispose()` or by the
 * `tidy` scope it was created in. Reading values back is asynchronous (`await t.data()`), because a
 * GPU backend must wait for the device; `dataSync()` works only where the backend can read
 * synchronously (CPU) and otherwise throws a `BackendError`.
 */
import type { Backend, DataId, KernelTensor } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { assertLive, disposeTensor, type Storage, type Tape } from './engine.js';
import { BackendError, ShapeError } from './errors.js';
import { sizeOf } from './shape.js';

/**
 * A nested JS array of numbers or booleans, as returned by `array()`.
 *
 * @category Tensors
 */
export type NestedArray = number | boolean | NestedArray[];

let nextTensorId = 0;

/**
 * An n-dimensional array of `float32`, `int32` or `bool` values living on a backend.
 *
 * @category Tensors
 */
export class Tensor implements KernelTensor {
  /** The dimensions, row-major. Rank 0 (a scalar) has shape `[]`. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Unique id, for debugging and leak reports. */
  readonly tensorId: number = nextTensorId++;
  /** @internal */
  readonly storage: Storage;
  /** @internal set by `keep()`. */
  kept = false;
  /** @internal the tape this tensor was created under, while it is open. */
  ownerTape: Tape | null = null;
  /** @internal disposal requested while the owning tape was open. */
  pendingDispose = false;
  #disposed = false;

  /** @internal Tensors are made by ops and creation functions, never with `new`. */
  constructor(storage: Storage, shape: readonly number[], dtype: DType) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
  }

  /** The backend holding the values. */
  get backend(): Backend {
    return this.storage.backend;
  }
  /** The backend buffer (for backend authors). */
  get id(): DataId {
    assertLive('Tensor.id', this);
    return this.storage.id;
  }
  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }
  /** True once `dispose()` has released this tensor. */
  get isDisposed(): boolean {
    return this.#disposed;
  }
  /** @internal */
  markDisposed(): void {
    this.#disposed = true;
  }

  /** Reads the values to the host, row-major, as a fresh typed array. */
  async data(): Promise<TypedArray> {
    assertLive('Tensor.data', this);
    return this.backend.read(this);
  }

  /** Reads the values synchronously; only on backends that support it (CPU). */
  dataSync(): TypedArray {
    assertLive('Tensor.dataSync', this);
    const b = this.backend;
    if (!b.readSync) {
      throw new BackendError(
        'Tensor.dataSync',
        `backend '${b.name}' cannot read synchronously; use \`await tensor.data()\``,
      );
    }
    return b.readSync(this);
  }

  /** The values as nested JS arrays (booleans for bool tensors). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype);
  }

  /** `array()`, synchronously (CPU). */
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype);
  }

  /** The single value of a one-element tensor, synchronously (CPU). */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError(
        'Tensor.item',
        `tensor of shape [${this.shape.join(',')}] has ${this.size} elements, not 1`,
      );
    return this.dataSync()[0];
  }

  /** Releases this tensor's hold on its buffer. Safe to call twice. */
  dispose(): void {
    disposeTensor(this);
  }

  /** A short description: shape, dtype and backend. */
  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(',')}] on ${this.backend.name}${this.#disposed ? ', disposed' : ''})`;
  }
}

function nest(flat: TypedArray, shape: readonly number[], dtype: DType): NestedArray {
  const conv = (v: number): number | boolean => (dtype === 'bool' ? v !== 0 : v);
  if (shape.length === 0) return conv(flat[0]);
  const rec = (dim: number, base: number): NestedArray[] => {
    const n = shape[dim];
    const stride = sizeOf(shape.slice(dim + 1));
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = dim === shape.length - 1 ? conv(flat[base + i]) : rec(dim + 1, base + i * stride);
    }
    return out;
  };
  return rec(0, 0);
}
