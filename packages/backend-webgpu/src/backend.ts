/**
 * The WebGPU implementation of core's `Backend` contract: each primitive validates its operands,
 * computes sizes and the parameter words of its kernel on the host, and encodes one or a few
 * dispatches. Nothing here waits for the GPU except `read` and `sync`.
 *
 * Storage: a tensor is a `WebGPUData` wrapping a pooled storage buffer of 32-bit words, one per
 * element. bool is stored as one u32 (0 or 1) per element. `memory()` reports both views: `bytes`
 * in core's logical units (size x bytesPerElement, one byte per bool, what the conformance kit
 * checks) and `deviceBytes`, the device memory really held (size classes and 4-byte bools).
 *
 * The scan is parallel over time (see `scanLevel`): chunked reduce-then-scan, where the scan of the
 * chunk pairs is itself the same scan one level down (the carries obey `h_k = A_k h_{k-1} + B_k`),
 * so long sequences recurse until a level is short enough for the sequential kernel.
 */
/// <reference types="@webgpu/types" preserve="true" />
import {
  type ArgReduceOp,
  allocHost,
  type Backend,
  BackendError,
  type BackendMemory,
  type BinaryOp,
  broadcastStrides,
  bytesPerElement,
  type ComplexScanArgs,
  type DataId,
  type DType,
  DTypeError,
  dtypeOfArray,
  type ElementwiseProgram,
  FLOAT_UNARY_OPS,
  fmtShape,
  type KernelTensor,
  type MatmulSpec,
  type RandomDist,
  type ReduceOp,
  runPrimitives,
  type ScanArgs,
  ShapeError,
  sizeOf,
  stridesOf,
  type TypedArray,
  type UnaryOp,
  ValueError,
} from '@mru/core';
import { fusedKernel, planElementwise } from './fused.js';
import { type KernelLimits, type PooledBuffer, Runtime } from './runtime.js';
import * as W from './wgsl.js';

/** How the scan splits time into chunks; see `WebGPUBackendOptions.scan`. */
export interface ScanOptions {
  /**
   * `'auto'` (default): parallel over time when batch x channels is too small to fill the device and
   * the sequence is long, sequential otherwise. `'parallel'` always chunks the top level (for tests
   * and benchmarks); `'sequential'` always runs one invocation per (batch, channel) over all of time.
   */
  readonly mode?: 'auto' | 'parallel' | 'sequential';
  /** Shortest chunk, in time steps (default 16). */
  readonly minChunk?: number;
  /**
   * Invocations the chunking aims for: chunks per lane = targetThreads / lanes. Default 16384, or 16
   * on a software adapter (lavapipe, SwiftShader), which runs only a few invocations at a time.
   */
  readonly targetThreads?: number;
}

/**
 * `memory()` of a WebGPU backend. `bytes` follows core's definition (logical bytes of live tensors:
 * size x `bytesPerElement`, one byte per bool); `deviceBytes` is what the device really holds.
 */
export interface WebGPUMemory extends BackendMemory {
  /** Bytes of live tensor buffers as core counts them: size x bytesPerElement(dtype). */
  readonly bytes: number;
  /** Bytes of free buffers kept for reuse (storage and readback staging). */
  readonly pooledBytes: number;
  /**
   * Bytes of device memory held in buffers right now, live and pooled (and the scratch buffers of
   * `maxLiveBindGroups`, if any): size classes included, and 4 bytes per bool element (bool is
   * stored as one u32 word).
   */
  readonly deviceBytes: number;
}

/** Counters of the work a backend has done, for tests and tuning. */
export interface WebGPUStats {
  /** Distinct compute pipelines compiled (one per kernel source; shapes never add one). */
  readonly pipelines: number;
  /** Dispatches encoded. */
  readonly dispatches: number;
  /** Bind groups created; the other dispatches reused a cached one. */
  readonly bindGroups: number;
  /** Bind groups in the cache now (at most `bindGroupCacheSize`). */
  readonly cachedBindGroups: number;
  /** Bind groups created and not yet garbage-collected (at most `maxLiveBindGroups`). */
  readonly liveBindGroups: number;
  /** Dispatches that ran through the scratch buffers because `maxLiveBindGroups` were alive. */
  readonly scratchDispatches: number;
}

/** An adapter's description of itself (empty strings where the implementation withholds it). */
export interface AdapterDescription {
  /** The vendor, e.g. `'mesa'` or `'nvidia'`. */
  readonly vendor: string;
  /** The GPU family, e.g. `'llvmpipe'` or `'ampere'`. */
  readonly architecture: string;
  /** A vendor-specific device identifier. */
  readonly device: string;
  /** A human-readable description, e.g. `'llvmpipe (LLVM 19.1.7, 256 bits)'`. */
  readonly description: string;
}

/**
 * A WebGPU backend: core's `Backend` (without `readSync`: reading from a GPU is asynchronous) plus a
 * few WebGPU-specific members. Create one with `webgpuBackend()`.
 */
