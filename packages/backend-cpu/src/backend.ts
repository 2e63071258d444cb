/**
 * `CpuBackend`: storage and dispatch. Each buffer is a `CpuBuffer` wrapping one typed array; the
 * kernels themselves live in the sibling modules and work on plain typed arrays.
 *
 * Design: the backend is synchronous (every kernel has finished when it returns), so `read` simply
 * resolves a copy and `readSync` exists. Buffers are tracked in a set, which gives exact `memory()`
 * figures, catches a double `free` or a use after `free` with an error naming the op, and lets
 * `dispose()` release everything. Freed arrays of a few MiB go to a pool (pool.ts) that the next
 * kernel of that size reuses: fresh large arrays cost page faults that dominated whole kernels. The
 * pool is reported apart from live bytes (`pooledBytes`). Input validation here is limited to what is
 * cheap and turns a silent wrong answer into an error (dtype mismatches, shapes that disagree with
 * their buffers, out-of-range indices); core validates user-facing arguments before calling in.
 */

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
  type ElementwiseProgram,
  fmtShape,
  type KernelTensor,
  type MatmulSpec,
  philoxFill,
  type RandomDist,
  type ReduceOp,
  type ScanArgs,
  ShapeError,
  type TypedArray,
  type UnaryOp,
  ValueError,
} from '@mru/core';
import {
  binaryDType,
  binaryKernel,
  castKernel,
  floatToInt,
  unaryDType,
  unaryKernel,
  whereKernel,
} from './elementwise.js';
import { elementwiseKernel } from './fused.js';
import { matmulKernel } from './matmul.js';
import { concatKernel, gatherKernel, padKernel, scatterAddKernel, stridedKernel } from './movement.js';
import { hostArray, hostPoolBytes, recycle } from './pool.js';
import { argReduceKernel, reduceDType, reduceKernel } from './reduce.js';
import { complexScanKernel, scanGeometry, scanKernel } from './scan.js';
import { broadcastStridesOrNull } from './walk.js';

/**
 * One CPU buffer: the `DataId` this backend hands to core. Core treats it as opaque; backend authors
 * debugging the CPU backend may read `values`.
 */
export class CpuBuffer {
  /** The element values, row-major. */
  readonly values: TypedArray;
  /** Element type of `values`. */
  readonly dtype: DType;
  /** @internal */
  constructor(values: TypedArray, dtype: DType) {
    this.values = values;
    this.dtype = dtype;
  }
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

/**
 * The CPU backend: every primitive of the `Backend` contract on typed arrays, synchronously. It is
 * the reference the other backends are tested against, so it favours exactness (float64
 * accumulation in sums, matmul and scatter-add) while staying cache-friendly.
 */
export class CpuBackend implements Backend {
  /** Always `'cpu'`. */
  readonly name = 'cpu';
  readonly #live = new Set<CpuBuffer>();
  #bytes = 0;
  #disposed = false;

  // -------------------------------------------------------------------------------------------------
  // Storage

  #adopt(values: TypedArray, dtype: DType): CpuBuffer {
    if (this.#disposed) throw new BackendError('cpu', 'the backend was disposed');
    const buf = new CpuBuffer(values, dtype);
    this.#live.add(buf);
    this.#bytes += values.byteLength;
    return buf;
  }

  /** The live buffer behind `id`, or a `BackendError` naming `op` (freed, foreign or disposed). */
  #buffer(op: string, id: DataId): CpuBuffer {
    if (!(id instanceof CpuBuffer) || !this.#live.has(id)) {
      throw new BackendError(
        op,
        this.#disposed
          ? 'the backend was disposed'
          : id instanceof CpuBuffer
            ? 'the buffer was already freed'
            : 'the buffer does not belong to this cpu backend',
      );
    }
    return id;
  }

  /** The values of operand `t`, checked against its declared shape and dtype. */
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

  /** A buffer of `size` copies of `value`: float32 rounds, int32 truncates (saturating), bool is `!= 0`. */
  fill(size: number, dtype: DType, value: number): DataId {
    if (!Number.isInteger(size) || size < 0) throw new ValueError('fill', `invalid size ${size}`);
    const values = hostArray(dtype, size);
    if (dtype === 'bool') values.fill(value !== 0 ? 1 : 0);
    else if (dtype === 'int32') values.fill(floatToInt(value));
    else values.fill(value);
    return this.#adopt(values, dtype);
  }

  /** Resolves to a copy of the values. */
  async read(t: KernelTensor): Promise<TypedArray> {
    return this.readSync(t);
  }

  /** A copy of the values, synchronously. */
  readSync(t: KernelTensor): TypedArray {
    return this.#values('read', t).slice();
  }

