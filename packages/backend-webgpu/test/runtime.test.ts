/**
 * The machinery under the primitives: pool accounting, pipeline reuse across shapes, batching of many
 * dispatches, the write-after-release hazard, dispatches folded into 2D grids, the bind-group cache
 * and long queues without a readback, device loss, dispose, the no-adapter error, and a main entry
 * free of Node imports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BackendError, type DataId } from '@mru/core';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type WebGPUBackend, webgpuBackend } from '../src/index.js';
import { sizeClass } from '../src/runtime.js';
import { makeBackend, perFile, put, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

describe('memory accounting', () => {
  it('size classes waste at most 1/8 beyond 64 KiB and are powers of two below', () => {
    expect([1, 16, 17, 100, 4096, 65536].map(sizeClass)).toEqual([16, 16, 32, 128, 4096, 65536]);
    for (const b of [65537, 100_000, 3_000_001, 2 ** 27 - 5]) {
      expect(sizeClass(b)).toBeGreaterThanOrEqual(b);
      expect(sizeClass(b) / b).toBeLessThanOrEqual(1.125);
    }
  });

  it('bytes are logical, deviceBytes are allocated; freed buffers move to the pool and are reused', async () => {
    be.trimPool();
    const base = be.memory();
    expect(base.pooledBytes).toBe(0);
    const a = be.fill(1000, 'float32', 1); // 4000 bytes -> class 4096
    const b = be.fill(1000, 'bool', 1); // 1000 logical bytes; one u32 word per element -> 4096
    const c = be.fill(0, 'int32', 0); // an empty tensor still holds the smallest class
    const m = be.memory();
    expect(m.bytes - base.bytes).toBe(4000 + 1000 + 0);
    expect(m.buffers - base.buffers).toBe(3);
    expect(m.deviceBytes - base.deviceBytes).toBe(4096 + 4096 + 16);
    be.free(a);
    be.free(b);
    be.free(c);
    expect(be.memory().bytes).toBe(base.bytes);
    expect(be.memory().buffers).toBe(base.buffers);
    expect(be.memory().pooledBytes).toBe(4096 + 4096 + 16);
    expect(be.memory().deviceBytes - base.deviceBytes).toBe(4096 + 4096 + 16);
    const d = be.fill(900, 'int32', 2); // 3600 bytes: same class, comes from the pool
    expect(be.memory().pooledBytes).toBe(4096 + 16);
    expect(be.memory().bytes - base.bytes).toBe(3600);
    expect(be.memory().deviceBytes - base.deviceBytes).toBe(4096 + 4096 + 16);
    expect(await take(be, d, [900], 'int32')).toEqual(new Array(900).fill(2));
    be.trimPool();
    expect(be.memory().pooledBytes).toBe(0);
    expect(be.memory().bytes).toBe(base.bytes);
    expect(be.memory().deviceBytes).toBe(base.deviceBytes);
  });

  it('temporaries of scan and scatter-add go back to the pool: only the output stays live', async () => {
    const base = be.memory();
    const T = 5000;
    const a = put(be, new Array(T).fill(0.5), [1, T, 1]);
    const x = put(be, new Array(T).fill(1), [1, T, 1]);
    const mid = be.memory();
    const h = be.scan({ a, x, h0: null, reverse: false });
    expect(be.memory().bytes - mid.bytes).toBe(T * 4);
    expect(be.memory().buffers - mid.buffers).toBe(1);
    // The chunk pairs and carries are back in the pool, not held by any tensor.
    expect(be.memory().deviceBytes - be.memory().pooledBytes - (mid.deviceBytes - mid.pooledBytes)).toBe(
      sizeClass(T * 4),
    );
    const hv = await take(be, h, [1, T, 1]);
    expect(hv[T - 1]).toBeCloseTo(2, 5);
    const idx = put(be, [0, 1, 0], [3], 'int32');
    const upd = put(be, [1, 2, 3], [3]);
    const s = be.scatterAdd(upd, idx, 0, 2);
    expect(await take(be, s, [2])).toEqual([4, 2]);
    for (const t of [a, x, idx, upd]) be.free(t.id);
    expect(be.memory().bytes).toBe(base.bytes);
    expect(be.memory().buffers).toBe(base.buffers);
  });
});

describe('pipelines and batching', () => {
  it('a new shape reuses the compiled pipeline', async () => {
    const run = async (sa: number[], sb: number[], out: number[]) => {
      const n = (s: number[]) => s.reduce((p, d) => p * d, 1);
      const a = put(be, new Array(n(sa)).fill(1), sa);
      const b = put(be, new Array(n(sb)).fill(2), sb);
      const r = await take(be, be.binary('add', a, b, out), out);
      be.free(a.id);
      be.free(b.id);
      return r;
    };
    await run([3, 4], [4], [3, 4]);
    const before = be.stats().pipelines;
    expect(await run([7, 5, 2], [5, 1], [7, 5, 2])).toEqual(new Array(70).fill(3));
    expect(await run([2, 1, 3, 1, 2], [4, 1, 1], [2, 4, 3, 1, 2])).toEqual(new Array(48).fill(3));
    expect(be.stats().pipelines).toBe(before);
  });

  it('hundreds of queued dispatches run in order across several submissions', async () => {
    let x = be.fill(1000, 'float32', 0);
    const one = be.fill(1, 'float32', 1);
    for (let i = 0; i < 300; i++) {
      const y = be.binary(
        'add',
        { id: x, shape: [1000], dtype: 'float32' },
        { id: one, shape: [], dtype: 'float32' },
        [1000],
      );
      be.free(x);
      x = y;
    }
    be.free(one);
    expect(await take(be, x, [1000])).toEqual(new Array(1000).fill(300));
  });

  it('a write into a buffer released during the unsubmitted batch does not overtake its readers', async () => {
    const src = put(be, [1, 2, 3, 4], [4]);
    const neg = be.unary('neg', src);
    be.free(src.id); // its buffer returns to the pool while `neg` is still only encoded
    const other = put(be, [9, 9, 9, 9], [4]); // same size class: takes that buffer, writes at once
    expect(await take(be, neg, [4])).toEqual([-1, -2, -3, -4]);
    expect(await take(be, other.id, [4])).toEqual([9, 9, 9, 9]);
  });

  it('dispatches beyond maxComputeWorkgroupsPerDimension are folded into a 2D grid', async () => {
    const n = be.kernelLimits.maxWorkgroupsPerDimension * be.kernelLimits.workgroupSize + 1000;
    const x = be.fill(n, 'float32', 1.5);
    const y = be.unary('neg', { id: x, shape: [n], dtype: 'float32' });
    be.free(x);
    const s = be.reduce('sum', { id: y, shape: [n], dtype: 'float32' }, [0]);
    const v = await be.read({ id: y, shape: [n], dtype: 'float32' });
    be.free(y);
    expect(v[0]).toBe(-1.5);
    expect(v[n - 1]).toBe(-1.5);
    expect(v.every((t) => t === -1.5)).toBe(true);
    expect((await take(be, s, []))[0]).toBe(-1.5 * n);
  });

  it('the scan is parallel over time on long sequences and one dispatch when sequential', () => {
    const T = 20_000;
    const a = put(be, new Array(T).fill(1), [1, T, 1]);
    const x = put(be, new Array(T).fill(1), [1, T, 1]);
    const d0 = be.stats().dispatches;
    const h = be.scan({ a, x, h0: null, reverse: false });
    expect(be.stats().dispatches - d0).toBeGreaterThanOrEqual(3);
    for (const id of [h, a.id, x.id]) be.free(id);
  });
});

/** Memory mappings of this process (Linux), or null elsewhere. */
function mappings(): number | null {
  return existsSync('/proc/self/maps') ? readFileSync('/proc/self/maps', 'utf8').split('\n').length : null;
}

