/**
 * `GpujsBackend`: storage, dispatch between gpu.js kernels and the host, and the scan plans.
 *
 * Design: buffers live on the host as typed arrays (the form gpu.js kernels take and return in every
 * mode), so `readSync` exists and host fallbacks cost no transfer. Every float32 primitive runs as a
 * gpu.js kernel from kernels.ts, compiled once per (op, rank) and cached; gpu.js uploads the operands
 * and reads the result back on each call. What gpu.js cannot compute exactly runs on the host through
 * an embedded CPU backend (the reference implementation, so the semantics are the contract's own):
 *
 * - int32 and bool work: WebGL computes in float32, so int32 arithmetic cannot wrap and integers
 *   above 2^24 round; gpu.js has no integer or boolean textures.
 * - any operand or result of 2^24 elements or more: float32 indices stop being exact there.
 * - `random`: Philox needs exact 32-bit integer products, which float32 shaders cannot form.
 * - `cast`, which is a host conversion between typed arrays either way.
 * - zero-size work, which gpu.js cannot express (a kernel output has at least one element).
 *
 * Everything else (unary, binary with broadcasting, comparisons, where, reductions, argmax/argmin,
 * matmul, strided, pad, concat, gather, scatter-add and both scans) runs in gpu.js. Validation
 * mirrors the CPU backend's: a foreign or freed buffer, a dtype mismatch or a shape that disagrees
 * with its buffer is an error naming the op.
 *
 * The scan: in gpu.js a thread writes one output element, so a "thread per lane, loop over time"
 * kernel can only produce one value per lane. The backend therefore plans the scan in chunks of
 * `len` steps: the host runs each lane's recurrence in float64 and keeps the state before each chunk
 * (the carry), and an apply kernel computes every `h_t` from its chunk's carry, sequentially within
 * the chunk. The carries come from the host, not from chunk maps composed in a kernel, because
 * float32 shaders (WebGL2) round every chunk's map alike and that bias accumulates across thousands
 * of chunks (see `hostCarries`). With a single chunk (short sequences) the host pass disappears: the
 * direct plan. `scanPlan` chooses by size.
 */
import { type CpuBackend, type CpuBuffer, cpuBackend } from '@mru/backend-cpu';
import {
  type ArgReduceOp,
  type Backend,
  BackendError,
  type BackendMemory,
  type BinaryOp,
  type ComplexScanArgs,
  type DataId,
  type DType,
  DTypeError,
  fmtShape,
  type KernelTensor,
  type MatmulSpec,
  type RandomDist,
  type ReduceOp,
  type ScanArgs,
  ShapeError,
  type TypedArray,
  type UnaryOp,
  ValueError,
} from '@mru/core';
import {
  argReduceSource,
  binarySource,
  complexScanApplySource,
  concatSource,
  gatherSource,
  matmulSource,
  padSource,
  reduceSource,
  scanApplySource,
  scatterAddSource,
  stridedSource,
  unarySource,
  whereSource,
} from './kernels.js';

/**
 * Sizes from which work runs on the host: float32 represents every integer below 2^24 exactly, so
 * flat indices, offsets and sizes below it survive a float32 shader.
 */
export const MAX_KERNEL_ELEMENTS = 2 ** 24;

/** The modes of gpu.js this backend accepts (see the package README for which run where). */
export type GpujsMode = 'cpu' | 'webasm' | 'webgl2' | 'webgl' | 'headlessgl' | 'gpu';

/** The part of a gpu.js `GPU` instance this backend uses. */
export interface GpujsGpu {
  /** The mode gpu.js settled on (`'cpu'`, `'webgl2'`...). */
  readonly mode?: string;
  /**
   * Compiles a kernel from its source.
   *
   * @param source - The kernel function.
   * @param settings - gpu.js kernel settings.
   */
  createKernel(source: string, settings: Record<string, unknown>): GpujsKernel;
  /** Releases the kernels and the context. */
  destroy(): unknown;
}

/** The part of a compiled gpu.js kernel this backend uses. */
export interface GpujsKernel {
  (...args: unknown[]): unknown;
  /**
   * Sets the output size of the next call (the kernels are created with `dynamicOutput`).
   *
   * @param output - The output dimensions.
   */
  setOutput(output: number[]): unknown;
  /**
   * Releases the kernel's resources.
   *
   * @param removeCanvasReferences - Also drop the canvas references (gpu.js).
   */
  destroy?(removeCanvasReferences?: boolean): void;
}

/** The `GPU` class of gpu.js, as exported by the package (`import { GPU } from 'gpu.js'`). */
export type GpujsClass = new (settings?: Record<string, unknown>) => GpujsGpu;

/** Options of `gpujsBackend`. */
export interface GpujsBackendOptions {
  /**
   * The `GPU` class of gpu.js. Pass it where the package is loaded some other way (a `<script>` tag
   * setting `window.GPU`, a bundler); `gpujsBackend` imports `gpu.js` when it is absent.
   */
  readonly GPU?: GpujsClass;
  /** The gpu.js mode: `'webgl2'` in browsers, `'cpu'` (the default in Node) or `'webasm'` in Node. */
  readonly mode?: GpujsMode;
  /**
   * Scan chunk length override: 0 (default) chooses by size, `n >= 1` forces chunks of `n` steps
   * (used by the tests to exercise both plans).
   */
  readonly scanChunk?: number;
}