  /**
   * Releases the buffer; a second `free` of the same buffer throws a `BackendError`. After
   * `dispose()` it is a no-op, so tensors that outlive their backend can still be disposed.
   */
  free(id: DataId): void {
    if (this.#disposed) return;
    const buf = this.#buffer('free', id);
    this.#live.delete(buf);
    this.#bytes -= buf.values.byteLength;
    recycle(buf.values);
  }

  /**
   * Releases the buffer like `free` but hands its array to the caller instead of the reuse pool:
   * for a backend that embeds this one and adopts its results without a copy (the gpu.js backend).
   * Nothing else in this backend refers to the array afterwards.
   *
   * @param id - The buffer.
   */
  detach(id: DataId): TypedArray {
    const buf = this.#buffer('detach', id);
    this.#live.delete(buf);
    this.#bytes -= buf.values.byteLength;
    return buf.values;
  }

  /** Exact bytes and count of live buffers; `pooledBytes` is what the shared host-array pool keeps. */
  memory(): BackendMemory {
    return { bytes: this.#bytes, buffers: this.#live.size, pooledBytes: hostPoolBytes() };
  }

  // -------------------------------------------------------------------------------------------------
  // Elementwise

  /** See `UnaryOp`; float32 results are computed in float64 and rounded once. */
  unary(op: UnaryOp, x: KernelTensor): DataId {
    const outDType = unaryDType(op, x.dtype);
    return this.#adopt(unaryKernel(op, this.#values(op, x), outDType), outDType);
  }

  /** See `BinaryOp`; int32 division by zero gives 0. */
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    if (a.dtype !== b.dtype) throw new DTypeError(op, `operands differ in dtype: ${a.dtype} and ${b.dtype}`);
    const av = this.#values(op, a);
    const bv = this.#values(op, b);
    const as = this.#broadcast(op, a.shape, outShape);
    const bs = this.#broadcast(op, b.shape, outShape);
    const out = binaryKernel(
      op,
      a.dtype,
      av,
      as,
      bv,
      bs,
      outShape,
      rowMajorStrides(outShape),
      sizeOfShape(outShape),
    );
    return this.#adopt(out, binaryDType(op, a.dtype));
  }

  /** `cond ? a : b` with broadcasting. */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: readonly number[]): DataId {
    if (cond.dtype !== 'bool') throw new DTypeError('where', `condition must be bool, got ${cond.dtype}`);
    if (a.dtype !== b.dtype)
      throw new DTypeError('where', `branches differ in dtype: ${a.dtype} and ${b.dtype}`);
    const out = whereKernel(
      a.dtype,
      this.#values('where', cond),
      this.#broadcast('where', cond.shape, outShape),
      this.#values('where', a),
      this.#broadcast('where', a.shape, outShape),
      this.#values('where', b),
      this.#broadcast('where', b.shape, outShape),
      outShape,
      rowMajorStrides(outShape),
      sizeOfShape(outShape),
    );
    return this.#adopt(out, a.dtype);
  }

  /**
   * A fused elementwise program as one generated JS kernel (fused.ts), bit-identical to running its
   * nodes as primitives.
   */
  elementwise(
    program: ElementwiseProgram,
    inputs: readonly KernelTensor[],
    scalars: readonly number[],
    outShape: readonly number[],
  ): DataId[] {
    const values = inputs.map((x, i) => {
      if (x.dtype !== program.inputDTypes[i]) {
        throw new DTypeError(
          'elementwise',
          `operand ${i} is ${x.dtype}, the program expects ${program.inputDTypes[i]}`,
        );
      }
      return this.#values('elementwise', x);
    });
    const strides = inputs.map((x) => this.#broadcast('elementwise', x.shape, outShape));
    const outs = elementwiseKernel(program, values, strides, scalars, outShape);
    return outs.map((v, k) => this.#adopt(v, program.dtypes[program.outputs[k]]));
  }

  #broadcast(op: string, shape: readonly number[], outShape: readonly number[]): number[] {
    const s = broadcastStridesOrNull(shape, outShape);
    if (!s) throw new ShapeError(op, `shape ${fmtShape(shape)} does not broadcast to ${fmtShape(outShape)}`);
    return s;
  }

  /** float32 to int32 truncates toward zero and saturates at the int32 range (NaN gives 0). */
  cast(x: KernelTensor, dtype: DType): DataId {
    return this.#adopt(castKernel(this.#values('cast', x), x.dtype, dtype), dtype);
  }

  // -------------------------------------------------------------------------------------------------
  // Reductions and matmul

  /** Float64 accumulation; `max`/`min` propagate NaN. */
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
    const out = reduceKernel(op, values, x.dtype, x.shape, axes);
    return this.#adopt(out, reduceDType(op, x.dtype));
  }

