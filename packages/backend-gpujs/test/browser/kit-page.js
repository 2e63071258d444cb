/**
 * The browser half of kit.test.ts: core's conformance kit (its built `dist/testing`, with `vitest`
 * mapped to vitest-shim.js by kit.html's import map) against the gpu.js backend in WebGL2 mode, with
 * the CPU backend as the random-stream reference, exactly as the Node kit runs it.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { gpujsBackend } from '@mru/backend-gpujs';
import { runConformance } from '@mru/core/testing';
import { runCollected } from 'vitest';

/** Declares and runs the kit; resolves to one result per test case. */
export async function runKit() {
  runConformance({
    name: 'gpujs webgl2',
    factory: () => gpujsBackend({ GPU: window.GPU, mode: 'webgl2' }),
    reference: cpuBackend,
  });
  const log = (r) =>
    console.log(`${r.ok ? 'pass' : 'FAIL'} ${r.ms.toFixed(0)}ms ${r.name}${r.error ? `: ${r.error}` : ''}`);
  return runCollected(log);
}
