/**
 * Builds the demo into the docs site (`apps/docs/site/demo/`, beside typedoc's pages, so the landing
 * page links to `demo/index.html`). `base: './'` keeps every asset URL relative: the site works from
 * any folder or host path. The browser test builds to a temporary folder with `--outDir`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../docs/site/demo', import.meta.url)),
    emptyOutDir: true,
    // The packages are ES2022; top-level await is not used, but the WebGPU chunk is loaded on demand.
    target: 'es2022',
    reportCompressedSize: false,
  },
});
