/**
 * What the browser test serves (through the shared static server of test/browser/harness.js):
 * `/core/` is packages/core/dist, `/backend-webgpu/` is packages/backend-webgpu/dist (the built
 * packages, as a user's bundler would see them), and `/` is this folder (index.html, page.js,
 * workload.js).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StaticServer, startServer as serve } from '../../../../test/browser/harness.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const packagesDir = resolve(here, '../../..');

/** Starts the server on 127.0.0.1 (a secure context, so the page gets `navigator.gpu`). */
export function startServer(): Promise<StaticServer> {
  return serve([
    ['/core/', join(packagesDir, 'core/dist')],
    ['/backend-webgpu/', join(packagesDir, 'backend-webgpu/dist')],
    ['/', here],
  ]);
}
