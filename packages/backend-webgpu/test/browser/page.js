/**
 * The browser side of browser.test.ts: builds a WebGPU backend on `navigator.gpu`, runs the shared
 * workload on it, and returns plain arrays (what `page.evaluate` can carry back to Node). The import
 * map in index.html resolves `@mru/core` and `@mru/backend-webgpu` to the built `dist/` folders.
 */

import { webgpuBackend } from '@mru/backend-webgpu';
import * as core from '@mru/core';
import { workload } from './workload.js';

/** Runs the workload on WebGPU; throws (rejecting `page.evaluate`) when there is no adapter. */
export async function run() {
  const backend = await webgpuBackend();
  try {
    await core.setBackend(backend);
    const out = await workload(core);
    const scans = {};
    // The inputs stay here (their fingerprints travel instead): only `h` crosses to Node.
    for (const [name, { h, aPrint, bPrint, scanDispatches }] of Object.entries(out.scans)) {
      scans[name] = { h: Array.from(h), aPrint, bPrint, scanDispatches };
    }
    return {
      adapterInfo: { ...backend.adapterInfo },
      userAgent: navigator.userAgent,
      matmul: Array.from(out.matmul),
      scans,
    };
  } finally {
    backend.dispose();
  }
}