/** One buffer: the `DataId` this backend hands to core. */
export class GpujsBuffer {
  /** The element values, row-major, on the host. */
  readonly values: TypedArray;
  /** Element type of `values`. */
  readonly dtype: DType;
  /** @internal */
  constructor(values: TypedArray, dtype: DType) {
    this.values = values;
    this.dtype = dtype;
  }
}

/** How a scan is computed: chunks of `len` steps (one chunk: the direct plan). */
export interface ScanPlan {
  /** Steps per chunk. */
  readonly len: number;
  /** Number of chunks, `ceil(time / len)`. */
  readonly chunks: number;
}

/**
 * The scan plan for recurrences of `time` steps: direct up to 32 steps (each element walks at most
 * 32 steps from `h0`), otherwise chunks of 16 steps. Short chunks because the apply kernel costs
 * `len / 2` steps per element on average while the host pass costs one float64 step per element
 * whatever `len`, and a host step (a few nanoseconds of JavaScript) is far cheaper than a kernel step
 * (two texture fetches per thread on a WebGL device, and SwiftShader runs them on the CPU). `force`
 * (>= 1) imposes the chunk length.
 *
 * @param time - The length of the scan.
 * @param force - A chunk length to impose (>= 1); 0 (default) lets the plan choose.
 */
export function scanPlan(time: number, force = 0): ScanPlan {
  let len: number;
  if (force >= 1) len = Math.min(Math.max(1, Math.floor(force)), Math.max(1, time));
  else if (time <= 32) len = Math.max(1, time);
  else len = 16;
  return { len, chunks: Math.max(1, Math.ceil(time / len)) };
}

function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

function arrayMatches(values: TypedArray, dtype: DType): boolean {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array;
    case 'int32':
      return values instanceof Int32Array;
    case 'bool':
      return values instanceof Uint8Array;
  }
}

/**
 * Drops size-1 dimensions and merges neighbours that are contiguous in every operand, so that
 * same-shape and scalar operands become rank 1 and most broadcasts rank 2. Always returns rank >= 1.
 *
 * @param shape - The shape.
 * @param strides - Its strides.
 */
export function simplifyGeometry(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => {
        outStrides[k][last] = s[d];
      });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => {
        outStrides[k].push(s[d]);
      });
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/**
 * The gpu.js backend. Create it with `gpujsBackend(options)`; see the module comment for what runs in
 * gpu.js and what on the host.
 */
export class GpujsBackend implements Backend {
  /** Always `'gpujs'`. */
  readonly name = 'gpujs';
  /** The gpu.js mode actually in use (`'cpu'`, `'webasm'`, `'webgl2'`...). */
  readonly mode: string;
  readonly #gpu: GpujsGpu;
  readonly #host: CpuBackend = cpuBackend();
  readonly #kernels = new Map<string, GpujsKernel>();
  readonly #live = new Set<GpujsBuffer>();
  readonly #scanChunk: number;
  #bytes = 0;
  #disposed = false;
  #kernelCalls = 0;

  /** @internal Use `gpujsBackend`. */
  constructor(gpu: GpujsGpu, mode: string, scanChunk = 0) {
    this.#gpu = gpu;
    this.mode = mode;
    this.#scanChunk = scanChunk;
  }

  /** Number of distinct gpu.js kernels compiled so far (one per op and rank). */
  get compiledKernels(): number {
    return this.#kernels.size;
  }

  /** Number of gpu.js kernel launches so far (tests use it to prove work ran in gpu.js). */
  get kernelCalls(): number {
    return this.#kernelCalls;
  }

  /**
   * Compiles and runs one small kernel and checks its result, so that a gpu.js mode that cannot
   * work here fails at creation with a `BackendError` rather than in the first op.
   */
  probe(): void {
    const x = new Float32Array([1.5, -2, 0.25]);
    const out = this.#launch('probe', 1, () => unarySource('neg'), 3, [x]);
    if (out[0] !== -1.5 || out[1] !== 2 || out[2] !== -0.25) {
      throw new BackendError(
        'gpujsBackend',
        `gpu.js mode ${this.mode} computed neg([1.5,-2,0.25]) as [${out.join(',')}]`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Storage

  #adopt(values: TypedArray, dtype: DType): GpujsBuffer {
    if (this.#disposed) throw new BackendError('gpujs', 'the backend was disposed');
    const buf = new GpujsBuffer(values, dtype);
    this.#live.add(buf);
    this.#bytes += values.byteLength;
    return buf;
  }

  #buffer(op: string, id: DataId): GpujsBuffer {
    if (!(id instanceof GpujsBuffer) || !this.#live.has(id)) {
      throw new BackendError(
        op,
        this.#disposed
          ? 'the backend was disposed'
          : id instanceof GpujsBuffer
            ? 'the buffer was already freed'
            : 'the buffer does not belong to this gpujs backend',
      );
    }
    return id;
  }

  #values(op: string, t: KernelTensor): TypedArray {
    const buf = this.#buffer(op, t.id);
    if (buf.dtype !== t.dtype) {
      throw new DTypeError(op, `operand declared ${t.dtype} but its buffer holds ${buf.dtype}`);
    }
    if (buf.values.length !== sizeOfShape(t.shape)) {
      throw new ShapeError(
        op,
        `operand of shape ${fmtShape(t.shape)} needs ${sizeOfShape(t.shape)} elements, its buffer holds ${buf.values.length}`,
      );
    }
    return buf.values;
  }

  #float(op: string, t: KernelTensor, role: string): Float32Array {
    if (t.dtype !== 'float32') throw new DTypeError(op, `${role} must be float32, got ${t.dtype}`);
    return this.#values(op, t) as Float32Array;
  }

