/**
 * The WebGPU runtime under the backend: buffer pool, pipeline cache, command batching, parameter
 * uploads and readback. It knows nothing about tensors or ops; `backend.ts` builds on it.
 *
 * Design:
 * - Buffer pool. Tensor buffers are rounded up to a size class (powers of two up to 64 KiB, then
 *   steps of an eighth of the power of two below, so at most 12.5% is wasted) and returned to a free list of
 *   their class when released. `live` counts the bytes of buffers handed out, `pooled` the bytes
 *   waiting in free lists; both are exact sums of `GPUBuffer.size`. Above `poolLimit` a released
 *   buffer is destroyed instead (after the pending commands that may use it are submitted).
 * - Stream order. Every dispatch goes into one pending command encoder, submitted as a batch on
 *   `flush()`: when a read needs results, when the parameter arena is full, or at the end of the
 *   current JavaScript task (a microtask), so a burst of synchronous op calls becomes one submission.
 *   A released buffer may be reused by a later dispatch at once (the queue runs commands in order);
 *   only a `queue.writeBuffer` into a buffer that the unsubmitted batch still uses must wait, because
 *   writes go ahead of unsubmitted commands: such writes flush first.
 * - Parameters. Each dispatch gets a 512-byte slot of one uniform buffer; the slots of a batch are
 *   written with one `writeBuffer` just before its submission (queue order makes reuse by the next
 *   batch safe). The slot is bind group 1, one fixed group per slot, so that bind group 0 (the
 *   storage buffers) does not depend on it. (A dynamic offset would do the same, but lavapipe runs
 *   dispatches with dynamic offsets markedly slower.)
 * - Bind groups. A native bind group (a Vulkan descriptor set; on lavapipe a 4 KiB memory mapping
 *   of its own) is released only when its JS object is garbage-collected and Node runs the
 *   finalizer, which needs a turn of the event loop. A fresh bind group per dispatch therefore piled
 *   up one per kernel in a synchronous stream of ops until the next `await`, and at ~65k lavapipe
 *   segfaulted in `vkCreateDescriptorPool` (Linux's `vm.max_map_count` is 65530). So:
 *   - groups are cached by layout and storage buffers (LRU, `bindGroupCacheSize`), and dropped
 *     when one of their buffers is destroyed;
 *   - an op's output prefers the buffer that the same op on the same inputs got last time (the
 *     `hint` of `acquire`), so a loop binds the same buffers every iteration and hits the cache;
 *   - at most `maxLiveBindGroups` groups are alive (created, not yet collected: counted with a
 *     `FinalizationRegistry`); beyond that, a dispatch with no cached group copies its buffers into
 *     scratch buffers bound by a fixed group, runs there, and copies its outputs back.
 * - Pipelines are cached by WGSL source; bind group layouts by the number of input and output
 *   storage bindings (group 0), the parameter layout (group 1) is shared.
 * - Errors. Validation and out-of-memory errors are captured with `onuncapturederror` and raised as a
 *   `BackendError` at the next read or sync; a lost device makes every later call throw.
 */
/// <reference types="@webgpu/types" preserve="true" />
import { BackendError } from '@mru/core';
import { type KernelSource, PARAM_WORDS } from './wgsl.js';

// Numeric values of the WebGPU flag namespaces, so the runtime needs no globals (Node's `webgpu`
// package only defines `GPUBufferUsage` and friends when its `globals` are installed).
const USAGE_MAP_READ = 0x0001;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_UNIFORM = 0x0040;
const USAGE_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;
const STAGE_COMPUTE = 0x4;

const PARAM_BYTES = PARAM_WORDS * 4;
/** Bits of 1.0f, stored in the last word of every parameter block (`opaque_one` in WGSL). */
const ONE_F32_BITS = 0x3f800000;

/**
 * The bytes a buffer of `bytes` bytes really occupies: its size class. Powers of two up to 64 KiB
 * (at least 16), then multiples of 1/8 of the power of two below `bytes` (at most 12.5% waste).
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 16) return 16;
  const octave = 2 ** Math.ceil(Math.log2(bytes));
  if (octave <= 65536) return octave;
  const step = octave / 16;
  return Math.ceil(bytes / step) * step;
}

/** A storage buffer handed out by the pool. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Allocated bytes (the size class). */
  readonly bytes: number;
  /** Serial of the last batch that bound it (see `Runtime.batchSerial`). */
  usedInBatch: number;
  /** Unique id of the buffer: bind groups are cached by the ids of their buffers. */
  readonly id: number;
  /** Keys of the cached bind groups that bind this buffer (forgotten when it is destroyed). */
  readonly groups: Set<string>;
  /** Position in its size class's free list, or -1 while handed out (or destroyed). */
  freeIndex: number;
}

