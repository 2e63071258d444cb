/**
 * @mru/backend-webgpu/node: the WebGPU entry point in Node, from Dawn's node bindings (the npm
 * package `webgpu`). Kept apart from the main entry so that browsers never see the native module.
 *
 * ```ts
 * import { webgpuBackend } from '@mru/backend-webgpu';
 * import { nodeGpu } from '@mru/backend-webgpu/node';
 * const backend = await webgpuBackend({ gpu: await nodeGpu() });
 * ```
 *
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
import { BackendError } from '@mru/core';

/** Options of `nodeGpu`. */
export interface NodeGpuOptions {
  /**
   * Dawn flags, e.g. `['backend=vulkan']`, `['backend=opengl']` (with `EGL_PLATFORM=surfaceless` on a
   * machine without a display) or `['adapter=llvmpipe']`. Default: none (Dawn picks).
   */
  readonly flags?: readonly string[];
}

const instances = new Map<string, Promise<GPU>>();

/**
 * Dawn's `GPU` object for Node (one per set of flags, created on first use). Loads the native
 * module lazily; throws a `BackendError` if the `webgpu` package cannot be loaded.
 *
 * @param options - Dawn flags (for example `backend=opengl`).
 */
export function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  const flags = [...(options.flags ?? [])];
  const key = flags.join('\n');
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = import('webgpu').then(
      (m) => m.create(flags) as GPU,
      (e: Error) => {
        instances.delete(key);
        throw new BackendError(
          'nodeGpu',
          `cannot load the 'webgpu' package (Dawn's node bindings): ${e.message}; install it with \`npm install webgpu\``,
        );
      },
    );
    instances.set(key, gpu);
  }
  return gpu;
}
