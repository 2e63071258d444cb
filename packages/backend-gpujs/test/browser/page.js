/**
 * The browser side of browser.test.ts: builds a gpu.js backend on WebGL2 from `window.GPU` (set by
 * gpu.js's own browser bundle, loaded by index.html), runs the shared workload on it and then on the
 * CPU backend in the same page, and returns plain arrays (what `page.evaluate` can carry back to
 * Node). The import map in index.html resolves the `@mru/*` packages to their built `dist/` folders.
 * Running the CPU side here rather than in Node keeps @mru/models out of this package's
 * dependencies (models' tests depend on this backend; the reverse would be a cycle).
 */

import { cpuBackend } from '@mru/backend-cpu';
import { gpujsBackend } from '@mru/backend-gpujs';
import * as core from '@mru/core';
import * as models from '@mru/models';
import { workload } from './workload.js';

/**
 * What the page knows about its WebGL2 context and WebGPU, for the test's log and assertions.
 * `webgpu` is whether an adapter exists: Chromium keeps `navigator.gpu` even with WebGPU disabled,
 * and answers `requestAdapter()` with null.
 */
async function environment() {
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl?.getExtension('WEBGL_debug_renderer_info');
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter().catch(() => null) : null;
  return {
    webgl2: !!gl,
    renderer: gl ? gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : null,
    webgpu: adapter !== null,
    userAgent: navigator.userAgent,
  };
}

/**
 * A Float32Array as base64 of its bytes: `page.evaluate` moves a string of 1.6 MB in milliseconds,
 * but a plain array of 400,000 numbers element by element in tens of seconds.
 */
function base64(values) {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * A workload's results in a form `page.evaluate` carries (scan arrays as base64 float32); the scan
 * inputs only with `inputs` (once is enough: their fingerprints prove both runs drew the same).
 */
function plain(out, inputs) {
  const scans = {};
  for (const [name, { h, a, b, aPrint, bPrint }] of Object.entries(out.scans)) {
    scans[name] = { h: base64(h), aPrint, bPrint };
    if (inputs) Object.assign(scans[name], { a: base64(a), b: base64(b) });
  }
  return { scans, train: out.train };
}

/**
 * Runs the workload on gpu.js in WebGL2 mode, then on the CPU backend; rejects (failing the test)
 * if gpu.js cannot run in WebGL2 mode here.
 */
export async function run() {
  const backend = await gpujsBackend({ GPU: window.GPU, mode: 'webgl2' });
  let gpujs;
  let millis;
  try {
    await core.setBackend(backend);
    const start = performance.now();
    gpujs = plain(await workload(core, models), false);
    millis = performance.now() - start;
    gpujs.mode = backend.mode;
    gpujs.kernelCalls = backend.kernelCalls;
  } finally {
    backend.dispose();
  }
  const cpu = cpuBackend();
  try {
    await core.setBackend(cpu);
    const start = performance.now();
    const cpuOut = plain(await workload(core, models), true);
    return { env: await environment(), millis, cpuMillis: performance.now() - start, gpujs, cpu: cpuOut };
  } finally {
    cpu.dispose();
  }
}
