/**
 * The backend interface: the whole contract between core and a compute device.
 *
 * Design: core owns shapes, dtypes, broadcasting rules, autograd and memory scopes; a backend owns
 * storage and a small set of primitive kernels. Every tensor op in core is either one of these
 * primitives or a composite of them, so a new backend implements only what is listed here and gets the
 * rest (softmax, layer norm, losses, gradients, models) for free. Each primitive reads contiguous,
 * row-major inputs and writes a fresh contiguous output; broadcasting is described by shapes, and the
 * backend derives strides itself (`broadcastStrides` in core helps). Primitives never receive
 * zero-size work they cannot express: sizes may be 0, in which case the output is an empty buffer.
 *
 * A backend proves it follows this contract by passing the conformance kit in `@mru/core/testing`.
 */
import type { DType, TypedArray } from './dtype.js';

/**
 * Opaque handle to a buffer owned by a backend. Core never looks inside.
 *
 * @category Backend interface
 */
export type DataId = object;

/**
 * What a kernel needs to know about one operand: its buffer, its (contiguous) shape and dtype.
 *
 * @category Backend interface
 */
export interface KernelTensor {
  /** The backend buffer holding the values in row-major order. */
  readonly id: DataId;
  /** The logical shape; the buffer holds exactly `prod(shape)` elements. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
}

/**
 * Elementwise unary primitives. Input and output dtypes are equal, except `not` (bool to bool).
 * Float-only: `exp log log1p sqrt tanh sigmoid sin cos floor`. `neg abs sign` accept float32 and int32.
 * `sign(0) = 0`. `sigmoid` must be computed stably for large |x| (no NaN, saturates to 0 or 1).
 *
 * @category Backend interface
 */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'log1p'
  | 'sqrt'
  | 'tanh'
  | 'sigmoid'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'not';

/**
 * The unary ops defined for float32 only (the others take float32 and int32, or bool for `not`).
 *
 * @category Backend interface
 */
export const FLOAT_UNARY_OPS: ReadonlySet<UnaryOp> = new Set<UnaryOp>([
  'exp',
  'log',
  'log1p',
  'sqrt',
  'tanh',
  'sigmoid',
  'sin',
  'cos',
  'floor',
]);

/**
 * Elementwise binary primitives with NumPy broadcasting. Both operands have the same dtype.
 * Arithmetic (`add sub mul div pow maximum minimum`) returns the operand dtype (float32 or int32;
 * int32 arithmetic wraps, int32 `div` truncates toward zero and gives 0 for a zero divisor, int32
 * `pow` is not allowed); comparisons (`eq ne lt le gt ge`) return bool; `and or` take and return
 * bool. `maximum`/`minimum` propagate NaN. float32 `pow(a, b)` is specified for `a >= 0` only (WGSL
 * leaves negative bases undefined); core's composites never rely on it.
 *
 * @category Backend interface
 */
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge'
  | 'and'
  | 'or';

/**
 * Reductions over a set of axes. `max`/`min` over a zero-size axis is an error caught by core;
 * `max`/`min` propagate NaN.
 *
 * @category Backend interface
 */
export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * Index reductions over one axis, returning int32; ties resolve to the first index, as does NaN.
 *
 * @category Backend interface
 */
export type ArgReduceOp = 'argmax' | 'argmin';

/**
 * Distributions of the counter-based generator; see `random.ts` for the exact bit-level spec.
 *
 * @category Backend interface
 */
export type RandomDist = 'uniform' | 'normal' | 'bits';

/**
 * Geometry of a batched matrix product `out[p] = opA(a[p]) @ opB(b[p])` for `p < batch`, where
 * `opX` transposes when `transposeX` is set. `a` is stored as contiguous `[batchA, m, k]`
 * (`[batchA, k, m]` if transposed) and `b` as `[batchB, k, n]` (`[batchB, n, k]` if transposed);
 * the batch stride of an operand is 0 when it is shared by every batch (`batchA = 1`), otherwise the
 * size of one matrix. The output is contiguous `[batch, m, n]`, float32.
 *
 * @category Backend interface
 */
export interface MatmulSpec {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly aBatchStride: number;
  readonly bBatchStride: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/**
 * Arguments of the real scan primitive: `h[b,t,c] = a[b,t,c] * h[b,t-1,c] + x[b,t,c]` for t = 0..T-1
 * with `h[b,-1,c] = h0[b,c]` (0 when `h0` is null). With `reverse`, time runs backwards:
 * `h[b,t,c] = a[b,t,c] * h[b,t+1,c] + x[b,t,c]` with `h[b,T,c] = h0[b,c]`.
 * `x` is `[B,T,C]`; `a` is `[Ba,Ta,C]` with `Ba` in {1,B} and `Ta` in {1,T} (size-1 dims broadcast);
 * `h0` is `[B,C]` or null. All float32. The output `h` is `[B,T,C]`.
 *
 * @category Backend interface
 */
export interface ScanArgs {
  readonly a: KernelTensor;
  readonly x: KernelTensor;
  readonly h0: KernelTensor | null;
  readonly reverse: boolean;
}

/**
 * The complex scan: as `ScanArgs` with complex `a`, `x`, `h0` given as real and imaginary parts of
 * equal shapes; the product is the complex product. Returns `[hRe, hIm]`.
 *
 * @category Backend interface
 */
export interface ComplexScanArgs {
  readonly aRe: KernelTensor;
  readonly aIm: KernelTensor;
  readonly xRe: KernelTensor;
  readonly xIm: KernelTensor;
  readonly h0Re: KernelTensor | null;
  readonly h0Im: KernelTensor | null;
  readonly reverse: boolean;
}

/**
 * One node of an `ElementwiseProgram`. Node `i` may only refer to nodes before it. Operands are
 * broadcast to the program's output shape; every node has one dtype (`ElementwiseProgram.dtypes`),
 * and each op follows exactly the semantics of the primitive of the same name (`UnaryOp`, `BinaryOp`,
 * `where`, `cast`), so a program computes what the chain of primitives would, elementwise.
 *
 * @category Backend interface
 */
export type ExprNode =
  /** Operand `index` of the call (a tensor broadcast to the output shape). */
  | { readonly kind: 'input'; readonly index: number }
  /** Scalar parameter `index` of the call: a number passed with the call, not compiled in. */
  | { readonly kind: 'scalar'; readonly index: number }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly x: number }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly a: number; readonly b: number }
  | { readonly kind: 'where'; readonly cond: number; readonly a: number; readonly b: number }
  | { readonly kind: 'cast'; readonly x: number };