/** Tunables of the runtime. */
export interface RuntimeOptions {
  /** Most bytes kept in the free lists of the pool; larger releases destroy buffers. */
  readonly poolLimitBytes: number;
  /** Most dispatches encoded before a submission. */
  readonly maxDispatchesPerSubmit: number;
  /** Most bind groups kept for reuse (least recently used ones are dropped first). */
  readonly bindGroupCacheSize: number;
  /**
   * Most bind groups alive at once (created and not yet garbage-collected). Beyond it, a dispatch
   * that finds no cached group copies its buffers through scratch buffers with a fixed bind group.
   */
  readonly maxLiveBindGroups: number;
}

/** A cached bind group and the buffers it binds. */
interface CachedGroup {
  readonly group: GPUBindGroup;
  readonly buffers: readonly PooledBuffer[];
}

/** Device limits the kernels depend on. */
export interface KernelLimits {
  /** Invocations of 1D kernels: a power of two within the device limits, at most 256. */
  readonly workgroupSize: number;
  /** Side of the square matmul workgroup (16 where 256 invocations fit, else 8). */
  readonly matmulTile: number;
  /** Largest workgroup count in one grid dimension. */
  readonly maxWorkgroupsPerDimension: number;
  /** Largest storage binding: no tensor may be bigger. */
  readonly maxStorageBindingBytes: number;
}

/** Reads the limits the kernels need from a device. */
export function kernelLimits(limits: GPUSupportedLimits): KernelLimits {
  const cap = Math.min(256, limits.maxComputeWorkgroupSizeX, limits.maxComputeInvocationsPerWorkgroup);
  const workgroupSize = 2 ** Math.floor(Math.log2(cap));
  const matmulTile =
    limits.maxComputeInvocationsPerWorkgroup >= 256 &&
    limits.maxComputeWorkgroupSizeX >= 16 &&
    limits.maxComputeWorkgroupSizeY >= 16 &&
    limits.maxComputeWorkgroupStorageSize >= 8192
      ? 16
      : 8;
  return {
    workgroupSize,
    matmulTile,
    maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    maxStorageBindingBytes: Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize),
  };
}

/** Device, pool, pipelines and the pending command batch. */
export class Runtime {
  readonly device: GPUDevice;
  readonly limits: KernelLimits;
  private readonly options: RuntimeOptions;

  private readonly freeLists = new Map<number, PooledBuffer[]>();
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  private readonly layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Buffers to destroy once the batch that may use them is submitted. */
  private graveyard: GPUBuffer[] = [];
  /** Every buffer this runtime created and has not destroyed (for `dispose`). */
  private readonly owned = new Set<GPUBuffer>();
  /** Bind groups by layout and buffer ids, least recently used first (a `Map` keeps insertion order). */
  private readonly groupCache = new Map<string, CachedGroup>();
  private nextBufferId = 1;
  /** Bind groups created (cache misses). */
  bindGroupsCreated = 0;
  /** Bind groups created whose JS object has not been collected yet (their native part lives on). */
  liveBindGroups = 0;
  /** Dispatches run through the scratch buffers because `maxLiveBindGroups` were alive. */
  scratchDispatches = 0;
  /** Bytes of the scratch buffers. */
  scratchBytes = 0;
  private readonly groupCollected = new FinalizationRegistry<number>(() => {
    this.liveBindGroups--;
  });
  /** Scratch buffers by binding (inputs then outputs), and a bind group over them per layout. */
  private scratch: PooledBuffer[] = [];
  private readonly scratchGroups = new Map<string, GPUBindGroup>();
  /**
   * The buffer last handed out for each allocation hint (an op and the ids of its inputs), offered
   * again when it is free: a loop's ops then get their outputs in the same buffers every iteration,
   * so the bind groups of its dispatches repeat and come from the cache. Least recently used first.
   */
  private readonly affinity = new Map<string, PooledBuffer>();