export interface WebGPUBackend extends Backend {
  /** Always `'webgpu'`. */
  readonly name: 'webgpu';
  /** The device this backend owns (destroyed by `dispose`). */
  readonly device: GPUDevice;
  /** What the adapter says about itself. */
  readonly adapterInfo: AdapterDescription;
  /** The device limits the kernels were sized for. */
  readonly kernelLimits: KernelLimits;
  /** Submits queued work and resolves when the device has finished it. */
  sync(): Promise<void>;
  /** Destroys the pooled (free) buffers, returning their memory to the device. */
  trimPool(): void;
  /** Work counters. */
  stats(): WebGPUStats;
  /** Live and pooled bytes; see `WebGPUMemory`. */
  memory(): WebGPUMemory;
  /**
   * Runs a fused elementwise program as one WGSL kernel (see `Backend.elementwise`); always present
   * on this backend.
   *
   * @param program - The fused program.
   * @param inputs - One buffer per program input.
   * @param scalars - The values of the program's scalar parameters.
   * @param outShape - The shape of every output; inputs broadcast to it.
   */
  elementwise(
    program: ElementwiseProgram,
    inputs: readonly KernelTensor[],
    scalars: readonly number[],
    outShape: readonly number[],
  ): DataId[];
}

/** Options of the backend itself (the device comes from `webgpuBackend`). */
export interface BackendTuning {
  /** Most bytes of free buffers kept for reuse (default 256 MiB). */
  readonly poolLimitBytes?: number;
  /** Most dispatches encoded per queue submission (default 64). */
  readonly maxDispatchesPerSubmit?: number;
  /**
   * Most bind groups cached for reuse (default 4096; 0 disables the cache). A loop of ops gets the
   * same pooled buffers back in the same roles, so its dispatches find their bind group here instead
   * of creating one each (a native bind group is only released once the event loop turns).
   */
  readonly bindGroupCacheSize?: number;
  /**
   * Most bind groups alive at once (default 16384): created and not yet garbage-collected, which in
   * Node needs a turn of the event loop. Beyond it, a dispatch with no cached group copies its
   * buffers through scratch buffers bound by a fixed group (slower, but nothing more piles up).
   */
  readonly maxLiveBindGroups?: number;
  /** Scan chunking. */
  readonly scan?: ScanOptions;
}

/** A tensor buffer of this backend: the `DataId` core hands back to every primitive. */
class WebGPUData {
  freed = false;
  constructor(
    readonly buf: PooledBuffer,
    readonly length: number,
    readonly dtype: DType,
  ) {}
}

const f32Bits = (() => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return (v: number): number => {
    f[0] = v;
    return u[0];
  };
})();

/** The 32-bit word of `value` cast to `dtype` (as `fill` and `pad` store it). */
function wordOf(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return f32Bits(value);
    case 'int32':
      // As `cast`: truncate, saturate at the int32 range, NaN to 0.
      if (Number.isNaN(value)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value))) >>> 0;
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

/**
 * Drops size-1 dims and merges neighbours that are contiguous in every stride list, so most kernels
 * see rank 1 or 2 whatever the logical rank.
 */
