/**
 * @mru/backend-cpu: the CPU backend of mru, every primitive of core's `Backend` contract on typed
 * arrays. It is the reference implementation the other backends are tested against, so its kernels
 * favour exactness (float64 accumulation) while staying cache-friendly (contiguous inner loops,
 * register-tiled matmul, sequential scan).
 *
 * ```ts
 * import { setBackend } from '@mru/core';
 * import { cpuBackend } from '@mru/backend-cpu';
 * await setBackend(cpuBackend());
 * ```
 *
 * @packageDocumentation
 */
export { CpuBackend, CpuBuffer, cpuBackend } from './backend.js';
export { type MatmulPath, matmulPaths, setMatmulPath } from './matmul.js';
export { clearHostPool, hostPoolBytes } from './pool.js';
