/**
 * Test helpers: a backend on the machine's WebGPU adapter (tests fail, never skip, when there is
 * none), uploads and downloads of plain arrays, a seeded generator and float comparison.
 */
import type { DataId, DType, KernelTensor } from '@mru/core';
import { typedArrayOf } from '@mru/core/testing';
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
  return { id: be.write(typedArrayOf(values, dtype), dtype), shape, dtype };
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
