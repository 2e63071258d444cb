/**
 * Choosing the compute backend from the command line.
 *
 * Design: the CPU backend is a plain dependency. The WebGPU backend is loaded lazily with a dynamic
 * `import()` of a computed specifier, so the command (and its type check) works on machines where
 * the WebGPU package, or Dawn's native module, is missing or not built; asking for `--backend webgpu`
 * there fails with a `RunError` that says what went wrong and how to fix it. A WebGPU device keeps a
 * Node process alive, so `releaseBackend` disposes it when a command ends.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { type Backend, setBackend } from '@mru/core';
import { RunError } from './errors.js';

/** The backends the command knows. */
export const BACKEND_NAMES = ['cpu', 'webgpu', 'gpujs'] as const;

/** A backend name. */
export type BackendName = (typeof BACKEND_NAMES)[number];

let cpu: Backend | undefined;
let gpu: Backend | undefined;
let gpujs: Backend | undefined;

// Computed so that TypeScript does not resolve (or require) the package at build time.
const WEBGPU_PACKAGE = ['@mru', 'backend-webgpu'].join('/');

async function loadWebgpu(): Promise<Backend> {
  let main: { webgpuBackend?: (options?: unknown) => Promise<Backend> };
  let node: { nodeGpu?: (options?: unknown) => Promise<unknown> };
  try {
    main = await import(WEBGPU_PACKAGE);
    node = await import(`${WEBGPU_PACKAGE}/node`);
  } catch (error) {
    throw new RunError(
      `--backend webgpu: cannot load @mru/backend-webgpu (${(error as Error).message}). ` +
        'Build it with `npx tsc -p tsconfig.json` in packages/backend-webgpu (and install the `webgpu` package), ' +
        'or use --backend cpu.',
      { cause: error },
    );
  }
  if (typeof main.webgpuBackend !== 'function' || typeof node.nodeGpu !== 'function') {
    throw new RunError(
      '--backend webgpu: @mru/backend-webgpu does not export webgpuBackend and nodeGpu; use --backend cpu',
    );
  }
  try {
    return await main.webgpuBackend({ gpu: await node.nodeGpu() });
  } catch (error) {
    throw new RunError(`--backend webgpu: no WebGPU device: ${(error as Error).message}`, { cause: error });
  }
}

// Computed for the same reason as WEBGPU_PACKAGE.
const GPUJS_PACKAGE = ['@mru', 'backend-gpujs'].join('/');

async function loadGpujs(): Promise<Backend> {
  let main: { gpujsBackend?: (options?: unknown) => Promise<Backend> };
  try {
    main = await import(GPUJS_PACKAGE);
  } catch (error) {
    throw new RunError(
      `--backend gpujs: cannot load @mru/backend-gpujs (${(error as Error).message}). ` +
        'Build it with `npx tsc -p tsconfig.json` in packages/backend-gpujs, or use --backend cpu.',
      { cause: error },
    );
  }
  if (typeof main.gpujsBackend !== 'function') {
    throw new RunError('--backend gpujs: @mru/backend-gpujs does not export gpujsBackend; use --backend cpu');
  }
  try {
    return await main.gpujsBackend();
  } catch (error) {
    throw new RunError(`--backend gpujs: gpu.js cannot start: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Makes the named backend current (creating it on first use) and returns it.
 *
 * @param name - `cpu`, `webgpu` or `gpujs`.
 * @returns The backend.
 * @throws RunError when the WebGPU backend cannot be loaded or finds no device, or gpu.js cannot start.
 */
export async function useBackend(name: BackendName): Promise<Backend> {
  switch (name) {
    case 'cpu':
      cpu ??= cpuBackend();
      return setBackend(cpu);
    case 'webgpu':
      gpu ??= await loadWebgpu();
      return setBackend(gpu);
    case 'gpujs':
      gpujs ??= await loadGpujs();
      return setBackend(gpujs);
    default: {
      const never: never = name;
      throw new RunError(`unknown backend ${String(never)}`);
    }
  }
}

/** Disposes a WebGPU device (so the process can exit) and the gpu.js backend, if created. */
export function releaseBackend(): void {
  if (gpu) {
    gpu.dispose();
    gpu = undefined;
  }
  if (gpujs) {
    gpujs.dispose();
    gpujs = undefined;
  }
}