  /** Bytes of buffers handed out and not yet released. */
  liveBytes = 0;
  /** Number of buffers handed out and not yet released. */
  liveBuffers = 0;
  /** Bytes waiting in the free lists (storage and staging). */
  pooledBytes = 0;
  /** Serial of the batch being encoded; incremented by each submission. */
  batchSerial = 1;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramBuffer: GPUBuffer;
  /** Bind group 1 of every pipeline: the parameter block. */
  private readonly paramLayout: GPUBindGroupLayout;
  /** One bind group per parameter slot (over that slot of `paramBuffer`), made once. */
  private readonly paramGroups: GPUBindGroup[] = [];
  private readonly paramHost: Uint32Array;
  private readonly paramSlots: number;
  private slotsUsed = 0;
  private flushScheduled = false;

  private firstError: string | null = null;
  private lostMessage: string | null = null;
  private disposed = false;

  constructor(device: GPUDevice, options: RuntimeOptions) {
    this.device = device;
    this.options = options;
    this.limits = kernelLimits(device.limits);
    if (device.limits.minUniformBufferOffsetAlignment > PARAM_BYTES) {
      throw new BackendError(
        'webgpu',
        `unsupported minUniformBufferOffsetAlignment ${device.limits.minUniformBufferOffsetAlignment}`,
      );
    }
    this.paramSlots = Math.max(1, options.maxDispatchesPerSubmit);
    this.paramHost = new Uint32Array(this.paramSlots * PARAM_WORDS);
    this.paramBuffer = device.createBuffer({
      label: 'mru params',
      size: this.paramSlots * PARAM_BYTES,
      usage: USAGE_UNIFORM | USAGE_COPY_DST,
    });
    this.paramLayout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: 'uniform', minBindingSize: PARAM_BYTES } },
      ],
    });
    for (let slot = 0; slot < this.paramSlots; slot++) {
      this.paramGroups.push(
        device.createBindGroup({
          layout: this.paramLayout,
          entries: [
            {
              binding: 0,
              resource: { buffer: this.paramBuffer, offset: slot * PARAM_BYTES, size: PARAM_BYTES },
            },
          ],
        }),
      );
    }
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.firstError ??= ev.error.message;
    };
    device.lost.then((info) => {
      if (!this.disposed) this.lostMessage = `${info.reason}: ${info.message}`;
    });
  }

  /** Throws a `BackendError` if the backend was disposed or its device lost. */
  check(op: string): void {
    if (this.disposed) throw new BackendError(op, 'the WebGPU backend was disposed; create a new one');
    if (this.lostMessage !== null) {
      throw new BackendError(
        op,
        `the WebGPU device was lost (${this.lostMessage}); its tensors are gone, create a new backend`,
      );
    }
  }

  /** Throws the first captured WebGPU error, if any (and forgets it). */
  private raiseCaptured(op: string): void {
    if (this.firstError !== null) {
      const msg = this.firstError;
      this.firstError = null;
      throw new BackendError(op, `WebGPU reported an error: ${msg}`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Buffers

  /**
   * A storage buffer of at least `bytes` bytes from the pool (a fresh one if none is free). With a
   * `hint`, the buffer last acquired with the same hint is preferred when it is free.
   */
  acquire(op: string, bytes: number, hint?: string): PooledBuffer {
    this.check(op);
    const cls = sizeClass(bytes);
    if (cls > this.limits.maxStorageBindingBytes) {
      throw new BackendError(
        op,
        `a buffer of ${bytes} bytes exceeds this device's largest storage binding ` +
          `(${this.limits.maxStorageBindingBytes} bytes)`,
      );
    }
    // A reused buffer keeps its `usedInBatch`: `upload` needs it to order writes after readers.
    const list = this.freeLists.get(cls);
    let b: PooledBuffer | undefined;
    if (list && list.length > 0) {
      const wanted = hint === undefined ? undefined : this.affinity.get(hint);
      b = wanted && wanted.bytes === cls && wanted.freeIndex >= 0 ? wanted : list[list.length - 1];
      // Swap-remove: the last entry takes the chosen one's place.
      const last = list.pop() as PooledBuffer;
      if (last !== b) {
        list[b.freeIndex] = last;
        last.freeIndex = b.freeIndex;
      }
      b.freeIndex = -1;
      this.pooledBytes -= cls;
    } else {
      const buffer = this.device.createBuffer({
        size: cls,
        usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
      });
      this.owned.add(buffer);
      b = { buffer, bytes: cls, usedInBatch: 0, id: this.nextBufferId++, groups: new Set(), freeIndex: -1 };
    }
    if (hint !== undefined && this.options.bindGroupCacheSize > 0) {
      this.affinity.delete(hint);
      this.affinity.set(hint, b);
      if (this.affinity.size > this.options.bindGroupCacheSize) {
        this.affinity.delete(this.affinity.keys().next().value as string);
      }
    }
    this.liveBytes += cls;
    this.liveBuffers++;
    return b;
  }

  /** The allocation hint of an output of `op` computed from `inputs` (see `acquire`). */
  static hint(op: string, inputs: readonly PooledBuffer[]): string {
    let key = op;
    for (const b of inputs) key += `,${b.id}`;
    return key;
  }

  /** Returns a buffer to the pool (or schedules its destruction beyond the pool limit). */
  release(b: PooledBuffer): void {
    if (this.disposed) return; // dispose already destroyed it and zeroed the counts
    this.liveBytes -= b.bytes;
    this.liveBuffers--;
    if (this.pooledBytes + b.bytes > this.options.poolLimitBytes) {
      this.forgetGroups(b);
      this.bury(b.buffer);
      return;
    }
    let list = this.freeLists.get(b.bytes);
    if (!list) {
      list = [];
      this.freeLists.set(b.bytes, list);
    }
    b.freeIndex = list.length;
    list.push(b);
    this.pooledBytes += b.bytes;
  }

  private bury(buffer: GPUBuffer): void {
    if (this.disposed) return;
    this.owned.delete(buffer);
    if (this.encoder) this.graveyard.push(buffer);
    else buffer.destroy();
  }

  /** Drops the cached bind groups that bind `b` (it is about to be destroyed). */
  private forgetGroups(b: PooledBuffer): void {
    for (const key of b.groups) this.dropGroup(key);
  }

  /** Removes one bind group from the cache and from the key sets of its buffers. */
  private dropGroup(key: string): void {
    const entry = this.groupCache.get(key);
    if (!entry) return;
    this.groupCache.delete(key);
    for (const b of entry.buffers) b.groups.delete(key);
  }

  /** Number of bind groups in the cache. */
  get cachedBindGroups(): number {
    return this.groupCache.size;
  }

  /** Destroys every pooled (free) buffer. */
  trimPool(): void {
    for (const list of this.freeLists.values()) {
      for (const b of list) {
        b.freeIndex = -1;
        this.forgetGroups(b);
        this.bury(b.buffer);
      }
    }
    for (const list of this.stagingFree.values()) for (const buffer of list) this.bury(buffer);
    for (const b of this.scratch) this.bury(b.buffer);
    this.scratch = [];
    this.scratchGroups.clear();
    this.scratchBytes = 0;
    this.freeLists.clear();
    this.stagingFree.clear();
    this.pooledBytes = 0;
  }

  /** Uploads host bytes into a pooled buffer, flushing first if unsubmitted commands still use it. */
  upload(b: PooledBuffer, data: ArrayBufferView): void {
    if (data.byteLength === 0) return;
    if (b.usedInBatch === this.batchSerial && this.encoder) this.flush();
    this.device.queue.writeBuffer(b.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Copies `bytes` bytes of `src` to the host. The copy is encoded now, so releasing `src` right
   * after this call is safe.
   */
  async download(op: string, src: PooledBuffer, bytes: number): Promise<ArrayBuffer> {
    this.check(op);
    const cls = sizeClass(bytes);
    let staging = this.stagingFree.get(cls)?.pop();
    if (staging) this.pooledBytes -= cls;
    else {
      staging = this.device.createBuffer({ size: cls, usage: USAGE_MAP_READ | USAGE_COPY_DST });
      this.owned.add(staging);
    }
    const encoder = this.openEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(MAP_MODE_READ, 0, bytes);
    } catch (e) {
      this.check(op);
      this.raiseCaptured(op);
      throw new BackendError(op, `reading back from the GPU failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    if (this.pooledBytes + cls > this.options.poolLimitBytes) this.bury(staging);
    else if (!this.disposed) {
      let list = this.stagingFree.get(cls);
      if (!list) {
        list = [];
        this.stagingFree.set(cls, list);
      }
      list.push(staging);
      this.pooledBytes += cls;
    }
    this.raiseCaptured(op);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Pipelines and dispatch

  private layout(
    inputs: number,
    outputs: number,
  ): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = `${inputs}/${outputs}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < inputs + outputs; i++) {
        entries.push({
          binding: i + 1,
          visibility: STAGE_COMPUTE,
          buffer: { type: i < inputs ? 'read-only-storage' : 'storage' },
        });
      }
      const group = this.device.createBindGroupLayout({ entries });
      l = {
        group,
        pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group, this.paramLayout] }),
      };
      this.layouts.set(key, l);
    }
    return l;
  }

  private pipeline(k: KernelSource): GPUComputePipeline {
    let p = this.pipelines.get(k.code);
    if (!p) {
      const module = this.device.createShaderModule({ code: k.code });
      p = this.device.createComputePipeline({
        layout: this.layout(k.inputs, k.outputs).pipeline,
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(k.code, p);
    }
    return p;
  }

  /** Number of distinct pipelines compiled so far. */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.encoder = this.device.createCommandEncoder();
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => {
          this.flushScheduled = false;
          if (!this.disposed && this.encoder) this.flush();
        });
      }
    }
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /**
   * Grid of workgroups for `count` workgroups: 1D when it fits, else folded into 2D (kernels rebuild
   * the linear index as `x + y * nwg.x` and ignore the excess).
   */
  grid(op: string, count: number): [number, number] {
    const max = this.limits.maxWorkgroupsPerDimension;
    if (count <= max) return [count, 1];
    const y = Math.ceil(count / max);
    if (y > max) throw new BackendError(op, `a dispatch of ${count} workgroups is too large for this device`);
    return [Math.ceil(count / y), y];
  }

  /**
   * Encodes one dispatch of `kernel` with parameters `params` (at most `PARAM_WORDS` words), storage
   * buffers `buffers` (inputs then outputs) and `workgroups` workgroups (folded into a grid).
   */
  dispatch(
    op: string,
    kernel: KernelSource,
    params: Uint32Array,
    buffers: readonly PooledBuffer[],
    workgroups: number,
  ): void {
    this.check(op);
    if (workgroups === 0) return;
    if (params.length > PARAM_WORDS - 1) {
      throw new BackendError(op, `too many dimensions for one kernel (${params.length} parameter words)`);
    }
    if (buffers.length !== kernel.inputs + kernel.outputs) {
      throw new BackendError(op, `internal: kernel expects ${kernel.inputs + kernel.outputs} buffers`);
    }
    if (this.slotsUsed === this.paramSlots) this.flush();
    const [gx, gy] = this.grid(op, workgroups);
    const pipeline = this.pipeline(kernel);
    const slot = this.slotsUsed++;
    this.paramHost.fill(0, slot * PARAM_WORDS, (slot + 1) * PARAM_WORDS);
    this.paramHost.set(params, slot * PARAM_WORDS);
    this.paramHost[(slot + 1) * PARAM_WORDS - 1] = ONE_F32_BITS;
    for (const b of buffers) b.usedInBatch = this.batchSerial;
    const group = this.bindGroup(kernel, buffers);
    const encoder = this.openEncoder();
    if (!group) {
      this.dispatchThroughScratch(encoder, kernel, pipeline, buffers, this.paramGroups[slot], gx, gy);
      return;
    }
    this.pass ??= encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.setBindGroup(1, this.paramGroups[slot]);
    this.pass.dispatchWorkgroups(gx, gy);
  }

  /**
   * Runs a dispatch without a bind group of its own: copies every buffer into the scratch buffer of
   * its binding, dispatches over the scratch buffers' fixed bind group, and copies the outputs back
   * (outputs are copied in too, for kernels that write only part of theirs, as `concat` does). Used
   * when `maxLiveBindGroups` groups are alive, which in Node means the event loop has not turned for
   * a long stream of ops whose buffers are new (see the file comment).
   */
  private dispatchThroughScratch(
    encoder: GPUCommandEncoder,
    kernel: KernelSource,
    pipeline: GPUComputePipeline,
    buffers: readonly PooledBuffer[],
    params: GPUBindGroup,
    gx: number,
    gy: number,
  ): void {
    this.endPass();
    for (let i = 0; i < buffers.length; i++) {
      const have = this.scratch[i];
      if (have && have.bytes >= buffers[i].bytes) continue;
      if (have) {
        this.bury(have.buffer); // after this batch is submitted: earlier commands may use it
        this.scratchBytes -= have.bytes;
      }
      const buffer = this.device.createBuffer({
        label: 'mru scratch',
        size: buffers[i].bytes,
        usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
      });
      this.owned.add(buffer);
      this.scratch[i] = {
        buffer,
        bytes: buffers[i].bytes,
        usedInBatch: 0,
        id: this.nextBufferId++,
        groups: new Set(),
        freeIndex: -1,
      };
      this.scratchBytes += buffers[i].bytes;
      this.scratchGroups.clear();
    }
    const layoutKey = `${kernel.inputs}/${kernel.outputs}`;
    let group = this.scratchGroups.get(layoutKey);
    if (!group) {
      group = this.createGroup(kernel, this.scratch.slice(0, buffers.length));
      this.scratchGroups.set(layoutKey, group);
    }
    for (let i = 0; i < buffers.length; i++) {
      encoder.copyBufferToBuffer(buffers[i].buffer, 0, this.scratch[i].buffer, 0, buffers[i].bytes);
    }
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.setBindGroup(1, params);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    for (let i = kernel.inputs; i < buffers.length; i++) {
      encoder.copyBufferToBuffer(this.scratch[i].buffer, 0, buffers[i].buffer, 0, buffers[i].bytes);
    }
    this.scratchDispatches++;
  }

  /**
   * The bind group of `kernel`'s layout over `buffers`: from the cache when these buffers were bound
   * the same way before, else created (evicting the least recently used group beyond
   * `bindGroupCacheSize`); null when it would have to be created but `maxLiveBindGroups` are alive.
   */
  private bindGroup(kernel: KernelSource, buffers: readonly PooledBuffer[]): GPUBindGroup | null {
    let key = `${kernel.inputs}/${kernel.outputs}`;
    for (const b of buffers) key += `,${b.id}`;
    const hit = this.groupCache.get(key);
    if (hit) {
      // Move to the most recently used end.
      this.groupCache.delete(key);
      this.groupCache.set(key, hit);
      return hit.group;
    }
    if (this.liveBindGroups >= this.options.maxLiveBindGroups) return null;
    const group = this.createGroup(kernel, buffers);
    this.bindGroupsCreated++;
    this.liveBindGroups++;
    this.groupCollected.register(group, 0);
    const limit = this.options.bindGroupCacheSize;
    if (limit > 0) {
      while (this.groupCache.size >= limit) {
        const oldest = this.groupCache.keys().next().value as string;
        this.dropGroup(oldest);
      }
      this.groupCache.set(key, { group, buffers: buffers.slice() });
      for (const b of buffers) b.groups.add(key);
    }
    return group;
  }

  /** Bind group 0 of `kernel`'s layout: `buffers` (inputs, then outputs) at bindings 1, 2, ... */
  private createGroup(kernel: KernelSource, buffers: readonly PooledBuffer[]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    for (let i = 0; i < buffers.length; i++) {
      entries.push({ binding: i + 1, resource: { buffer: buffers[i].buffer } });
    }
    return this.device.createBindGroup({ layout: this.layout(kernel.inputs, kernel.outputs).group, entries });
  }

  /** Submits the pending batch (no-op when nothing is pending). */
  flush(): void {
    if (this.disposed || !this.encoder) return;
    this.endPass();
    const commands = this.encoder.finish();
    this.encoder = null;
    if (this.slotsUsed > 0) {
      this.device.queue.writeBuffer(
        this.paramBuffer,
        0,
        this.paramHost.buffer,
        0,
        this.slotsUsed * PARAM_BYTES,
      );
    }
    this.device.queue.submit([commands]);
    this.slotsUsed = 0;
    this.batchSerial++;
    for (const b of this.graveyard) b.destroy();
    this.graveyard = [];
  }

  /** Submits pending work and waits until the device has finished it. */
  async sync(op: string): Promise<void> {
    this.check(op);
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check(op);
    this.raiseCaptured(op);
  }

  /** Destroys every buffer and the device. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder = null;
    this.pass = null;
    for (const b of this.owned) b.destroy();
    for (const b of this.graveyard) b.destroy();
    this.owned.clear();
    this.groupCache.clear();
    this.affinity.clear();
    this.scratch = [];
    this.scratchGroups.clear();
    this.scratchBytes = 0;
    this.graveyard = [];
    this.freeLists.clear();
    this.stagingFree.clear();
    this.pipelines.clear();
    this.layouts.clear();
    this.pooledBytes = 0;
    this.liveBytes = 0;
    this.liveBuffers = 0;
    this.paramBuffer.destroy();
    this.device.destroy();
  }
}