  /** First index of the extreme value; the first NaN wins. */
  argReduce(op: ArgReduceOp, x: KernelTensor, axis: number): DataId {
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError(op, `axis ${axis} is out of range for shape ${fmtShape(x.shape)}`);
    }
    return this.#adopt(argReduceKernel(op, this.#values(op, x), x.shape, axis), 'int32');
  }

  /** Register-tiled, float64-accumulating product; see matmul.ts. */
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
    return this.#adopt(matmulKernel(av, bv, spec), 'float32');
  }

  // -------------------------------------------------------------------------------------------------
  // Movement

  /** Copies a strided view; the largest address is checked against the buffer. */
  strided(x: KernelTensor, shape: readonly number[], strides: readonly number[], offset: number): DataId {
    if (strides.length !== shape.length) {
      throw new ShapeError('strided', `${strides.length} strides for shape ${fmtShape(shape)}`);
    }
    return this.#adopt(stridedKernel(this.#values('strided', x), x.dtype, shape, strides, offset), x.dtype);
  }

  /** Constant padding. */
  pad(x: KernelTensor, widths: readonly (readonly [number, number])[], value: number): DataId {
    return this.#adopt(padKernel(this.#values('pad', x), x.dtype, x.shape, widths, value), x.dtype);
  }

  /** Concatenation along `axis`. */
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
    return this.#adopt(
      concatKernel(
        values,
        xs.map((x) => x.shape),
        first.dtype,
        axis,
      ),
      first.dtype,
    );
  }

  /** Throws a `ValueError` on an index outside `[0, x.shape[axis])`. */
  gather(x: KernelTensor, indices: KernelTensor, axis: number): DataId {
    if (indices.dtype !== 'int32')
      throw new DTypeError('gather', `indices must be int32, got ${indices.dtype}`);
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
      throw new ValueError('gather', `axis ${axis} is out of range for shape ${fmtShape(x.shape)}`);
    }
    const idx = this.#values('gather', indices) as Int32Array;
    return this.#adopt(gatherKernel(this.#values('gather', x), x.dtype, x.shape, idx, axis), x.dtype);
  }

  /** Accumulates repeated indices in float64; throws a `ValueError` on an out-of-range index. */
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
    return this.#adopt(scatterAddKernel(u, updates.shape, idx, r, axis, size), 'float32');
  }

  // -------------------------------------------------------------------------------------------------
  // Random numbers and scan

  /** Philox4x32-10 through core's reference `philoxFill`, so it is the specification itself. */
  random(dist: RandomDist, size: number, key: readonly [number, number], offset: number): DataId {
    if (!Number.isInteger(size) || size < 0) throw new ValueError('random', `invalid size ${size}`);
    const dtype: DType = dist === 'bits' ? 'int32' : 'float32';
    const out = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
    philoxFill(dist, out, key, offset);
    return this.#adopt(out, dtype);
  }

  /** Sequential float32 scan; see scan.ts. */
  scan(args: ScanArgs): DataId {
    const { a, x, h0, reverse } = args;
    const g = scanGeometry('scan', a.shape, x.shape, h0 ? h0.shape : null);
    const h = scanKernel(
      g,
      this.#float('scan', a, 'a'),
      this.#float('scan', x, 'x'),
      h0 ? this.#float('scan', h0, 'h0') : null,
      reverse,
    );
    return this.#adopt(h, 'float32');
  }

  /** Sequential complex scan; see scan.ts. */
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
    const g = scanGeometry('scanComplex', aRe.shape, xRe.shape, h0Re ? h0Re.shape : null);
    const f = (t: KernelTensor, role: string) => this.#float('scanComplex', t, role);
    const [hRe, hIm] = complexScanKernel(
      g,
      f(aRe, 'aRe'),
      f(aIm, 'aIm'),
      f(xRe, 'xRe'),
      f(xIm, 'xIm'),
      h0Re ? f(h0Re, 'h0Re') : null,
      h0Im ? f(h0Im, 'h0Im') : null,
      reverse,
    );
    return [this.#adopt(hRe, 'float32'), this.#adopt(hIm, 'float32')];
  }

  // -------------------------------------------------------------------------------------------------
  // Lifetime

  /** No-op: every kernel has completed when it returns. */
  async sync(): Promise<void> {}

  /** Frees every buffer; later calls (but `free`) fail with a `BackendError`. Disposing twice is harmless. */
  dispose(): void {
    this.#live.clear();
    this.#bytes = 0;
    this.#disposed = true;
  }
}

/** Creates a new, independent CPU backend (its own buffers and memory accounting). */
export function cpuBackend(): CpuBackend {
  return new CpuBackend();
}
