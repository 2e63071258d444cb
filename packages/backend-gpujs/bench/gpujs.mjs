/**
 * gpu.js benchmark (not a test): from one run, on one machine, matmul and scan throughput of the
 * gpu.js backend next to the CPU backend at the same sizes, in every gpu.js mode this machine runs:
 * its CPU and WebAssembly modes in Node, and WebGL2 in headless Chromium (SwiftShader, WebGPU off)
 * when Chromium can be launched. Method and sizes: bench/suite.js.
 *
 * SwiftShader is a CPU emulating a GPU, and gpu.js's CPU and WebAssembly modes run on the CPU by
 * design: on this kind of machine every figure compares CPU implementations, and the report says
 * so. On a machine with a real GPU, Chromium's WebGL2 would run on it.
 *
 * Run: `pnpm bench:gpujs` (builds first), or after a build `node packages/backend-gpujs/bench/gpujs.mjs`.
 * `MRU_CHROMIUM` names another Chromium; `MRU_BENCH_BROWSER=0` skips the browser part.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBackend } from '@mru/backend-cpu';
import { gpujsBackend } from '../dist/index.js';
import { formatRows, runSuite } from './suite.js';

const here = resolve(fileURLToPath(new URL('.', import.meta.url)));
const packagesDir = resolve(here, '../..');
const require = createRequire(import.meta.url);
const CHROMIUM = process.env.MRU_CHROMIUM ?? '/usr/bin/chromium';

console.log(
  `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical cores, Node ${process.version}`,
);
console.log('gpu.js 2.24.1; per-call latency including upload and readback (every call is synchronous);');
console.log(
  'median of 3 samples of >= 50 ms; vs CPU = CPU backend time / this time (>1: faster than the CPU backend)',
);

// ---- Node: gpu.js CPU and WebAssembly modes -----------------------------------------------------
const cpu = cpuBackend();
const gpujsCpu = await gpujsBackend({ mode: 'cpu' });
const gpujsWasm = await gpujsBackend({ mode: 'webasm' });
console.log('');
console.log(
  'Node (gpu.js modes that run in Node 20 here: cpu, webasm; headlessgl needs the native `gl` package)',
);
console.log(
  formatRows(
    await runSuite([
      { label: 'cpu', backend: cpu },
      { label: `gpujs ${gpujsCpu.mode}`, backend: gpujsCpu },
      { label: `gpujs ${gpujsWasm.mode}`, backend: gpujsWasm },
    ]),
  ),
);
for (const be of [cpu, gpujsCpu, gpujsWasm]) be.dispose();

// ---- Chromium: WebGL2 ------------------------------------------------------------------------
const ROOTS = [
  ['/core/', join(packagesDir, 'core/dist')],
  ['/backend-cpu/', join(packagesDir, 'backend-cpu/dist')],
  ['/backend-gpujs/', join(packagesDir, 'backend-gpujs/dist')],
  ['/gpu.js/', join(dirname(require.resolve('gpu.js')), '../dist')],
  ['/', here],
];
const MIME = { '.html': 'text/html', '.js': 'text/javascript' };

/** Serves ROOTS on 127.0.0.1 (module scripts need http); resolves to the origin and a close(). */
async function serve() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const wanted = path === '/' ? '/page.html' : path;
    for (const [prefix, dir] of ROOTS) {
      if (!wanted.startsWith(prefix)) continue;
      const file = resolve(dir, normalize(`./${decodeURIComponent(wanted.slice(prefix.length))}`));
      if (!file.startsWith(dir + sep) || !MIME[extname(file)]) break;
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': MIME[extname(file)], 'cache-control': 'no-store' });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

console.log('');
if (process.env.MRU_BENCH_BROWSER === '0') {
  console.log('Chromium: skipped (MRU_BENCH_BROWSER=0)');
} else if (!existsSync(CHROMIUM)) {
  console.log(`Chromium: not run, no browser at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium)`);
} else {
  const { chromium } = await import('playwright-core');
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--disable-features=WebGPU',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--no-sandbox',
    ],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => window.mruLoaded === true);
    const loadError = await page.evaluate(() => window.mruLoadError);
    if (loadError) throw new Error(`bench page failed to load (is dist/ built?): ${loadError}`);
    const out = await page.evaluate(() => window.mruRun());
    const emulated = /swiftshader|llvmpipe|software/i.test(out.renderer);
    console.log(
      `Chromium (${out.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chrome'}), WebGL2 renderer: ${out.renderer}`,
    );
    if (emulated)
      console.log('  NOTE: an EMULATED GPU (SwiftShader runs the shaders on the CPU cores): not GPU speed.');
    console.log(formatRows(out.rows));
  } finally {
    await browser.close();
    server.close();
  }
}
console.log('');
console.log(
  "Every backend above runs on this machine's CPU cores (gpu.js cpu/webasm by design, SwiftShader by",
);
console.log(
  'emulation): the ratios show what the gpu.js route costs where no GPU is present, not GPU speed.',
);
