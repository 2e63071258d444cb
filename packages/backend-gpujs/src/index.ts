/**
 * @mru/backend-gpujs: a backend of mru on gpu.js, for browsers without WebGPU. Every float32
 * primitive is a gpu.js kernel (WebGL2 shaders in browsers; gpu.js's CPU or WebAssembly modes in
 * Node), int32 and bool work and the random numbers run on the host, and the scan is a chunked plan
 * of two kernels. See the package README for what runs where and when to pick it.
 *
 * ```ts
 * import { setBackend } from '@mru/core';
 * import { gpujsBackend } from '@mru/backend-gpujs';
 * await setBackend(await gpujsBackend());                       // Node: gpu.js CPU mode
 * await setBackend(await gpujsBackend({ GPU, mode: 'webgl2' })); // browser: window.GPU from gpu-browser.js
 * ```
 *
 * @packageDocumentation
 */
import { BackendError } from '@mru/core';
import { GpujsBackend, type GpujsBackendOptions, type GpujsClass, type GpujsGpu } from './backend.js';

export {
  GpujsBackend,
  type GpujsBackendOptions,
  GpujsBuffer,
  type GpujsClass,
  type GpujsGpu,
  type GpujsKernel,
  type GpujsMode,
  MAX_KERNEL_ELEMENTS,
  type ScanPlan,
  scanPlan,
  simplifyGeometry,
} from './backend.js';

/**
 * Creates a gpu.js backend. Without `options.GPU` it imports the `gpu.js` package (Node, bundlers);
 * without `options.mode` it asks for `'webgl2'` where a WebGL2 context exists and `'cpu'` otherwise
 * (Node, where gpu.js's GL modes need the optional native `gl` package). Rejects with a
 * `BackendError` naming the mode when gpu.js cannot provide it.
 *
 * @param options - The gpu.js class (`GPU`; default: imported from `gpu.js`) and the mode.
 */
export async function gpujsBackend(options: GpujsBackendOptions = {}): Promise<GpujsBackend> {
  const GPU: GpujsClass = options.GPU ?? (await loadGpujs());
  const mode = options.mode ?? defaultMode(GPU);
  let gpu: GpujsGpu;
  try {
    gpu = new GPU({ mode });
  } catch (error) {
    throw new BackendError('gpujsBackend', `gpu.js cannot run in mode ${mode} here: ${String(error)}`);
  }
  const backend = new GpujsBackend(gpu, gpu.mode ?? mode, options.scanChunk ?? 0);
  // gpu.js picks its kernel class lazily: compile and run one tiny kernel now, so that a mode that
  // is named but unsupported fails here rather than in the first op.
  backend.probe();
  return backend;
}

async function loadGpujs(): Promise<GpujsClass> {
  const mod = (await import('gpu.js')) as unknown as { GPU?: GpujsClass; default?: { GPU?: GpujsClass } };
  const GPU = mod.GPU ?? mod.default?.GPU;
  if (!GPU) throw new BackendError('gpujsBackend', 'the gpu.js package did not export GPU');
  return GPU;
}

function defaultMode(GPU: GpujsClass): 'webgl2' | 'cpu' {
  const flags = GPU as unknown as { isWebGL2Supported?: boolean };
  return typeof document !== 'undefined' && flags.isWebGL2Supported ? 'webgl2' : 'cpu';
}
