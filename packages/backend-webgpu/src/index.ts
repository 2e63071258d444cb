/**
 * @mru/backend-webgpu: every mru primitive as a WGSL compute kernel, on any WebGPU implementation:
 * `navigator.gpu` in browsers, Dawn (the npm package `webgpu`) in Node.
 *
 * ```ts
 * import { setBackend } from '@mru/core';
 * import { webgpuBackend } from '@mru/backend-webgpu';
 * await setBackend(await webgpuBackend()); // browser: uses navigator.gpu
 *
 * import { nodeGpu } from '@mru/backend-webgpu/node';
 * await setBackend(await webgpuBackend({ gpu: await nodeGpu() })); // Node
 * ```
 *
 * This entry imports nothing from Node, so it bundles for browsers as is; the native Dawn module is
 * only loaded by `@mru/backend-webgpu/node`.
 *
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
import { BackendError } from '@mru/core';
import { type BackendTuning, type WebGPUBackend, WebGPUBackendImpl } from './backend.js';

export type {
  AdapterDescription,
  BackendTuning,
  ScanOptions,
  WebGPUBackend,
  WebGPUMemory,
  WebGPUStats,
} from './backend.js';
export type { KernelLimits } from './runtime.js';

/** Where the device comes from, and how the backend is tuned. */
export interface WebGPUBackendOptions extends BackendTuning {
  /**
   * The WebGPU entry point. Default: `navigator.gpu` (browsers). In Node pass `await nodeGpu()` from
   * `@mru/backend-webgpu/node`, or `create([])` from the `webgpu` package.
   */
  readonly gpu?: GPU;
  /** An adapter to use instead of requesting one from `gpu`. */
  readonly adapter?: GPUAdapter;
  /** Adapter preference passed to `requestAdapter` (ignored when `adapter` is given). */
  readonly powerPreference?: GPUPowerPreference;
  /**
   * `'compatibility'` also accepts adapters that only offer WebGPU compatibility mode, such as Dawn's
   * OpenGL backend (ignored when `adapter` is given). Default `'core'`.
   */
  readonly featureLevel?: 'core' | 'compatibility';
}

/** What to install when no adapter can be found; part of the error `webgpuBackend` throws. */
export const NO_ADAPTER_HELP =
  'In Node without a GPU, Dawn needs a Vulkan driver: install Mesa lavapipe (Debian bookworm: ' +
  "add 'deb http://deb.debian.org/debian bookworm-backports main' to the apt sources, then " +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers`; Mesa 24 or newer), or install ' +
  "Debian's chromium and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader), " +
  "or use Dawn's OpenGL backend: webgpuBackend({ gpu: await nodeGpu({ flags: ['backend=opengl'] }), " +
  "featureLevel: 'compatibility' }) with EGL_PLATFORM=surfaceless. " +
  'In a browser, use one with WebGPU enabled (headless Chromium: --enable-unsafe-webgpu ' +
  '--use-webgpu-adapter=swiftshader).';

/** Adapter limits worth asking for: the defaults are lower than what most adapters offer. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Creates a WebGPU backend: requests an adapter (unless one is given) and a device with the
 * adapter's storage and workgroup limits. Throws core's `BackendError` naming what to install when
 * there is no WebGPU or no adapter. Call `dispose()` when done: in Node, a live device keeps the
 * process running.
 *
 * @param options - Where the device comes from (`gpu`, default `navigator.gpu`, or an `adapter`), the power preference and the feature level.
 */
export async function webgpuBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const op = 'webgpuBackend';
  let adapter = options.adapter ?? null;
  const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!adapter) {
    if (!gpu) {
      throw new BackendError(
        op,
        'no WebGPU implementation: pass { gpu } (in Node: `gpu: await nodeGpu()` from ' +
          `'@mru/backend-webgpu/node'), or run in a browser with navigator.gpu. ${NO_ADAPTER_HELP}`,
      );
    }
    const request: GPURequestAdapterOptions = {};
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    if (options.featureLevel) request.featureLevel = options.featureLevel;
    adapter = await gpu.requestAdapter(request);
    if (!adapter) throw new BackendError(op, `no WebGPU adapter was found. ${NO_ADAPTER_HELP}`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = adapter.limits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    throw new BackendError(op, `the adapter refused a device: ${(e as Error).message}`);
  }
  const info = adapter.info ?? ({} as Partial<GPUAdapterInfo>);
  const adapterInfo = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
  return new WebGPUBackendImpl(device, adapterInfo, options, gpu ?? adapter);
}
