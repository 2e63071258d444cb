/**
 * The Tensor handle: an immutable view of a backend buffer with a shape and a dtype.
 *
 * Ops never mutate a tensor; they return new ones. A tensor is released with `dispose()` or by the
 * `tidy` scope it was created in. Reading values back is asynchronous (`await t.data()`,
 * `await t.array()`, `await t.item()`) because a GPU backend must wait for the device; the `*Sync`
 * twins work only where the backend can read synchronously (CPU) and otherwise throw a `BackendError`
 * that names the method called and its async twin.
 */
import type { Backend, DataId, KernelTensor } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { BackendError, ShapeError } from './errors.js';
import { assertLive, disposeTensor, type Storage, type Tape } from './lifecycle.js';
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

  /**
   * Reads the values to the host, row-major, as a fresh typed array. Works on every backend: a GPU
   * backend resolves once the device has copied the buffer back.
   */
  async data(): Promise<TypedArray> {
    assertLive('Tensor.data', this);
    return this.backend.read(this);
  }

  /**
   * `data()`, synchronously. CPU only: works where the backend can read without waiting (the CPU and
   * gpu.js backends) and throws a `BackendError` on a GPU backend (WebGPU); use `await t.data()`.
   */
  dataSync(): TypedArray {
    return this.#readSync('Tensor.dataSync', 'data');
  }

  /** The values as nested JS arrays (booleans for bool tensors), on every backend. */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype);
  }

  /** `array()`, synchronously. CPU only, like `dataSync()`; elsewhere use `await t.array()`. */
  arraySync(): NestedArray {
    return nest(this.#readSync('Tensor.arraySync', 'array'), this.shape, this.dtype);
  }

  /**
   * The single value of a one-element tensor (a bool reads as 0 or 1), on every backend.
   *
   * @throws ShapeError (as a rejected promise) when the tensor has more than one element.
   */
  async item(): Promise<number> {
    this.#checkOneElement('Tensor.item');
    return (await this.data())[0];
  }

  /** `item()`, synchronously. CPU only, like `dataSync()`; elsewhere use `await t.item()`. */
  itemSync(): number {
    this.#checkOneElement('Tensor.itemSync');
    return this.#readSync('Tensor.itemSync', 'item')[0];
  }

  #checkOneElement(op: string): void {
    assertLive(op, this);
    if (this.size !== 1)
      throw new ShapeError(op, `tensor of shape [${this.shape.join(',')}] has ${this.size} elements, not 1`);
  }

  // The error names the method the user called and the async read that works everywhere.
  #readSync(op: string, asyncName: string): TypedArray {
    assertLive(op, this);
    const b = this.backend;
    if (!b.readSync) {
      throw new BackendError(
        op,
        `backend '${b.name}' cannot read synchronously (sync reads are CPU only); use \`await tensor.${asyncName}()\``,
      );
    }
    return b.readSync(this);
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
