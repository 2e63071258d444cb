/**
 * The browser side of `pnpm bench:gpujs`: the same suite in Chromium, on the CPU backend and on the
 * gpu.js backend in WebGL2 mode (gpu.js's browser bundle sets `window.GPU`; page.html's import map
 * resolves the packages to their built `dist/`).
 */
import { cpuBackend } from '@mru/backend-cpu';
import { gpujsBackend } from '@mru/backend-gpujs';
import { runSuite } from './suite.js';

/** Runs the suite; resolves to the renderer string and the rows. */
export async function run() {
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl?.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl ? gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : 'no WebGL2';
  const cpu = cpuBackend();
  const gpujs = await gpujsBackend({ GPU: window.GPU, mode: 'webgl2' });
  try {
    const rows = await runSuite([
      { label: 'cpu (Chromium)', backend: cpu },
      { label: `gpujs ${gpujs.mode} (Chromium)`, backend: gpujs },
    ]);
    return { renderer, userAgent: navigator.userAgent, rows };
  } finally {
    cpu.dispose();
    gpujs.dispose();
  }
}