  /** Copies `values` into a new buffer; bool values are normalised to 0/1. */
  write(values: TypedArray, dtype: DType): DataId {
    if (!arrayMatches(values, dtype)) {
      throw new DTypeError('write', `a ${values.constructor.name} cannot hold ${dtype} values`);
    }
    const copy = values.slice();
    if (dtype === 'bool') for (let i = 0; i < copy.length; i++) copy[i] = copy[i] !== 0 ? 1 : 0;
    return this.#adopt(copy, dtype);
  }

  /** A buffer of `size` copies of `value`, cast as the CPU backend casts. */
  fill(size: number, dtype: DType, value: number): DataId {
    if (!Number.isInteger(size) || size < 0) throw new ValueError('fill', `invalid size ${size}`);
    return this.#fromHost((h) => h.fill(size, dtype, value));
  }

  /** Resolves to a copy of the values. */
  async read(t: KernelTensor): Promise<TypedArray> {
    return this.readSync(t);
  }

  /** A copy of the values, synchronously (buffers live on the host). */
  readSync(t: KernelTensor): TypedArray {
    return this.#values('read', t).slice();
  }

  /** Releases the buffer; a second `free` throws a `BackendError`, and after `dispose()` it is a no-op. */
  free(id: DataId): void {
    if (this.#disposed) return;
    const buf = this.#buffer('free', id);
    this.#live.delete(buf);
    this.#bytes -= buf.values.byteLength;
  }

  /** Exact bytes and count of live buffers. */
  memory(): BackendMemory {
    return { bytes: this.#bytes, buffers: this.#live.size, pooledBytes: 0 };
  }

  // -------------------------------------------------------------------------------------------------
  // Host fallback and kernel launches

  /**
   * Runs `fn` on the embedded CPU backend with `inputs` copied in, adopts the buffers it returns
   * and frees every host buffer. `fn` receives the host tensors in the order of `inputs`.
   */
  #onHostAll(
    op: string,
    inputs: readonly KernelTensor[],
    fn: (h: CpuBackend, xs: KernelTensor[]) => DataId[],
  ): GpujsBuffer[] {
    if (this.#disposed) throw new BackendError(op, 'the backend was disposed');
    const xs = inputs.map((t) => ({
      id: this.#host.write(this.#values(op, t), t.dtype),
      shape: t.shape,
      dtype: t.dtype,
    }));
    try {
      return fn(this.#host, xs).map((id) => this.#adoptHost(id));
    } finally {
      for (const x of xs) this.#host.free(x.id);
    }
  }

  /** `#onHostAll` for the usual single result. */
  #onHost(
    op: string,
    inputs: readonly KernelTensor[],
    fn: (h: CpuBackend, xs: KernelTensor[]) => DataId,
  ): DataId {
    return this.#onHostAll(op, inputs, (h, xs) => [fn(h, xs)])[0];
  }

  /** A result of the embedded CPU backend, made ours: its typed array is adopted, not copied. */
  #adoptHost(id: DataId): GpujsBuffer {
    const { dtype } = id as CpuBuffer;
    // Detached, not freed: a freed array goes to the CPU backend's reuse pool.
    return this.#adopt(this.#host.detach(id), dtype);
  }

  #fromHost(fn: (h: CpuBackend) => DataId): GpujsBuffer {
    if (this.#disposed) throw new BackendError('gpujs', 'the backend was disposed');
    return this.#adoptHost(fn(this.#host));
  }

  /** True when work of these sizes must leave gpu.js (zero-size or past exact float32 indexing). */
  #tooBigOrEmpty(...sizes: number[]): boolean {
    return sizes.some((n) => n === 0 || n >= MAX_KERNEL_ELEMENTS);
  }