/**
 * A fused chain of elementwise ops: what core hands a backend to run as one kernel (see
 * `Backend.elementwise`). Programs are built by core's `fuse`, already type-checked, with dead nodes
 * removed. Two programs with equal `key` are the same program, so a backend compiles each key once
 * and caches it; scalar values are call arguments, never part of the key.
 *
 * Precision: each node's float32 result is rounded to float32, as the primitive would store it, so a
 * fused program gives the values of the unfused chain (bit for bit on the CPU backend).
 *
 * @category Backend interface
 */
export interface ElementwiseProgram {
  /** The nodes, in evaluation order. */
  readonly nodes: readonly ExprNode[];
  /** The dtype of each node's value. */
  readonly dtypes: readonly DType[];
  /** The dtype of each operand (`inputs[i]` of the call has `inputDTypes[i]`). */
  readonly inputDTypes: readonly DType[];
  /** The dtype of each scalar parameter. */
  readonly scalarDTypes: readonly DType[];
  /** Node indices whose values are the outputs, in order. */
  readonly outputs: readonly number[];
  /** A canonical string of everything above: the cache key. */
  readonly key: string;
}

/**
 * Bytes and buffers a backend holds right now.
 *
 * @category Backend interface
 */
export interface BackendMemory {
  /**
   * Logical bytes of live buffers: elements times `bytesPerElement(dtype)` (one byte per bool), so
   * every backend reports the same figure for the same tensors. Padding, size classes and wider
   * device representations are not counted here.
   */
  readonly bytes: number;
  /** Number of live buffers. */
  readonly buffers: number;
  /**
   * Device bytes held beyond the logical figure: free buffers kept in a reuse pool, and the padding
   * or wider storage of live ones (0 or absent for backends without either).
   */
  readonly pooledBytes?: number;
}

