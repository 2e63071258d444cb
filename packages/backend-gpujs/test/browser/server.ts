/**
 * What the browser tests serve (through the shared static server of test/browser/harness.js):
 * `/core/`, `/backend-cpu/`, `/backend-gpujs/` and `/models/` are the packages' built `dist/` folders
 * (as a user's bundler would see them), `/gpu.js/` is the `dist/` folder of the gpu.js package (its
 * browser bundle), `/fast-check/` and `/pure-rand/` serve the kit's property-based case, and `/` is
 * this folder (index.html, page.js, workload.js, kit.html).
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StaticServer, startServer as serve } from '../../../../test/browser/harness.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const packagesDir = resolve(here, '../../..');
const require = createRequire(import.meta.url);

/** Starts the server on 127.0.0.1 and a free port. */
export function startServer(): Promise<StaticServer> {
  return serve([
    ['/core/', join(packagesDir, 'core/dist')],
    ['/backend-cpu/', join(packagesDir, 'backend-cpu/dist')],
    ['/backend-gpujs/', join(packagesDir, 'backend-gpujs/dist')],
    ['/models/', join(packagesDir, 'models/dist')],
    ['/gpu.js/', join(dirname(require.resolve('gpu.js')), '../dist')],
    // fast-check and its one dependency, for the kit's property-based case (kit.html's import map).
    ['/fast-check/', dirname(dirname(require.resolve('fast-check')))],
    [
      '/pure-rand/',
      join(
        dirname(createRequire(require.resolve('fast-check')).resolve('pure-rand/package.json')),
        'lib/esm',
      ),
    ],
    ['/', here],
  ]);
}
