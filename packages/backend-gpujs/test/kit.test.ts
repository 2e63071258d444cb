/**
 * Core's conformance kit, unchanged, on the gpu.js backend in WebGL2 mode in headless Chromium
 * without WebGPU (SwiftShader; the setup of browser.test.ts). vitest does not run in a page, so
 * test/browser/vitest-shim.js stands in for the part of its API the kit uses; the page runs every
 * case in order and returns its results, and this file declares one vitest test per kit case, so a
 * failure in the browser is a named failure here.
 *
 * The cases are only known after the page has run, so the browser run happens while this file is
 * collected (top-level await) and the tests merely report. It needs `pnpm build` first (the page
 * loads `dist/`). About 3 minutes on 2 shared cores, most of it SwiftShader compiling shaders and
 * the kit's 1,000-step training loop.
 */
import { describe, expect, it } from 'vitest';
import { launchChromium, openTestPage, WEBGL_ARGS } from '../../../test/browser/harness.js';
import { startServer } from './browser/server.js';

interface KitResult {
  name: string;
  ok: boolean;
  error: string | null;
  ms: number;
}

/** Runs the kit page; resolves to its results, or rejects with the reason and the page's log. */
async function runKitInBrowser(): Promise<KitResult[]> {
  const server = await startServer();
  let log: string[] = [];
  try {
    const chromium = await launchChromium(WEBGL_ARGS);
    log = chromium.log;
    try {
      const { page } = chromium;
      page.setDefaultTimeout(0);
      await openTestPage(page, `${server.origin}/kit.html`);
      return await page.evaluate(() =>
        (window as unknown as { mruRun: () => Promise<KitResult[]> }).mruRun(),
      );
    } finally {
      await chromium.close();
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage log (last 40 lines):\n${log.slice(-40).join('\n')}`);
  } finally {
    await server.close();
  }
}

let results: KitResult[] = [];
let runError: unknown = null;
const started = performance.now();
try {
  results = await runKitInBrowser();
} catch (e) {
  runError = e;
}
const seconds = (performance.now() - started) / 1000;

describe('conformance kit on gpu.js WebGL2 in headless Chromium', () => {
  it('ran the whole kit in the page', () => {
    if (runError) throw runError;
    const failed = results.filter((r) => !r.ok).length;
    const slowest = [...results].sort((p, q) => q.ms - p.ms).slice(0, 5);
    console.info(
      `browser kit: ${results.length} cases, ${failed} failed, ${seconds.toFixed(0)} s; slowest: ` +
        slowest.map((r) => `${r.name.split(' > ').pop()} ${(r.ms / 1000).toFixed(1)} s`).join(', '),
    );
    // The Node kit declares 292 cases; the page must have run as many (a shim bug would lose some).
    expect(results.length).toBeGreaterThanOrEqual(290);
  });
  for (const r of results) {
    it(r.name, () => {
      if (!r.ok) throw new Error(r.error ?? 'failed');
    });
  }
});
