/**
 * The one launcher and static server of every browser test (the WebGPU and gpu.js backends' tests,
 * the gpu.js kit in a page, the docs' live demo): headless Chromium is Debian's `/usr/bin/chromium`
 * driven by playwright-core (no browser is ever downloaded), and pages come from a tiny http server
 * on 127.0.0.1.
 *
 * Plain JavaScript with a hand-written harness.d.ts beside it, so that a package's test can import it
 * by a relative path: TypeScript reads the declarations, and declarations are not held to the
 * package's `rootDir` as a `.ts` source outside it would be.
 *
 * Chromium setup, as found on Debian bookworm's chromium 156 (headless, no GPU, no display):
 * - WebGPU: `--enable-unsafe-webgpu` is the one flag that matters: without it `requestAdapter()`
 *   gives null ("No available adapters."). With it Chromium picks SwiftShader's Vulkan
 *   (`/usr/lib/chromium/libvk_swiftshader.so`); `--use-webgpu-adapter=swiftshader` and
 *   `--enable-features=Vulkan` say so explicitly and change nothing here. The adapter describes
 *   itself as { vendor: 'google', architecture: 'swiftshader' }. WebGPU exists only in secure
 *   contexts: loopback http is one, about:blank and file:// pages get no `navigator.gpu`.
 * - WebGL2 without WebGPU (gpu.js's case): `--disable-features=WebGPU` (Chromium still defines
 *   `navigator.gpu`, but `requestAdapter()` gives null); WebGL2 is ANGLE on SwiftShader
 *   (`--use-angle=swiftshader`), which Chromium refuses unless `--enable-unsafe-swiftshader`.
 * - The profile goes in a fresh temporary directory: playwright refuses `--user-data-dir` in `args`,
 *   so it is passed to `launchPersistentContext`. `--no-sandbox` because CI runs as root.
 * - Module scripts and import maps need http (file:// pages cannot import modules).
 *
 * Every test that uses this fails (never skips) without chromium; scripts/setup.sh installs it.
 * `MRU_CHROMIUM` names another executable.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll } from 'vitest';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by vitest, which turbo does not run.
export const CHROMIUM = process.env.MRU_CHROMIUM ?? '/usr/bin/chromium';

/** No sandbox (CI runs as root), no network chatter. */
const COMMON_ARGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  ...COMMON_ARGS,
];

export const WEBGL_ARGS = [
  '--disable-features=WebGPU',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  ...COMMON_ARGS,
];

export async function launchChromium(args, options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (scripts/setup.sh does)`);
  }
  const profileDir = await mkdtemp(join(tmpdir(), 'mru-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args,
      ...(options.viewport ? { viewport: options.viewport } : {}),
    });
  } catch (e) {
    await rm(profileDir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    log,
    async close() {
      try {
        await context.close();
      } finally {
        await rm(profileDir, { recursive: true, force: true });
      }
    },
  };
}

export async function openTestPage(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.mruLoaded === true);
  const loadError = await page.evaluate(() => window.mruLoadError);
  if (loadError) throw new Error(`the test page failed to load (is dist/ built?): ${loadError}`);
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
};

/** The file on disk for a request path, or null when it maps to none of the roots or leaves its root. */
function fileFor(roots, pathname) {
  for (const [prefix, dir] of roots) {
    if (!pathname.startsWith(prefix)) continue;
    const file = resolve(dir, normalize(`./${decodeURIComponent(pathname.slice(prefix.length))}`));
    return file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? file : null;
  }
  return null;
}

export async function startServer(roots) {
  // Longest prefix first, so '/core/' wins over '/'.
  const sorted = [...roots]
    .map(([prefix, dir]) => [prefix, resolve(dir)])
    .sort((p, q) => q[0].length - p[0].length);
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      // decodeURIComponent throws on a malformed path: a 404 like any other.
      const file = fileFor(sorted, pathname.endsWith('/') ? `${pathname}index.html` : pathname);
      const type = file ? MIME[extname(file)] : undefined;
      if (!file || !type) throw new Error('not served');
      const body = await readFile(file);
      // no-store: a rebuilt dist is never served stale.
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${pathname}`);
    }
  });
  await new Promise((ready, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ready());
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export function setupOrFail(setup, timeoutMs) {
  let error = null;
  // A throwing beforeAll would mark the tests skipped; CI must see them fail.
  beforeAll(async () => {
    try {
      await setup();
    } catch (e) {
      error = e;
    }
  }, timeoutMs);
  return () => {
    if (error) throw error;
  };
}