/**
 * A compute backend. Every method that returns a `DataId` allocates a new buffer which the caller
 * owns and eventually releases with `free`. Methods may queue work and return before it completes
 * (GPU); `read` resolves once the values are available.
 *
 * @category Backend interface
 */
export interface Backend {
  /** Short name, e.g. `'cpu'` or `'webgpu'`; shown in error messages and `memory()`. */
  readonly name: string;

  /**
   * Uploads host values into a new buffer. The array's type matches `dtype`; bool values are 0 or 1.
   *
   * @param values - The values, in a typed array of the dtype's kind.
   * @param dtype - The dtype of the buffer.
   */
  write(values: TypedArray, dtype: DType): DataId;
  /**
   * A new buffer of `size` elements, every one equal to `value` (cast to `dtype`).
   *
   * @param size - The number of elements.
   * @param dtype - The dtype of the buffer.
   * @param value - The value of every element.
   */
  fill(size: number, dtype: DType, value: number): DataId;
  /**
   * Reads a buffer back to the host. Resolves to a fresh array the caller may keep.
   *
   * @param t - The buffer to read.
   */
  read(t: KernelTensor): Promise<TypedArray>;
  /**
   * Synchronous read, for backends that can (CPU). Absent where reading must wait for a device.
   *
   * @param t - The buffer to read.
   */
  readSync?(t: KernelTensor): TypedArray;
  /**
   * Releases a buffer. Called exactly once per buffer; a no-op after `dispose()`.
   *
   * @param id - The buffer to release.
   */
  free(id: DataId): void;
  /** Live bytes and buffers. */
  memory(): BackendMemory;