  /**
   * Launches the cached kernel `key` (compiled from `source()` on first use, with `rank` baked in as a
   * constant) over a 1-D output of `size` elements and returns the result as a fresh Float32Array.
   */
  #launch(key: string, rank: number, source: () => string, size: number, args: unknown[]): Float32Array {
    if (this.#disposed) throw new BackendError(key, 'the backend was disposed');
    const cacheKey = `${key}:r${rank}`;
    let kernel = this.#kernels.get(cacheKey);
    if (!kernel) {
      kernel = this.#gpu.createKernel(source(), {
        output: [size],
        constants: { rank },
        dynamicOutput: true,
        dynamicArguments: true,
        precision: 'single',
        tactic: 'precision',
        // Loops have run-time bounds; gpu.js unrolls none of them and breaks out at the bound.
        loopMaxIterations: MAX_KERNEL_ELEMENTS,
        argumentTypes: args.map((a) => (typeof a === 'number' ? 'Float' : 'Array')),
      });
      this.#kernels.set(cacheKey, kernel);
    }
    kernel.setOutput([size]);
    let result: unknown;
    try {
      result = kernel(...args);
    } catch (error) {
      throw new BackendError(key, `gpu.js kernel failed in mode ${this.mode}: ${String(error)}`);
    }
    this.#kernelCalls++;
    if (!(result instanceof Float32Array) || result.length < size) {
      throw new BackendError(key, `gpu.js returned ${describe(result)} for an output of ${size} elements`);
    }
    // A view into a larger (texture-sized) or reused array is copied so that buffers never alias.
    return result.slice(0, size);
  }

  // -------------------------------------------------------------------------------------------------
  // Elementwise

  /** See `UnaryOp`: float32 in gpu.js; int32 and bool on the host. */
  unary(op: UnaryOp, x: KernelTensor): DataId {
    const values = this.#values(op, x);
    if (x.dtype !== 'float32' || this.#tooBigOrEmpty(values.length)) {
      return this.#onHost(op, [x], (h, [hx]) => h.unary(op, hx));
    }
    const out = this.#launch(`unary:${op}`, 1, () => unarySource(op), values.length, [values]);
    return this.#adopt(out, 'float32');
  }

  /** See `BinaryOp`: float32 arithmetic and comparisons in gpu.js; int32 and bool on the host. */
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    if (a.dtype !== b.dtype) throw new DTypeError(op, `operands differ in dtype: ${a.dtype} and ${b.dtype}`);
    const av = this.#values(op, a);
    const bv = this.#values(op, b);
    const size = sizeOfShape(outShape);
    if (a.dtype !== 'float32' || this.#tooBigOrEmpty(size, av.length, bv.length)) {
      return this.#onHost(op, [a, b], (h, [ha, hb]) => h.binary(op, ha, hb, outShape));
    }
    const g = simplifyGeometry(outShape, [
      this.#broadcast(op, a.shape, outShape),
      this.#broadcast(op, b.shape, outShape),
    ]);
    const out = this.#launch(`binary:${op}`, g.shape.length, () => binarySource(op), size, [
      av,
      bv,
      g.shape,
      g.strides[0],
      g.strides[1],
    ]);
    const comparison =
      op !== 'add' &&
      op !== 'sub' &&
      op !== 'mul' &&
      op !== 'div' &&
      op !== 'pow' &&
      op !== 'maximum' &&
      op !== 'minimum';
    return comparison ? this.#adopt(toBool(out), 'bool') : this.#adopt(out, 'float32');
  }

  /** `cond ? a : b` with broadcasting: float32 branches in gpu.js, others on the host. */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    if (cond.dtype !== 'bool') throw new DTypeError('where', `condition must be bool, got ${cond.dtype}`);
    if (a.dtype !== b.dtype)
      throw new DTypeError('where', `branches differ in dtype: ${a.dtype} and ${b.dtype}`);
    const cv = this.#values('where', cond);
    const av = this.#values('where', a);
    const bv = this.#values('where', b);
    const size = sizeOfShape(outShape);
    if (a.dtype !== 'float32' || this.#tooBigOrEmpty(size, cv.length, av.length, bv.length)) {
      return this.#onHost('where', [cond, a, b], (h, [hc, ha, hb]) => h.where(hc, ha, hb, outShape));
    }
    const g = simplifyGeometry(outShape, [
      this.#broadcast('where', cond.shape, outShape),
      this.#broadcast('where', a.shape, outShape),
      this.#broadcast('where', b.shape, outShape),
    ]);
    const out = this.#launch('where', g.shape.length, whereSource, size, [
      Float32Array.from(cv),
      av,
      bv,
      g.shape,
      g.strides[0],
      g.strides[1],
      g.strides[2],
    ]);
    return this.#adopt(out, 'float32');
  }

  #broadcast(op: string, shape: readonly number[], outShape: readonly number[]): number[] {
    const off = outShape.length - shape.length;
    const own = rowMajorStrides(shape);
    const s = new Array<number>(outShape.length).fill(0);
    let ok = off >= 0;
    for (let i = 0; ok && i < shape.length; i++) {
      if (shape[i] !== 1 && shape[i] !== outShape[off + i]) ok = false;
      else s[off + i] = shape[i] === 1 ? 0 : own[i];
    }
    if (!ok) throw new ShapeError(op, `shape ${fmtShape(shape)} does not broadcast to ${fmtShape(outShape)}`);
    return s;
  }

  /** Converts dtype on the host (a typed-array conversion, exact in every direction). */
  cast(x: KernelTensor, dtype: DType): DataId {
    return this.#onHost('cast', [x], (h, [hx]) => h.cast(hx, dtype));
  }

  // -------------------------------------------------------------------------------------------------
  // Reductions and matmul

  /**
   * The float32 input as contiguous `[rows, len]` with the reduced `axes` last: a strided gpu.js copy
   * when they are not already trailing, the buffer itself when they are.
   */
  #rowsLast(
    op: string,
    x: KernelTensor,
    values: Float32Array,
    axes: readonly number[],
  ): { rows: Float32Array; len: number; outSize: number } {
    const rank = x.shape.length;
    const kept = [...Array(rank).keys()].filter((d) => !axes.includes(d));
    const len = sizeOfShape(axes.map((d) => x.shape[d]));
    const outSize = sizeOfShape(kept.map((d) => x.shape[d]));
    const trailing = axes.every((d, i) => d === rank - axes.length + i);
    if (trailing) return { rows: values, len, outSize };
    const order = [...kept, ...axes];
    const strides = rowMajorStrides(x.shape);
    const g = simplifyGeometry(
      order.map((d) => x.shape[d]),
      [order.map((d) => strides[d])],
    );
    const rows = this.#launch(`${op}:permute`, g.shape.length, stridedSource, values.length, [
      values,
      g.shape,
      g.strides[0],
      0,
    ]);
    return { rows, len, outSize };
  }

  /** float32 reductions in gpu.js (compensated sums); int32 and bool on the host. */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): DataId {
    const values = this.#values(op, x);
    for (let i = 0; i < axes.length; i++) {
      const a = axes[i];
      if (!Number.isInteger(a) || a < 0 || a >= x.shape.length || (i > 0 && a <= axes[i - 1])) {
        throw new ValueError(
          op,
          `axes [${axes.join(',')}] must be sorted, distinct and < rank ${x.shape.length}`,
        );
      }
    }
    const outSize = sizeOfShape(x.shape.filter((_, d) => !axes.includes(d)));
    if (x.dtype !== 'float32' || this.#tooBigOrEmpty(values.length, outSize)) {
      return this.#onHost(op, [x], (h, [hx]) => h.reduce(op, hx, axes));
    }
    const { rows, len } = this.#rowsLast(op, x, values as Float32Array, axes);
    return this.#adopt(
      this.#launch(`reduce:${op}`, 1, () => reduceSource(op), outSize, [rows, len]),
      'float32',
    );
  }

  /** First index of the extreme value (the first NaN wins); float32 in gpu.js. */
  argReduce(op: ArgReduceOp, x: KernelTensor, axis: number): DataId {
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError(op, `axis ${axis} is out of range for shape ${fmtShape(x.shape)}`);
    }
    const values = this.#values(op, x);
    const outSize = sizeOfShape(x.shape.filter((_, d) => d !== axis));
    if (x.dtype !== 'float32' || this.#tooBigOrEmpty(values.length, outSize)) {
      return this.#onHost(op, [x], (h, [hx]) => h.argReduce(op, hx, axis));
    }
    const { rows, len } = this.#rowsLast(op, x, values as Float32Array, [axis]);
    const out = this.#launch(`argReduce:${op}`, 1, () => argReduceSource(op), outSize, [rows, len]);
    return this.#adopt(Int32Array.from(out), 'int32');
  }

  /** Batched product in gpu.js, one thread per output element looping over `k`. */
  matmul(a: KernelTensor, b: KernelTensor, spec: MatmulSpec): DataId {
    const av = this.#float('matmul', a, 'a');
    const bv = this.#float('matmul', b, 'b');
    const { batch, m, k, n, aBatchStride, bBatchStride } = spec;
    const need = (stride: number, rows: number, cols: number) =>
      batch === 0 || rows * cols === 0 ? 0 : (batch - 1) * stride + rows * cols;
    if (av.length < need(aBatchStride, m, k) || bv.length < need(bBatchStride, k, n)) {
      throw new ShapeError(
        'matmul',
        `spec batch=${batch} m=${m} k=${k} n=${n} (batch strides ${aBatchStride}, ${bBatchStride}) does not fit ` +
          `operands of shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      );
    }
    const size = batch * m * n;
    if (this.#tooBigOrEmpty(size, av.length, bv.length)) {
      return this.#onHost('matmul', [a, b], (h, [ha, hb]) => h.matmul(ha, hb, spec));
    }
    const out = this.#launch('matmul', 1, matmulSource, size, [
      av,
      bv,
      m,
      k,
      n,
      aBatchStride,
      bBatchStride,
      spec.transposeA ? 1 : 0,
      spec.transposeB ? 1 : 0,
    ]);
    return this.#adopt(out, 'float32');
  }

  // -------------------------------------------------------------------------------------------------
  // Movement

  /** Strided copy; the largest address is checked against the buffer. */
  strided(x: KernelTensor, shape: readonly number[], strides: readonly number[], offset: number): DataId {
    if (strides.length !== shape.length) {
      throw new ShapeError('strided', `${strides.length} strides for shape ${fmtShape(shape)}`);
    }
    const values = this.#values('strided', x);
    const size = sizeOfShape(shape);
    if (x.dtype !== 'float32' || this.#tooBigOrEmpty(size, values.length)) {
      return this.#onHost('strided', [x], (h, [hx]) => h.strided(hx, shape, strides, offset));
    }
    let last = offset;
    for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * strides[d];
    if (
      !Number.isInteger(offset) ||
      offset < 0 ||
      strides.some((s) => !Number.isInteger(s) || s < 0) ||
      last >= values.length
    ) {
      throw new ValueError(
        'strided',
        `view of shape ${fmtShape(shape)}, strides [${strides.join(',')}], offset ${offset} reaches outside a buffer of ${values.length} elements`,
      );
    }
    const g = simplifyGeometry(shape, [strides]);
    const out = this.#launch('strided', g.shape.length, stridedSource, size, [
      values,
      g.shape,
      g.strides[0],
      offset,
    ]);
    return this.#adopt(out, 'float32');
  }

  /** Constant padding. */
  pad(x: KernelTensor, widths: readonly (readonly [number, number])[], value: number): DataId {
    const values = this.#values('pad', x);
    const rank = x.shape.length;
    const ok =
      widths.length === rank &&
      widths.every(([p, q]) => Number.isInteger(p) && Number.isInteger(q) && p >= 0 && q >= 0);
    if (!ok) {
      throw new ShapeError('pad', `widths ${JSON.stringify(widths)} do not fit shape ${fmtShape(x.shape)}`);
    }
    const outShape = x.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
    const size = sizeOfShape(outShape);
    if (x.dtype !== 'float32' || rank === 0 || this.#tooBigOrEmpty(size, values.length)) {
      return this.#onHost('pad', [x], (h, [hx]) => h.pad(hx, widths, value));
    }
    const out = this.#launch('pad', rank, padSource, size, [
      values,
      outShape,
      widths.map((w) => w[0]),
      [...x.shape],
      rowMajorStrides(x.shape),
      Math.fround(value),
    ]);
    return this.#adopt(out, 'float32');
  }

  /** Concatenation along `axis`, folded pairwise through a two-operand gpu.js kernel. */
  concat(xs: readonly KernelTensor[], axis: number): DataId {
    if (xs.length === 0) throw new ValueError('concat', 'needs at least one operand');
    const first = xs[0];
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.shape.length) {
      throw new ValueError('concat', `axis ${axis} is out of range for shape ${fmtShape(first.shape)}`);
    }
    for (const x of xs) {
      if (x.dtype !== first.dtype)
        throw new DTypeError('concat', `operands differ in dtype: ${first.dtype} and ${x.dtype}`);
      const agree =
        x.shape.length === first.shape.length && x.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!agree) {
        throw new ShapeError(
          'concat',
          `shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} differ outside axis ${axis}`,
        );
      }
    }
    const values = xs.map((x) => this.#values('concat', x));
    const outer = sizeOfShape(first.shape.slice(0, axis));
    const inner = sizeOfShape(first.shape.slice(axis + 1));
    const total = values.reduce((s, v) => s + v.length, 0);
    if (first.dtype !== 'float32' || this.#tooBigOrEmpty(total, outer * inner) || xs.length === 1) {
      return this.#onHost('concat', xs, (h, hs) => h.concat(hs, axis));
    }
    // Zero-size operands contribute nothing and cannot be kernel arguments.
    const parts = xs
      .map((x, i) => ({ v: values[i] as Float32Array, n: x.shape[axis] }))
      .filter((p) => p.n > 0);
    let acc = parts[0];
    for (let i = 1; i < parts.length; i++) {
      const next = parts[i];
      const v = this.#launch('concat', 1, concatSource, outer * (acc.n + next.n) * inner, [
        acc.v,
        next.v,
        acc.n,
        next.n,
        inner,
      ]);
      acc = { v, n: acc.n + next.n };
    }
    return this.#adopt(parts.length === 1 ? acc.v.slice() : acc.v, 'float32');
  }

  /** Indices live on the host, so an out-of-range index is a `ValueError`, as on the CPU. */
  gather(x: KernelTensor, indices: KernelTensor, axis: number): DataId {
    if (indices.dtype !== 'int32')
      throw new DTypeError('gather', `indices must be int32, got ${indices.dtype}`);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError('gather', `axis ${axis} is out of range for shape ${fmtShape(x.shape)}`);
    }
    const values = this.#values('gather', x);
    const idx = this.#values('gather', indices) as Int32Array;
    const axisLen = x.shape[axis];
    for (let j = 0; j < idx.length; j++) {
      if (idx[j] < 0 || idx[j] >= axisLen) {
        throw new ValueError(
          'gather',
          `index ${idx[j]} at position ${j} is out of range [0, ${axisLen}) for shape ${fmtShape(x.shape)} at axis ${axis}`,
        );
      }
    }
    const pre = sizeOfShape(x.shape.slice(0, axis));
    const post = sizeOfShape(x.shape.slice(axis + 1));
    const size = pre * idx.length * post;
    if (x.dtype !== 'float32' || this.#tooBigOrEmpty(size, values.length, idx.length)) {
      return this.#onHost('gather', [x, indices], (h, [hx, hi]) => h.gather(hx, hi, axis));
    }
    const out = this.#launch('gather', 1, gatherSource, size, [
      values,
      Float32Array.from(idx),
      axisLen,
      idx.length,
      post,
    ]);
    return this.#adopt(out, 'float32');
  }

  /** Deterministic scatter-add in gpu.js: each output slot sums its updates in index order. */
  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, size: number): DataId {
    const u = this.#float('scatterAdd', updates, 'updates');
    if (indices.dtype !== 'int32')
      throw new DTypeError('scatterAdd', `indices must be int32, got ${indices.dtype}`);
    const idx = this.#values('scatterAdd', indices) as Int32Array;
    const r = indices.shape.length;
    const ok =
      Number.isInteger(axis) &&
      axis >= 0 &&
      axis + r <= updates.shape.length &&
      indices.shape.every((d, i) => updates.shape[axis + i] === d);
    if (!ok) {
      throw new ShapeError(
        'scatterAdd',
        `updates ${fmtShape(updates.shape)} do not hold indices ${fmtShape(indices.shape)} at axis ${axis}`,
      );
    }
    if (!Number.isInteger(size) || size < 0) throw new ValueError('scatterAdd', `invalid size ${size}`);
    for (let j = 0; j < idx.length; j++) {
      if (idx[j] < 0 || idx[j] >= size) {
        throw new ValueError('scatterAdd', `index ${idx[j]} at position ${j} is out of range [0, ${size})`);
      }
    }
    const pre = sizeOfShape(updates.shape.slice(0, axis));
    const post = sizeOfShape(updates.shape.slice(axis + r));
    const outSize = pre * size * post;
    if (this.#tooBigOrEmpty(outSize, u.length, idx.length)) {
      return this.#onHost('scatterAdd', [updates, indices], (h, [hu, hi]) =>
        h.scatterAdd(hu, hi, axis, size),
      );
    }
    const out = this.#launch('scatterAdd', 1, scatterAddSource, outSize, [
      u,
      Float32Array.from(idx),
      size,
      idx.length,
      post,
    ]);
    return this.#adopt(out, 'float32');
  }

  // -------------------------------------------------------------------------------------------------
  // Random numbers and scans

  /** Philox4x32-10 on the host: float32 shaders cannot form the exact 32-bit products it needs. */
  random(dist: RandomDist, size: number, key: readonly [number, number], offset: number): DataId {
    return this.#fromHost((h) => h.random(dist, size, key, offset));
  }

  /** The real scan through the chunked plan (see the module comment and `scanPlan`). */
  scan(args: ScanArgs): DataId {
    const { a, x, h0, reverse } = args;
    const g = geometry('scan', a.shape, x.shape, h0 ? h0.shape : null);
    const av = this.#float('scan', a, 'a');
    const xv = this.#float('scan', x, 'x');
    const hv = h0 ? this.#float('scan', h0, 'h0') : null;
    const lanes = g.batch * g.channels;
    const size = lanes * g.time;
    if (this.#tooBigOrEmpty(size, av.length)) {
      return this.#onHost('scan', h0 ? [a, x, h0] : [a, x], (h, [ha, hx, hh]) =>
        h.scan({ a: ha, x: hx, h0: hh ?? null, reverse }),
      );
    }
    const plan = scanPlan(g.time, this.#scanChunk);
    const rev = reverse ? 1 : 0;
    const carry = new Float32Array(plan.chunks * lanes);
    if (hv) carry.set(hv);
    if (plan.chunks > 1) hostCarries(av, xv, carry, g, plan, rev);
    const out = this.#launch('scan:apply', 1, scanApplySource, size, [
      av,
      xv,
      carry,
      lanes,
      g.channels,
      g.time,
      plan.len,
      g.aBatchStride,
      g.aTimeStride,
      rev,
    ]);
    return this.#adopt(out, 'float32');
  }

  /** The complex scan through the same plan, each thread carrying a complex state. */
  scanComplex(args: ComplexScanArgs): [DataId, DataId] {
    const { aRe, aIm, xRe, xIm, h0Re, h0Im, reverse } = args;
    const same = (p: KernelTensor, q: KernelTensor) =>
      p.shape.length === q.shape.length && p.shape.every((d, i) => d === q.shape[i]);
    if (!same(aRe, aIm) || !same(xRe, xIm) || !h0Re !== !h0Im || (h0Re && h0Im && !same(h0Re, h0Im))) {
      throw new ShapeError(
        'scanComplex',
        'real and imaginary parts must have equal shapes (and h0 both parts or neither): ' +
          `a ${fmtShape(aRe.shape)}/${fmtShape(aIm.shape)}, x ${fmtShape(xRe.shape)}/${fmtShape(xIm.shape)}, ` +
          `h0 ${h0Re ? fmtShape(h0Re.shape) : 'null'}/${h0Im ? fmtShape(h0Im.shape) : 'null'}`,
      );
    }
    const g = geometry('scanComplex', aRe.shape, xRe.shape, h0Re ? h0Re.shape : null);
    const f = (t: KernelTensor, role: string) => this.#float('scanComplex', t, role);
    const ar = f(aRe, 'aRe');
    const ai = f(aIm, 'aIm');
    const xr = f(xRe, 'xRe');
    const xi = f(xIm, 'xIm');
    const hr = h0Re ? f(h0Re, 'h0Re') : null;
    const hi = h0Im ? f(h0Im, 'h0Im') : null;
    const lanes = g.batch * g.channels;
    const size = lanes * g.time;
    if (this.#tooBigOrEmpty(2 * size, ar.length)) {
      const ins = h0Re && h0Im ? [aRe, aIm, xRe, xIm, h0Re, h0Im] : [aRe, aIm, xRe, xIm];
      const [re, im] = this.#onHostAll('scanComplex', ins, (h, hs) =>
        h.scanComplex({
          aRe: hs[0],
          aIm: hs[1],
          xRe: hs[2],
          xIm: hs[3],
          h0Re: hs[4] ?? null,
          h0Im: hs[5] ?? null,
          reverse,
        }),
      );
      return [re, im];
    }
    const plan = scanPlan(g.time, this.#scanChunk);
    const rev = reverse ? 1 : 0;
    const half = plan.chunks * lanes;
    const carry = new Float32Array(2 * half);
    if (hr && hi) {
      carry.set(hr);
      carry.set(hi, half);
    }
    if (plan.chunks > 1) hostComplexCarries(ar, ai, xr, xi, carry, g, plan, rev);
    const out = this.#launch('scanComplex:apply', 1, complexScanApplySource, 2 * size, [
      ar,
      ai,
      xr,
      xi,
      carry,
      half,
      lanes,
      g.channels,
      g.time,
      plan.len,
      g.aBatchStride,
      g.aTimeStride,
      rev,
    ]);
    return [this.#adopt(out.slice(0, size), 'float32'), this.#adopt(out.slice(size), 'float32')];
  }

  // -------------------------------------------------------------------------------------------------
  // Lifetime

  /** No-op: gpu.js kernels have returned their results when a primitive returns. */
  async sync(): Promise<void> {}

  /** Frees every buffer, the compiled kernels and the gpu.js context. Disposing twice is harmless. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#live.clear();
    this.#bytes = 0;
    this.#kernels.clear();
    this.#host.dispose();
    void Promise.resolve(this.#gpu.destroy()).catch(() => {});
  }
}

function toBool(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
  return out;
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of ${(x as Float32Array).length} elements`;
  return `a ${typeof x === 'object' ? (x as object).constructor.name : typeof x}`;
}

/** Scan geometry as the CPU backend checks it: `x` is `[B,T,C]`, `a` is `[Ba,Ta,C]` broadcasting. */
function geometry(
  op: string,
  aShape: readonly number[],
  xShape: readonly number[],
  h0Shape: readonly number[] | null,
) {
  const fail = (why: string): never => {
    throw new ShapeError(
      op,
      `${why} (a ${fmtShape(aShape)}, x ${fmtShape(xShape)}${h0Shape ? `, h0 ${fmtShape(h0Shape)}` : ''})`,
    );
  };
  if (xShape.length !== 3) fail('x must be [batch, time, channels]');
  if (aShape.length > 3) fail('a must have rank <= 3');
  const [batch, time, channels] = xShape;
  const [ba, ta, ca] = [...new Array<number>(3 - aShape.length).fill(1), ...aShape];
  if (ca !== channels) fail('a and x disagree on channels');
  if (ba !== 1 && ba !== batch) fail('the batch dimension of a must be 1 or that of x');
  if (ta !== 1 && ta !== time) fail('the time dimension of a must be 1 or that of x');
  if (h0Shape && (h0Shape.length !== 2 || h0Shape[0] !== batch || h0Shape[1] !== channels)) {
    fail('h0 must be [batch, channels]');
  }
  return {
    batch,
    time,
    channels,
    aBatchStride: ba === 1 ? 0 : ta * channels,
    aTimeStride: ta === 1 ? 0 : channels,
  };
}

type ScanGeometry = ReturnType<typeof geometry>;

/**
 * The host pass of the chunked scan: runs each lane's recurrence in float64 from `h0` (the first
 * `lanes` entries of `carry`, zero without one) and stores the state before each chunk into `carry`,
 * rounded once to float32. The carries are therefore the float64 scan's states, and each `h_t` of
 * the apply kernel walks at most `len` float32 steps from an exact carry. A chunk kernel composing
 * each chunk's map (`A`, `B`) in float32 would round the same way in every chunk, a bias that the
 * recurrence over ~T/len chunk maps carries along (tens of times a float32 loop's error at
 * |a| = 1, T = 1e5 on WebGL2); this pass costs O(T) host steps per lane, the same order as reading
 * the result back, and nothing on the device.
 */
function hostCarries(
  a: Float32Array,
  x: Float32Array,
  carry: Float32Array,
  g: ScanGeometry,
  plan: ScanPlan,
  reverse: number,
): void {
  const { batch, time, channels, aBatchStride, aTimeStride } = g;
  const lanes = batch * channels;
  for (let l = 0; l < lanes; l++) {
    const b = Math.floor(l / channels);
    const c = l - b * channels;
    let h = carry[l];
    for (let k = 0; k < plan.chunks; k++) {
      carry[k * lanes + l] = h;
      if (k === plan.chunks - 1) break;
      const end = (k + 1) * plan.len;
      for (let s = k * plan.len; s < end; s++) {
        const t = reverse > 0 ? time - 1 - s : s;
        h = a[b * aBatchStride + t * aTimeStride + c] * h + x[(b * time + t) * channels + c];
      }
    }
  }
}

/** The complex host pass (see `hostCarries`): `carry` holds `half` real parts, then imaginary. */
function hostComplexCarries(
  aRe: Float32Array,
  aIm: Float32Array,
  xRe: Float32Array,
  xIm: Float32Array,
  carry: Float32Array,
  g: ScanGeometry,
  plan: ScanPlan,
  reverse: number,
): void {
  const { batch, time, channels, aBatchStride, aTimeStride } = g;
  const lanes = batch * channels;
  const half = plan.chunks * lanes;
  for (let l = 0; l < lanes; l++) {
    const b = Math.floor(l / channels);
    const c = l - b * channels;
    let hr = carry[l];
    let hi = carry[half + l];
    for (let k = 0; k < plan.chunks; k++) {
      carry[k * lanes + l] = hr;
      carry[half + k * lanes + l] = hi;
      if (k === plan.chunks - 1) break;
      const end = (k + 1) * plan.len;
      for (let s = k * plan.len; s < end; s++) {
        const t = reverse > 0 ? time - 1 - s : s;
        const ai = b * aBatchStride + t * aTimeStride + c;
        const xi = (b * time + t) * channels + c;
        const ar = aRe[ai];
        const am = aIm[ai];
        const nr = ar * hr - am * hi + xRe[xi];
        const ni = ar * hi + am * hr + xIm[xi];
        hr = nr;
        hi = ni;
      }
    }
  }
}