/** `x + 1` for `steps` steps on a [4, 16] tensor, freeing each input: no readback in between. */
function countUp(b: WebGPUBackend, steps: number, start: DataId, one: DataId): DataId {
  let x = start;
  for (let i = 0; i < steps; i++) {
    const y = b.binary(
      'add',
      { id: x, shape: [4, 16], dtype: 'float32' },
      { id: one, shape: [4, 16], dtype: 'float32' },
      [4, 16],
    );
    b.free(x);
    x = y;
  }
  return x;
}

describe('long queues and the bind-group cache', () => {
  it('70,000 kernels queued without a readback run, reuse their bind groups and hold no mapping each', async () => {
    // Regression: every dispatch used to create a bind group, whose native descriptor set lives until
    // the event loop turns; on lavapipe each is a memory mapping of its own, and Dawn segfaulted at
    // ~65k (vm.max_map_count) when a step loop queued ~50k kernels without an await.
    const one = be.fill(64, 'float32', 1);
    const start = be.fill(64, 'float32', 0);
    const s0 = be.stats();
    const m0 = mappings();
    const x = countUp(be, 70_000, start, one);
    const s1 = be.stats();
    expect(s1.dispatches - s0.dispatches).toBe(70_000);
    expect(s1.bindGroups - s0.bindGroups).toBeLessThanOrEqual(4);
    const m1 = mappings();
    if (m0 !== null && m1 !== null) expect(m1 - m0).toBeLessThan(10_000);
    expect(await take(be, x, [64])).toEqual(new Array(64).fill(70_000));
    be.free(one);
  });

  it('the cache keeps at most bindGroupCacheSize groups, evicting the least recently used', async () => {
    const tmp = await makeBackend({ bindGroupCacheSize: 3 });
    try {
      const one = tmp.fill(64, 'float32', 1);
      // Ten live tensors, each incremented twice: more distinct bind groups than the cache holds.
      let xs = Array.from({ length: 10 }, (_, i) => tmp.fill(64, 'float32', i));
      for (let round = 0; round < 2; round++) xs = xs.map((x) => countUp(tmp, 1, x, one));
      expect(tmp.stats().cachedBindGroups).toBeLessThanOrEqual(3);
      for (let i = 0; i < 10; i++) expect(await take(tmp, xs[i], [64])).toEqual(new Array(64).fill(i + 2));
      // A loop over the same buffers hits the cache: no new groups after the first iterations.
      const start = tmp.fill(64, 'float32', 0);
      const x = countUp(tmp, 10, start, one);
      const before = tmp.stats().bindGroups;
      const y = countUp(tmp, 1000, x, one);
      expect(tmp.stats().bindGroups).toBe(before);
      expect(await take(tmp, y, [64])).toEqual(new Array(64).fill(1010));
    } finally {
      tmp.dispose();
    }
  });

  it('groups of destroyed buffers are dropped; bindGroupCacheSize 0 disables the cache', async () => {
    const tmp = await makeBackend();
    try {
      const one = tmp.fill(64, 'float32', 1);
      const x = countUp(tmp, 100, tmp.fill(64, 'float32', 0), one);
      expect(tmp.stats().cachedBindGroups).toBeGreaterThan(0);
      expect(await take(tmp, x, [64])).toEqual(new Array(64).fill(100));
      tmp.free(one);
      tmp.trimPool(); // destroys every buffer: nothing cached can be used again
      expect(tmp.stats().cachedBindGroups).toBe(0);
      const one2 = tmp.fill(64, 'float32', 1);
      expect(await take(tmp, countUp(tmp, 5, tmp.fill(64, 'float32', 2), one2), [64])).toEqual(
        new Array(64).fill(7),
      );
    } finally {
      tmp.dispose();
    }
    const none = await makeBackend({ bindGroupCacheSize: 0 });
    try {
      const one = none.fill(64, 'float32', 1);
      const d0 = none.stats();
      const x = countUp(none, 50, none.fill(64, 'float32', 0), one);
      expect(none.stats().bindGroups - d0.bindGroups).toBe(51);
      expect(none.stats().cachedBindGroups).toBe(0);
      expect(await take(none, x, [64])).toEqual(new Array(64).fill(50));
    } finally {
      none.dispose();
    }
  });

  it('70,000 kernels whose outputs all stay alive run; at most maxLiveBindGroups groups pile up', async () => {
    // Every output is a fresh buffer, so no dispatch can reuse a cached bind group: past the limit
    // they run through the scratch buffers instead of creating more (this crashed lavapipe too).
    const tmp = await makeBackend({ maxLiveBindGroups: 2048 });
    try {
      const one = tmp.fill(4, 'float32', 1);
      const kept: DataId[] = [tmp.fill(4, 'float32', 0)];
      const m0 = mappings();
      for (let i = 0; i < 70_000; i++) {
        const x = { id: kept[kept.length - 1], shape: [4], dtype: 'float32' as const };
        kept.push(tmp.binary('add', x, { id: one, shape: [4], dtype: 'float32' }, [4]));
      }
      const s = tmp.stats();
      expect(s.liveBindGroups).toBeLessThanOrEqual(2048);
      expect(s.scratchDispatches).toBeGreaterThan(60_000);
      const m1 = mappings();
      if (m0 !== null && m1 !== null) expect(m1 - m0).toBeLessThan(20_000);
      expect(await take(tmp, kept[70_000], [4])).toEqual([70_000, 70_000, 70_000, 70_000]);
      expect(await take(tmp, kept[1234], [4])).toEqual([1234, 1234, 1234, 1234]);
      const scratch = tmp.memory().deviceBytes;
      tmp.trimPool(); // frees the scratch buffers too
      expect(tmp.memory().deviceBytes).toBeLessThan(scratch);
    } finally {
      tmp.dispose();
    }
  });

  it('the scratch path computes what bound dispatches compute (elementwise, concat, scan)', async () => {
    // maxLiveBindGroups 0: every dispatch copies through the scratch buffers (the whole conformance
    // kit also runs this way in conformance-scratch.test.ts).
    const tmp = await makeBackend({ maxLiveBindGroups: 0 });
    try {
      const a = put(tmp, [1, 2, 3, 4, 5, 6], [2, 3]);
      const b = put(tmp, [10, 20, 30], [3]);
      expect(await take(tmp, tmp.binary('mul', a, b, [2, 3]), [2, 3])).toEqual([10, 40, 90, 40, 100, 180]);
      // concat writes its output in parts: outputs are copied in as well as out.
      const c = tmp.concat([a, put(tmp, [7, 8, 9], [1, 3])], 0);
      expect(await take(tmp, c, [3, 3])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const T = 3000;
      const ones = put(tmp, new Array(T).fill(1), [1, T, 1]);
      const h = tmp.scan({ a: ones, x: ones, h0: null, reverse: false });
      expect((await take(tmp, h, [1, T, 1]))[T - 1]).toBe(T);
      expect(tmp.stats().bindGroups).toBe(0);
      expect(tmp.stats().scratchDispatches).toBeGreaterThan(3);
    } finally {
      tmp.dispose();
    }
  });
});

describe('lifecycle and errors', () => {
  it('a lost device makes every call throw a BackendError', async () => {
    const lost = await makeBackend();
    const id = lost.fill(4, 'float32', 1);
    lost.device.destroy();
    await lost.device.lost;
    expect(() => lost.fill(4, 'float32', 1)).toThrow(/device was lost/);
    await expect(lost.read({ id, shape: [4], dtype: 'float32' })).rejects.toThrow(BackendError);
    lost.dispose();
  });

  it('dispose releases everything; later calls throw', async () => {
    const tmp = await makeBackend();
    const id: DataId = tmp.fill(16, 'float32', 1);
    tmp.dispose();
    expect(() => tmp.fill(1, 'float32', 0)).toThrow(/disposed/);
    await expect(tmp.read({ id, shape: [16], dtype: 'float32' })).rejects.toThrow(BackendError);
    tmp.dispose(); // idempotent
  });

  it('a WebGPU validation error surfaces as a BackendError at the next read', async () => {
    const tmp = await makeBackend();
    const id = tmp.fill(4, 'float32', 1);
    tmp.device.createShaderModule({ code: 'this is not WGSL' }); // an error the device does not throw
    await expect(tmp.read({ id, shape: [4], dtype: 'float32' })).rejects.toThrow(/WebGPU reported an error/);
    expect(await take(tmp, id, [4])).toEqual([1, 1, 1, 1]); // reported once, then forgotten
    tmp.dispose();
  });

  it('a tensor larger than the largest storage binding is refused', () => {
    const words = be.kernelLimits.maxStorageBindingBytes / 4;
    expect(() => be.fill(words + 1, 'float32', 0)).toThrow(/largest storage binding/);
  });

  it('dispose zeroes the accounting and tolerates later frees', async () => {
    const tmp = await makeBackend();
    const id = tmp.fill(100, 'float32', 1);
    tmp.dispose();
    expect(tmp.memory()).toEqual({ bytes: 0, buffers: 0, pooledBytes: 0, deviceBytes: 0 });
    tmp.free(id);
    expect(tmp.memory().bytes).toBe(0);
  });

  it('reading a freed buffer throws', async () => {
    const id = be.fill(2, 'float32', 0);
    be.free(id);
    await expect(be.read({ id, shape: [2], dtype: 'float32' })).rejects.toThrow(BackendError);
  });

  it('no adapter: the BackendError says what to install', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    const err = await webgpuBackend({ gpu: noAdapter }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/mesa-vulkan-drivers/);
    expect(err.message).toMatch(/VK_ICD_FILENAMES/);
    expect(err.message).toMatch(/EGL_PLATFORM=surfaceless/);
    // Node has no navigator.gpu: without { gpu } the error says how to get one.
    if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
      await expect(webgpuBackend()).rejects.toThrow(/nodeGpu/);
    }
  });

  it('readSync is absent (reads are asynchronous)', () => {
    expect('readSync' in be).toBe(false);
  });
});

describe('browser-safe main entry', () => {
  it('imports nothing but @mru/core and its own modules', () => {
    for (const file of ['index.ts', 'backend.ts', 'runtime.ts', 'wgsl.ts']) {
      const src = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      const statics = [...src.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)';/gm)].map((m) => m[1]);
      const dynamics = [...src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
      const specs = [...statics, ...dynamics];
      expect(statics.length).toBeGreaterThan(0);
      for (const s of specs)
        expect(s.startsWith('./') || s === '@mru/core', `${file} imports ${s}`).toBe(true);
    }
  });
});
