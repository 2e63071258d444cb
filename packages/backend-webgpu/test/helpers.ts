/**
 * Test helpers: a backend on the machine's WebGPU adapter (tests fail, never skip, when there is
 * none), uploads and downloads of plain arrays, a seeded generator and float comparison.
 */
import type { DataId, DType, KernelTensor } from '@mru/core';
import { type WebGPUBackend, type WebGPUBackendOptions, webgpuBackend } from '../src/index.js';
import { nodeGpu } from '../src/node.js';

/**
 * A backend on the default adapter, or on the one chosen by `MRU_WEBGPU_FLAGS` (comma-separated Dawn
 * flags, e.g. `backend=opengl`) and `MRU_WEBGPU_FEATURE_LEVEL` (`compatibility` for Dawn's GL).
 */
export async function makeBackend(options: Omit<WebGPUBackendOptions, 'gpu'> = {}): Promise<WebGPUBackend> {
  const flags = process.env.MRU_WEBGPU_FLAGS?.split(',').filter(Boolean) ?? [];
  const featureLevel = process.env.MRU_WEBGPU_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : undefined;
  return webgpuBackend({ gpu: await nodeGpu({ flags }), featureLevel, ...options });
}

/** Uploads `values` as a tensor of `shape`. */
export function put(
  be: WebGPUBackend,
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType = 'float32',
): KernelTensor {
  const host =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'int32'
        ? Int32Array.from(values)
        : Uint8Array.from(values);
  return { id: be.write(host, dtype), shape, dtype };
}

/** Reads a buffer back as plain numbers, then frees it. */
export async function take(
  be: WebGPUBackend,
  id: DataId,
  shape: readonly number[],
  dtype: DType = 'float32',
): Promise<number[]> {
  const v = await be.read({ id, shape, dtype });
  be.free(id);
  return Array.from(v);
}

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` seeded values uniform in [lo, hi). */
export function randoms(seed: number, n: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Largest violation of `|a - e| <= atol + rtol |e|` (NaN and infinities must match exactly). */
export function worst(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) return Number.POSITIVE_INFINITY;
      continue;
    }
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0)) bad = Math.max(bad, Number.isNaN(err) ? Number.POSITIVE_INFINITY : err);
  }
  return bad;
}

/**
 * One backend per test file, created on first use. Tests take it in `beforeEach`, so when no adapter
 * exists every test fails with the adapter error (a failing `beforeAll` would mark them skipped).
 */
export function perFile(options: Omit<WebGPUBackendOptions, 'gpu'> = {}): {
  get(): Promise<WebGPUBackend>;
  dispose(): void;
} {
  let made: Promise<WebGPUBackend> | null = null;
  return {
    get: () => {
      made ??= makeBackend(options);
      return made;
    },
    dispose: () => {
      made?.then((b) => b.dispose()).catch(() => {});
    },
  };
}