export function collapseDims(
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
      for (let k = 0; k < strides.length; k++) outStrides[k][last] = strides[k][d];
    } else {
      outShape.push(shape[d]);
      for (let k = 0; k < strides.length; k++) outStrides[k].push(strides[k][d]);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** The GPU (or adapter) object of each backend, held so that collecting it cannot take the device along. */
const keepAlive = new WeakMap<object, unknown>();

/** Implementation of `WebGPUBackend`; see `webgpuBackend` in `index.ts`. @internal */
export class WebGPUBackendImpl implements WebGPUBackend {
  readonly name = 'webgpu' as const;
  readonly device: GPUDevice;
  readonly adapterInfo: AdapterDescription;
  readonly kernelLimits: KernelLimits;
  private readonly rt: Runtime;
  private readonly wg: number;
  private readonly kernels = new Map<string, W.KernelSource>();
  private readonly scanMode: 'auto' | 'parallel' | 'sequential';
  private readonly minChunk: number;
  private readonly targetThreads: number;
  private dispatches = 0;
  /** Logical bytes and count of live tensor buffers (core's definition of `memory()`). */
  private tensorBytes = 0;
  private tensorBuffers = 0;
  private disposed = false;

  constructor(device: GPUDevice, info: AdapterDescription, tuning: BackendTuning, owner: unknown) {
    this.device = device;
    this.adapterInfo = info;
    keepAlive.set(this, owner);
    this.rt = new Runtime(device, {
      poolLimitBytes: tuning.poolLimitBytes ?? 256 * 2 ** 20,
      maxDispatchesPerSubmit: tuning.maxDispatchesPerSubmit ?? 64,
      bindGroupCacheSize: Math.max(0, Math.floor(tuning.bindGroupCacheSize ?? 4096)),
      maxLiveBindGroups: Math.max(0, Math.floor(tuning.maxLiveBindGroups ?? 16384)),
    });
    this.kernelLimits = this.rt.limits;
    this.wg = this.rt.limits.workgroupSize;
    this.scanMode = tuning.scan?.mode ?? 'auto';
    this.minChunk = Math.max(1, Math.floor(tuning.scan?.minChunk ?? 16));
    const software =
      info.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader/i.test(`${info.architecture} ${info.device} ${info.description}`);
    this.targetThreads = Math.max(1, Math.floor(tuning.scan?.targetThreads ?? (software ? 16 : 16384)));
  }

  // ------------------------------------------------------------------------------------------
  // Plumbing

  private kernel(key: string, make: () => W.KernelSource): W.KernelSource {
    let k = this.kernels.get(key);
    if (!k) {
      k = make();
      this.kernels.set(key, k);
    }
    return k;
  }

  private data(op: string, t: KernelTensor | DataId): WebGPUData {
    const id = (t as KernelTensor).id ?? t;
    if (!(id instanceof WebGPUData))
      throw new BackendError(op, 'a buffer of another backend was passed to webgpu');
    if (id.freed) throw new BackendError(op, 'a freed buffer was used');
    return id;
  }

  /**
   * A tensor buffer for the output of `op`. `inputs` (the op's operands) make it prefer the buffer
   * that the same op on the same operands got last time, so that a loop's dispatches bind the same
   * buffers every iteration and reuse their cached bind groups (see `Runtime.acquire`).
   */
  private alloc(op: string, length: number, dtype: DType, inputs?: readonly WebGPUData[]): WebGPUData {
    const hint =
      inputs &&
      Runtime.hint(
        op,
        inputs.map((d) => d.buf),
      );
    const d = new WebGPUData(this.rt.acquire(op, length * 4, hint), length, dtype);
    this.tensorBytes += length * bytesPerElement(dtype);
    this.tensorBuffers++;
    return d;
  }

  /** Encodes `kernel` over `threads` invocations (1D kernels) or `threads` workgroups (`perGroup`). */
  private run(
    op: string,
    kernel: W.KernelSource,
    params: readonly number[],
    buffers: readonly PooledBuffer[],
    threads: number,
    perGroup = false,
  ): void {
    if (threads === 0) return;
    const words = new Uint32Array(params.length);
    for (let i = 0; i < params.length; i++) words[i] = params[i] >>> 0;
    const groups = perGroup ? threads : Math.ceil(threads / this.wg);
    this.rt.dispatch(op, kernel, words, buffers, groups);
    this.dispatches++;
  }

  private fillWords(op: string, out: WebGPUData, n: number, word: number): void {
    const k = this.kernel('fill', () => W.fillKernel(this.wg));
    this.run(op, k, [n, word], [out.buf], n);
  }

  // ------------------------------------------------------------------------------------------
  // Storage

  write(values: TypedArray, dtype: DType): DataId {
    this.rt.check('write');
    if (dtypeOfArray(values) !== dtype) {
      throw new DTypeError('write', `a ${values.constructor.name} cannot hold ${dtype} values`);
    }
    const out = this.alloc('write', values.length, dtype);
    // Any non-zero byte is true: kernels rely on bool words being exactly 0 or 1.
    const words = dtype === 'bool' ? Uint32Array.from(values as Uint8Array, (v) => (v ? 1 : 0)) : values;
    this.rt.upload(out.buf, words);
    return out;
  }

  fill(size: number, dtype: DType, value: number): DataId {
    const out = this.alloc('fill', size, dtype);
    this.fillWords('fill', out, size, wordOf(value, dtype));
    return out;
  }

  async read(t: KernelTensor): Promise<TypedArray> {
    const d = this.data('read', t);
    this.rt.check('read');
    const n = sizeOf(t.shape);
    if (n > d.length) throw new ShapeError('read', `shape ${fmtShape(t.shape)} is larger than its buffer`);
    if (n === 0) {
      await this.rt.sync('read');
      return allocHost(t.dtype, 0);
    }
    const bytes = await this.rt.download('read', d.buf, n * 4);
    switch (t.dtype) {
      case 'float32':
        return new Float32Array(bytes);
      case 'int32':
        return new Int32Array(bytes);
      case 'bool':
        return Uint8Array.from(new Uint32Array(bytes));
    }
  }

  free(id: DataId): void {
    const d = this.data('free', id);
    d.freed = true;
    if (this.disposed) return;
    this.tensorBytes -= d.length * bytesPerElement(d.dtype);
    this.tensorBuffers--;
    this.rt.release(d.buf);
  }

  memory(): WebGPUMemory {
    return {
      bytes: this.tensorBytes,
      buffers: this.tensorBuffers,
      pooledBytes: this.rt.pooledBytes,
      deviceBytes: this.rt.liveBytes + this.rt.pooledBytes + this.rt.scratchBytes,
    };
  }

  sync(): Promise<void> {
    return this.rt.sync('sync');
  }

  trimPool(): void {
    this.rt.trimPool();
  }

  stats(): WebGPUStats {
    return {
      pipelines: this.rt.pipelineCount,
      dispatches: this.dispatches,
      bindGroups: this.rt.bindGroupsCreated,
      cachedBindGroups: this.rt.cachedBindGroups,
      liveBindGroups: this.rt.liveBindGroups,
      scratchDispatches: this.rt.scratchDispatches,
    };
  }

  dispose(): void {
    this.disposed = true;
    this.tensorBytes = 0;
    this.tensorBuffers = 0;
    this.rt.dispose();
  }

  // ------------------------------------------------------------------------------------------
  // Elementwise

  unary(op: UnaryOp, x: KernelTensor): DataId {
    const xd = this.data(op, x);
    if (
      op === 'not' ? x.dtype !== 'bool' : FLOAT_UNARY_OPS.has(op) ? x.dtype !== 'float32' : x.dtype === 'bool'
    ) {
      throw new DTypeError(op, `not defined for ${x.dtype}${fmtShape(x.shape)}`);
    }
    const n = sizeOf(x.shape);
    const out = this.alloc(op, n, x.dtype, [xd]);
    const k = this.kernel(`unary/${op}/${x.dtype}`, () => W.unaryKernel(this.wg, op, x.dtype));
    this.run(op, k, [n], [xd.buf, out.buf], n);
    return out;
  }

  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    const ad = this.data(op, a);
    const bd = this.data(op, b);
    if (a.dtype !== b.dtype) throw new DTypeError(op, `dtypes differ: ${a.dtype} and ${b.dtype}`);
    const logical = op === 'and' || op === 'or';
    const arith = !logical && !W.isComparison(op);
    if (
      (logical && a.dtype !== 'bool') ||
      (arith && a.dtype === 'bool') ||
      (op === 'pow' && a.dtype !== 'float32')
    ) {
      throw new DTypeError(op, `not defined for ${a.dtype}${fmtShape(a.shape)}`);
    }
    const n = sizeOf(outShape);
    const out = this.alloc(op, n, arith ? a.dtype : 'bool', [ad, bd]);
    const c = collapseDims(outShape, [
      broadcastStrides(a.shape, outShape),
      broadcastStrides(b.shape, outShape),
    ]);
    const k = this.kernel(`binary/${op}/${a.dtype}`, () => W.binaryKernel(this.wg, op, a.dtype));
    this.run(
      op,
      k,
      [n, c.shape.length, ...c.shape, ...c.strides[0], ...c.strides[1]],
      [ad.buf, bd.buf, out.buf],
      n,
    );
    return out;
  }

  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    const cd = this.data('where', cond);
    const ad = this.data('where', a);
    const bd = this.data('where', b);
    if (cond.dtype !== 'bool') throw new DTypeError('where', `the condition must be bool, got ${cond.dtype}`);
    if (a.dtype !== b.dtype) throw new DTypeError('where', `dtypes differ: ${a.dtype} and ${b.dtype}`);
    const n = sizeOf(outShape);
    const out = this.alloc('where', n, a.dtype, [cd, ad, bd]);
    const c = collapseDims(outShape, [
      broadcastStrides(cond.shape, outShape),
      broadcastStrides(a.shape, outShape),
      broadcastStrides(b.shape, outShape),
    ]);
    const k = this.kernel(`where/${a.dtype}`, () => W.whereKernel(this.wg, a.dtype));
    const params = [n, c.shape.length, ...c.shape, ...c.strides[0], ...c.strides[1], ...c.strides[2]];
    this.run('where', k, params, [cd.buf, ad.buf, bd.buf, out.buf], n);
    return out;
  }

  cast(x: KernelTensor, dtype: DType): DataId {
    const xd = this.data('cast', x);
    const n = sizeOf(x.shape);
    const out = this.alloc(`cast/${dtype}`, n, dtype, [xd]);
    const k = this.kernel(`cast/${x.dtype}/${dtype}`, () => W.castKernel(this.wg, x.dtype, dtype));
    this.run('cast', k, [n], [xd.buf, out.buf], n);
    return out;
  }

  /**
   * A fused program as one WGSL kernel per layout (fused.ts), split into several dispatches when its
   * operands and outputs exceed the device's storage bindings, or run as primitives when even one
   * output cannot fit.
   */
  elementwise(
    program: ElementwiseProgram,
    inputs: readonly KernelTensor[],
    scalars: readonly number[],
    outShape: readonly number[],
  ): DataId[] {
    const ins = inputs.map((x) => this.data('elementwise', x));
    const groups = planElementwise(
      program,
      inputs,
      scalars,
      outShape,
      () =>
        collapseDims(outShape, [
          stridesOf(outShape),
          ...inputs.map((x) => broadcastStrides(x.shape, outShape)),
        ]),
      this.device.limits.maxStorageBuffersPerShaderStage,
    );
    if (!groups) return runPrimitives(this, program, inputs, scalars, outShape);
    const n = sizeOf(outShape);
    const outs = program.outputs.map((o, k) =>
      this.alloc(`elementwise/${k}/${program.key}`, n, program.dtypes[o], ins),
    );
    for (const g of groups) {
      const k = this.kernel(g.key, () => fusedKernel(this.wg, program, g));
      const buffers = [...g.inputs.map((j) => ins[j].buf), ...g.outputs.map((j) => outs[j].buf)];
      this.run('elementwise', k, g.params, buffers, n);
    }
    return outs;
  }

  // ------------------------------------------------------------------------------------------
  // Reductions

  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): DataId {
    const xd = this.data(op, x);
    if (op !== 'sum' && x.dtype === 'bool')
      throw new DTypeError(op, `not defined for bool${fmtShape(x.shape)}`);
    const strides = stridesOf(x.shape);
    const keptShape: number[] = [];
    const keptStrides: number[] = [];
    const redShape: number[] = [];
    const redStrides: number[] = [];
    for (let d = 0; d < x.shape.length; d++) {
      if (axes.includes(d)) {
        redShape.push(x.shape[d]);
        redStrides.push(strides[d]);
      } else {
        keptShape.push(x.shape[d]);
        keptStrides.push(strides[d]);
      }
    }
    const outSize = sizeOf(keptShape);
    const R = sizeOf(redShape);
    const outDType: DType = op === 'sum' && x.dtype !== 'float32' ? 'int32' : x.dtype;
    const out = this.alloc(`${op}/${axes.join(',')}`, outSize, outDType, [xd]);
    if (outSize === 0) return out;
    if (R === 0) {
      if (op !== 'sum') throw new ShapeError(op, `cannot reduce a zero-size axis of ${fmtShape(x.shape)}`);
      this.fillWords(op, out, outSize, 0);
      return out;
    }
    const kept = collapseDims(keptShape, [keptStrides]);
    const red = collapseDims(redShape, [redStrides]);
    const params = [
      outSize,
      R,
      kept.shape.length,
      red.shape.length,
      ...kept.shape,
      ...kept.strides[0],
      ...red.shape,
      ...red.strides[0],
    ];
    const tree = R >= 1024 || (R >= 64 && outSize < 4096);
    if (tree) {
      const k = this.kernel(`reduceTree/${op}/${x.dtype}`, () => W.reduceTreeKernel(this.wg, op, x.dtype));
      this.run(op, k, params, [xd.buf, out.buf], outSize, true);
    } else {
      const k = this.kernel(`reduceSerial/${op}/${x.dtype}`, () =>
        W.reduceSerialKernel(this.wg, op, x.dtype),
      );
      this.run(op, k, params, [xd.buf, out.buf], outSize);
    }
    return out;
  }

  argReduce(op: ArgReduceOp, x: KernelTensor, axis: number): DataId {
    const xd = this.data(op, x);
    if (x.dtype === 'bool') throw new DTypeError(op, `not defined for bool${fmtShape(x.shape)}`);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError(op, `axis ${axis} is out of range for ${fmtShape(x.shape)}`);
    }
    const N = x.shape[axis];
    const inner = sizeOf(x.shape.slice(axis + 1));
    const outSize = sizeOf(x.shape.filter((_, i) => i !== axis));
    if (outSize > 0 && N === 0) throw new ShapeError(op, `cannot take the ${op} of a zero-size axis`);
    const out = this.alloc(`${op}/${axis}`, outSize, 'int32', [xd]);
    const k = this.kernel(`arg/${op}/${x.dtype}`, () => W.argReduceKernel(this.wg, op, x.dtype));
    this.run(op, k, [outSize, N, inner], [xd.buf, out.buf], outSize);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Matmul

  matmul(a: KernelTensor, b: KernelTensor, spec: MatmulSpec): DataId {
    const ad = this.data('matmul', a);
    const bd = this.data('matmul', b);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      throw new DTypeError('matmul', `expected float32 operands, got ${a.dtype} and ${b.dtype}`);
    }
    const { batch, m, k, n } = spec;
    const size = batch * m * n;
    const out = this.alloc(
      `matmul/${spec.transposeA}/${spec.transposeB}/${batch}/${m}/${k}/${n}`,
      size,
      'float32',
      [ad, bd],
    );
    if (size === 0) return out;
    if (k === 0) {
      this.fillWords('matmul', out, size, 0);
      return out;
    }
    const ts = this.kernelLimits.matmulTile;
    const bm = ts * 4;
    const tilesM = Math.ceil(m / bm);
    const tilesN = Math.ceil(n / bm);
    const kern = this.kernel(`matmul/${ts}`, () => W.matmulKernel(ts));
    const params = [
      m,
      k,
      n,
      batch,
      spec.aBatchStride,
      spec.bBatchStride,
      spec.transposeA ? 1 : 0,
      spec.transposeB ? 1 : 0,
      tilesM,
      tilesN,
    ];
    this.run('matmul', kern, params, [ad.buf, bd.buf, out.buf], batch * tilesM * tilesN, true);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Movement

  strided(x: KernelTensor, shape: readonly number[], strides: readonly number[], offset: number): DataId {
    const xd = this.data('strided', x);
    if (strides.length !== shape.length) {
      throw new ShapeError('strided', `${strides.length} strides for shape ${fmtShape(shape)}`);
    }
    const n = sizeOf(shape);
    const out = this.alloc(`strided/${offset}/${shape}/${strides}`, n, x.dtype, [xd]);
    const c = collapseDims(shape, [strides]);
    const k = this.kernel('strided', () => W.stridedKernel(this.wg));
    this.run('strided', k, [n, c.shape.length, offset, ...c.shape, ...c.strides[0]], [xd.buf, out.buf], n);
    return out;
  }

  pad(x: KernelTensor, widths: readonly (readonly [number, number])[], value: number): DataId {
    const xd = this.data('pad', x);
    if (widths.length !== x.shape.length) {
      throw new ShapeError('pad', `${widths.length} pad widths for shape ${fmtShape(x.shape)}`);
    }
    const outShape = x.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
    const n = sizeOf(outShape);
    const out = this.alloc(`pad/${widths}/${value}`, n, x.dtype, [xd]);
    const word = wordOf(value, x.dtype);
    if (sizeOf(x.shape) === 0) {
      this.fillWords('pad', out, n, word);
      return out;
    }
    const k = this.kernel('pad', () => W.padKernel(this.wg));
    const params = [
      n,
      x.shape.length,
      word,
      ...outShape,
      ...widths.map((w) => w[0]),
      ...x.shape,
      ...stridesOf(x.shape),
    ];
    this.run('pad', k, params, [xd.buf, out.buf], n);
    return out;
  }

  concat(xs: readonly KernelTensor[], axis: number): DataId {
    if (xs.length === 0) throw new ValueError('concat', 'nothing to concatenate');
    const first = xs[0];
    const rank = first.shape.length;
    if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
      throw new ValueError('concat', `axis ${axis} is out of range for rank ${rank}`);
    }
    for (const x of xs) {
      if (x.dtype !== first.dtype)
        throw new DTypeError('concat', `dtypes differ: ${first.dtype} and ${x.dtype}`);
      if (x.shape.length !== rank || x.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new ShapeError(
          'concat',
          `shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} differ off axis ${axis}`,
        );
      }
    }
    const inner = sizeOf(first.shape.slice(axis + 1));
    const total = xs.reduce((s, x) => s + x.shape[axis], 0);
    const outShape = first.shape.slice();
    outShape[axis] = total;
    const out = this.alloc(
      `concat/${axis}`,
      sizeOf(outShape),
      first.dtype,
      xs.map((x) => this.data('concat', x)),
    );
    const k = this.kernel('concat', () => W.concatKernel(this.wg));
    let at = 0;
    for (const x of xs) {
      const n = sizeOf(x.shape);
      const xd = this.data('concat', x);
      if (n > 0)
        this.run('concat', k, [n, x.shape[axis] * inner, total * inner, at * inner], [xd.buf, out.buf], n);
      at += x.shape[axis];
    }
    return out;
  }

  gather(x: KernelTensor, indices: KernelTensor, axis: number): DataId {
    const xd = this.data('gather', x);
    const id = this.data('gather', indices);
    if (indices.dtype !== 'int32')
      throw new DTypeError('gather', `indices must be int32, got ${indices.dtype}`);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError('gather', `axis ${axis} is out of range for ${fmtShape(x.shape)}`);
    }
    const pre = sizeOf(x.shape.slice(0, axis));
    const N = x.shape[axis];
    const post = sizeOf(x.shape.slice(axis + 1));
    const J = sizeOf(indices.shape);
    const n = pre * J * post;
    const out = this.alloc('gather', n, x.dtype, [xd, id]);
    const k = this.kernel('gather', () => W.gatherKernel(this.wg));
    this.run('gather', k, [n, N, J, post], [xd.buf, id.buf, out.buf], n);
    return out;
  }

  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, size: number): DataId {
    const ud = this.data('scatterAdd', updates);
    const id = this.data('scatterAdd', indices);
    if (updates.dtype !== 'float32')
      throw new DTypeError('scatterAdd', `updates must be float32, got ${updates.dtype}`);
    if (indices.dtype !== 'int32')
      throw new DTypeError('scatterAdd', `indices must be int32, got ${indices.dtype}`);
    const ir = indices.shape.length;
    if (!Number.isInteger(axis) || axis < 0 || axis + ir > updates.shape.length) {
      throw new ValueError('scatterAdd', `axis ${axis} does not fit updates ${fmtShape(updates.shape)}`);
    }
    if (!updates.shape.slice(axis, axis + ir).every((d, i) => d === indices.shape[i])) {
      throw new ShapeError(
        'scatterAdd',
        `updates ${fmtShape(updates.shape)} do not match indices ${fmtShape(indices.shape)} at axis ${axis}`,
      );
    }
    const pre = sizeOf(updates.shape.slice(0, axis));
    const post = sizeOf(updates.shape.slice(axis + ir));
    const J = sizeOf(indices.shape);
    const n = pre * size * post;
    const out = this.alloc('scatterAdd', n, 'float32', [ud, id]);
    if (n === 0) return out;
    if (J === 0) {
      this.fillWords('scatterAdd', out, n, 0);
      return out;
    }
    // Deterministic without atomics: bucket the index positions by slot (counting sort in index
    // order), then one invocation per output element sums its bucket in index order.
    const counts = this.rt.acquire('scatterAdd', size * 4);
    const starts = this.rt.acquire('scatterAdd', (size + 1) * 4);
    const list = this.rt.acquire('scatterAdd', J * 4);
    const kc = this.kernel('scatterCount', () => W.scatterCountKernel(this.wg));
    const ko = this.kernel('scatterOffsets', () => W.scatterOffsetsKernel(this.wg));
    const kl = this.kernel('scatterList', () => W.scatterListKernel(this.wg));
    const ks = this.kernel('scatterSum', () => W.scatterSumKernel(this.wg));
    this.run('scatterAdd', kc, [size, J], [id.buf, counts], size);
    this.run('scatterAdd', ko, [size], [counts, starts], 1);
    this.run('scatterAdd', kl, [size, J], [id.buf, starts, list], size);
    this.run('scatterAdd', ks, [n, size, J, post], [ud.buf, starts, list, out.buf], n);
    this.rt.release(counts);
    this.rt.release(starts);
    this.rt.release(list);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Random

  random(dist: RandomDist, size: number, key: readonly [number, number], offset: number): DataId {
    const out = this.alloc('random', size, dist === 'bits' ? 'int32' : 'float32');
    const k = this.kernel(`random/${dist}`, () => W.randomKernel(this.wg, dist));
    this.run('random', k, [size, offset >>> 0, key[0] >>> 0, key[1] >>> 0], [out.buf], Math.ceil(size / 4));
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Scan

  private scanShapes(
    op: string,
    a: KernelTensor,
    x: KernelTensor,
    h0: KernelTensor | null,
  ): { B: number; T: number; C: number; aSB: number; aST: number } {
    if (x.shape.length !== 3 || a.shape.length !== 3) {
      throw new ShapeError(
        op,
        `expected a [Ba,Ta,C] and x [B,T,C], got ${fmtShape(a.shape)} and ${fmtShape(x.shape)}`,
      );
    }
    const [B, T, C] = x.shape;
    const [Ba, Ta, Ca] = a.shape;
    if ((Ba !== 1 && Ba !== B) || (Ta !== 1 && Ta !== T) || Ca !== C) {
      throw new ShapeError(op, `a ${fmtShape(a.shape)} does not broadcast against x ${fmtShape(x.shape)}`);
    }
    if (h0 && (h0.shape.length !== 2 || h0.shape[0] !== B || h0.shape[1] !== C)) {
      throw new ShapeError(op, `h0 ${fmtShape(h0.shape)} should be [${B},${C}]`);
    }
    for (const t of [a, x, h0]) {
      if (t && t.dtype !== 'float32') throw new DTypeError(op, `expected float32, got ${t.dtype}`);
    }
    return { B, T, C, aSB: Ba === 1 ? 0 : Ta * C, aST: Ta === 1 ? 0 : C };
  }

  /**
   * Number of chunks for a level of `lanes` independent recurrences of length `T` (1: sequential).
   *
   * Chunks are at least `sqrt(T)` long, which keeps the recursion shallow. (It used to be for accuracy
   * too, when chunk products were float32 and their roundings added up coherently over the chunks of a
   * time-invariant `a`; they are float-float now, see `scanLevel`.)
   */
  private chunksFor(lanes: number, T: number, top: boolean): number {
    if (T < 2 || this.scanMode === 'sequential') return 1;
    const L = Math.max(
      this.minChunk,
      Math.ceil(Math.sqrt(T)),
      Math.ceil(T / Math.ceil(this.targetThreads / lanes)),
    );
    const K = Math.ceil(T / L);
    if (this.scanMode === 'parallel' && top) return Math.max(2, K);
    return K >= 2 ? K : 1;
  }

  /**
   * One level of the chunked scan: `out[b,t,c] = a[b,t,c] * h + x[b,t,c]` run over logical time, from
   * `h0` (zero when null). With more than one chunk: phase 1 reduces each chunk to a pair, the carries
   * entering each chunk are the *exclusive* scan of the pairs (the same recurrence one level down,
   * written shifted by one step), and phase 3 re-runs each chunk from its carry. `shift` makes this
   * level exclusive.
   *
   * The `top` level reads and writes the float32 tensors (one buffer per real part, two per complex
   * part). The levels below it hold chunk pairs and carries in float-float (one buffer
   * of `vec2<f32>` or `vec4<f32>` per operand, see `scanReduceKernel`), so that a time-invariant `a`
   * does not repeat the same rounding of its chunk product in every chunk; only phase 3 of the top
   * level runs in float32.
   */
  private scanLevel(
    complex: boolean,
    a: PooledBuffer[],
    aSB: number,
    aST: number,
    x: PooledBuffer[],
    dims: { B: number; T: number; C: number },
    h0: PooledBuffer[] | null,
    reverse: boolean,
    out: PooledBuffer[],
    shift: boolean,
    top: boolean,
  ): void {
    const op = complex ? 'scanComplex' : 'scan';
    const { B, T, C } = dims;
    const ffBytes = complex ? 16 : 8;
    let K = this.chunksFor(B * C, T, top);
    const chunkKernel = top
      ? this.kernel(`scanChunk/${complex}/${K > 1}`, () => W.scanChunkKernel(this.wg, complex, K > 1))
      : this.kernel(`scanChunkFF/${complex}`, () => W.scanChunkFFKernel(this.wg, complex));
    if (K === 1) {
      const params = [B, T, C, aSB, aST, reverse ? 1 : 0, T, 1, h0 ? 1 : 0, shift ? 1 : 0];
      this.run(op, chunkKernel, params, [...a, ...x, ...(h0 ?? x), ...out], B * C);
      return;
    }
    const L = Math.ceil(T / K);
    K = Math.ceil(T / L);
    const m = B * K * C;
    const pairA = this.rt.acquire(op, m * ffBytes);
    const pairB = this.rt.acquire(op, m * ffBytes);
    const carries = this.rt.acquire(op, m * ffBytes);
    const reduceKernel = this.kernel(`scanReduce/${complex}/${!top}`, () =>
      W.scanReduceKernel(this.wg, complex, !top),
    );
    this.run(op, reduceKernel, [B, T, C, aSB, aST, reverse ? 1 : 0, L, K], [...a, ...x, pairA, pairB], m);
    // h0 enters the carries' scan in their float-float layout.
    let packed: PooledBuffer | null = null;
    if (h0 && top) {
      packed = this.rt.acquire(op, B * C * ffBytes);
      const pack = this.kernel(`scanPack/${complex}`, () => W.scanPackKernel(this.wg, complex));
      this.run(op, pack, [B * C], [...h0, packed], B * C);
    }
    const carryH0 = packed ? [packed] : h0;
    this.scanLevel(
      complex,
      [pairA],
      K * C,
      C,
      [pairB],
      { B, T: K, C },
      carryH0,
      false,
      [carries],
      true,
      false,
    );
    const params = [B, T, C, aSB, aST, reverse ? 1 : 0, L, K, 1, shift ? 1 : 0];
    this.run(op, chunkKernel, params, [...a, ...x, carries, ...out], m);
    for (const b of [pairA, pairB, carries, ...(packed ? [packed] : [])]) this.rt.release(b);
  }

  scan(args: ScanArgs): DataId {
    const { a, x, h0, reverse } = args;
    const s = this.scanShapes('scan', a, x, h0);
    const operands = [a, x, ...(h0 ? [h0] : [])].map((t) => this.data('scan', t));
    const out = this.alloc(`scan/${reverse}`, s.B * s.T * s.C, 'float32', operands);
    if (s.B * s.T * s.C === 0) return out;
    const h0Bufs = h0 ? [this.data('scan', h0).buf] : null;
    this.scanLevel(
      false,
      [this.data('scan', a).buf],
      s.aSB,
      s.aST,
      [this.data('scan', x).buf],
      s,
      h0Bufs,
      reverse,
      [out.buf],
      false,
      true,
    );
    return out;
  }

  scanComplex(args: ComplexScanArgs): [DataId, DataId] {
    const op = 'scanComplex';
    const s = this.scanShapes(op, args.aRe, args.xRe, args.h0Re);
    this.scanShapes(op, args.aIm, args.xIm, args.h0Im);
    const pairs: [KernelTensor, KernelTensor][] = [
      [args.aRe, args.aIm],
      [args.xRe, args.xIm],
    ];
    for (const [re, im] of pairs) {
      if (re.shape.join() !== im.shape.join()) {
        throw new ShapeError(
          op,
          `real and imaginary parts differ: ${fmtShape(re.shape)} and ${fmtShape(im.shape)}`,
        );
      }
    }
    if ((args.h0Re === null) !== (args.h0Im === null)) {
      throw new ValueError(op, 'give both parts of h0 or neither');
    }
    const n = s.B * s.T * s.C;
    const operands = [args.aRe, args.aIm, args.xRe, args.xIm, args.h0Re, args.h0Im]
      .filter((t): t is KernelTensor => t !== null)
      .map((t) => this.data(op, t));
    const outRe = this.alloc(`${op}/${args.reverse}/re`, n, 'float32', operands);
    const outIm = this.alloc(`${op}/${args.reverse}/im`, n, 'float32', operands);
    if (n === 0) return [outRe, outIm];
    const buf = (t: KernelTensor) => this.data(op, t).buf;
    const h0 = args.h0Re && args.h0Im ? [buf(args.h0Re), buf(args.h0Im)] : null;
    this.scanLevel(
      true,
      [buf(args.aRe), buf(args.aIm)],
      s.aSB,
      s.aST,
      [buf(args.xRe), buf(args.xIm)],
      s,
      h0,
      args.reverse,
      [outRe.buf, outIm.buf],
      false,
      true,
    );
    return [outRe, outIm];
  }
}