  /**
   * Elementwise unary op; see `UnaryOp`.
   *
   * @param op - Which operation.
   * @param x - The input buffer (contiguous, row-major).
   */
  unary(op: UnaryOp, x: KernelTensor): DataId;
  /**
   * Elementwise binary op with broadcasting to `outShape`; see `BinaryOp`.
   *
   * @param op - Which operation.
   * @param a - The first operand buffer.
   * @param b - The second operand buffer.
   * @param outShape - The shape of the result; the operands broadcast to it.
   */
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId;
  /**
   * `out = cond ? a : b` elementwise, `cond` bool, `a`/`b` of one dtype, all broadcast to `outShape`.
   *
   * @param cond - The bool condition buffer.
   * @param a - The first operand buffer.
   * @param b - The second operand buffer.
   * @param outShape - The shape of the result; the operands broadcast to it.
   */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId;
  /**
   * Reduces over `axes` (sorted, distinct, never empty: core handles the no-axis case itself). The output holds `x.shape` without those axes,
   * in row-major order. `sum` of float32 should accumulate with at least pairwise or Kahan-level
   * accuracy for long axes; int32 and bool sum to int32 (bool sums count trues). A sum over a
   * zero-size axis is 0.
   *
   * @param op - Which operation.
   * @param x - The input buffer (contiguous, row-major).
   * @param axes - The axes to reduce, non-negative and sorted.
   */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): DataId;
  /**
   * Index of the max/min along `axis` (output shape: `x.shape` without `axis`), int32.
   *
   * @param op - Which operation.
   * @param x - The input buffer (contiguous, row-major).
   * @param axis - The axis, non-negative.
   */
  argReduce(op: ArgReduceOp, x: KernelTensor, axis: number): DataId;
  /**
   * Batched matrix product of float32 operands; see `MatmulSpec`.
   *
   * @param a - The first operand buffer.
   * @param b - The second operand buffer.
   * @param spec - Batch, matrix sizes, batch strides and transposes.
   */
  matmul(a: KernelTensor, b: KernelTensor, spec: MatmulSpec): DataId;
  /**
   * Converts dtype. float32 to int32 truncates toward zero and saturates at the int32 range (NaN
   * gives 0, as in WGSL); anything to bool is `x != 0`; bool to a number is 0 or 1.
   *
   * @param x - The input buffer (contiguous, row-major).
   * @param dtype - The dtype of the result.
   */
  cast(x: KernelTensor, dtype: DType): DataId;
  /**
   * Strided gather of a view into a new contiguous buffer:
   * `out[i_0..i_{r-1}] = x.flat[offset + sum_d i_d * strides[d]]` for every index of `shape`.
   * Strides are non-negative (0 broadcasts). This single primitive implements permute, slice,
   * expand and broadcastTo. The caller guarantees every address is inside `x`.
   *
   * @param x - The input buffer (contiguous, row-major).
   * @param shape - The shape of the result.
   * @param strides - The stride of each result axis in the input (0 repeats).
   * @param offset - The element of the input where the result starts.
   */
  strided(x: KernelTensor, shape: readonly number[], strides: readonly number[], offset: number): DataId;
  /**
   * Constant padding: `widths[d] = [before, after]` (non-negative) for every dimension of `x`.
   *
   * @param x - The input buffer (contiguous, row-major).
   * @param widths - Per axis, `[before, after]` counts.
   * @param value - The value of the added elements.
   */
  pad(x: KernelTensor, widths: readonly (readonly [number, number])[], value: number): DataId;
  /**
   * Concatenation along `axis` of operands of one dtype whose other dimensions agree.
   *
   * @param xs - The buffers to join.
   * @param axis - The axis, non-negative.
   */
  concat(xs: readonly KernelTensor[], axis: number): DataId;
  /**
   * `out[pre, j..., post] = x[pre, indices[j...], post]` where `pre` indexes `x.shape[:axis]` and
   * `post` indexes `x.shape[axis+1:]`; `indices` is int32 of any shape with values in
   * `[0, x.shape[axis])`. Out-of-range indices throw where the backend can check synchronously (CPU)
   * and are clamped otherwise.
   *
   * @param x - The input buffer (contiguous, row-major).
   * @param indices - int32 indices into `axis`, already in range.
   * @param axis - The axis, non-negative.
   */
  gather(x: KernelTensor, indices: KernelTensor, axis: number): DataId;
  /**
   * Adjoint of `gather`: a float32 zeros tensor of shape
   * `updates.shape[:axis] ++ [size] ++ updates.shape[axis+indices.rank:]` into which every update
   * `updates[pre, j..., post]` is added at `[pre, indices[j...], post]` (repeated indices accumulate).
   *
   * @param updates - The values to add.
   * @param indices - int32 indices into `axis` of the result.
   * @param axis - The axis, non-negative.
   * @param size - The size of the result along `axis`.
   */
  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, size: number): DataId;
  /**
   * Counter-based random numbers (Philox4x32-10, specified bit for bit in core's `random.ts`):
   * element `i` of the output is derived from `key` and counter `[offset + floor(i / 4), 0, 0, 0]`,
   * lane `i % 4`. `uniform` and `bits` are bit-identical across backends; `normal` uses Box-Muller
   * and agrees to float32 rounding of the transcendental functions. `bits` is int32, others float32.
   *
   * @param dist - The distribution.
   * @param size - The number of elements.
   * @param key - The Philox key.
   * @param offset - The counter of the first element.
   */
  random(dist: RandomDist, size: number, key: readonly [number, number], offset: number): DataId;
  /**
   * The real linear scan; see `ScanArgs`. Returns the buffer of `h`.
   *
   * @param args - The operands and the direction.
   */
  scan(args: ScanArgs): DataId;
  /**
   * The complex linear scan; see `ComplexScanArgs`. Returns `[hRe, hIm]`.
   *
   * @param args - The complex operands and the direction.
   */
  scanComplex(args: ComplexScanArgs): [DataId, DataId];

  /**
   * Optional fused elementwise kernel: evaluates `program` over `outShape`, every operand broadcast
   * to it (NumPy rules, as in `binary`), with `scalars[i]` the value of scalar parameter `i`, and
   * returns one new buffer per program output (each `outShape`, of that output's dtype). A backend
   * without it still runs every program: core then evaluates the nodes one primitive at a time, which
   * is also the reference the fused kernel is tested against.
   *
   * @param program - The fused program.
   * @param inputs - One buffer per program input.
   * @param scalars - The values of the program's scalar parameters.
   * @param outShape - The shape of the result; the operands broadcast to it.
   */
  elementwise?(
    program: ElementwiseProgram,
    inputs: readonly KernelTensor[],
    scalars: readonly number[],
    outShape: readonly number[],
  ): DataId[];

  /** Waits until all queued work is done (no-op on synchronous backends). */
  sync?(): Promise<void>;
  /** Releases every buffer and device resource. The backend is unusable afterwards. */
  dispose(): void;
}
