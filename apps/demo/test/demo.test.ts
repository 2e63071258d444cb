/**
 * The live demo, end to end: vite builds it (as `pnpm run docs` does, into a temporary folder),
 * headless Chromium opens it with WebGPU on SwiftShader (the launcher every browser test shares,
 * test/browser/harness.js), the test clicks Train for a few steps and then the long test, and the
 * losses the page reports must fall and equal those of the same session run here in Node on the CPU
 * backend. The page's screenshot goes to `test-output/demo.png` at the repository root, where CI
 * keeps it as an artifact.
 *
 * Few steps and the default sizes: SwiftShader emulates the GPU on the CPU, and the point is that
 * the page trains through the real packages on WebGPU, not how well.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBackend } from '@mru/backend-cpu';
import { setBackend } from '@mru/core';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type LaunchedChromium,
  launchChromium,
  type StaticServer,
  setupOrFail,
  startServer,
  WEBGPU_ARGS,
} from '../../../test/browser/harness.js';
import { DEMO_MODELS, type DemoModelName, DemoSession, type LongResult } from '../src/session.js';

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = fileURLToPath(new URL('../../..', import.meta.url));
/** Where CI picks up the screenshot (ignored by git). */
const SCREENSHOT = join(repoDir, 'test-output', 'demo.png');

const STEPS = 8;
const SEED = 3;
/** Sequences per batch, half the page's default: SwiftShader's time grows with the work. */
const BATCH = 8;
/**
 * Losses on WebGPU against the CPU backend: relative-plus-absolute. Float32 rounding in another
 * order (WGSL's exp and log, matmul and reduction sums) differs by a few ulps per op; AdamW's
 * normalisation can amplify a small gradient's rounding over the steps. A wrong kernel moves the
 * loss by far more: the learning rate is 1e-2.
 */
const LOSS_TOL = 1e-4;
/**
 * The whole built demo, JavaScript and CSS, must stay under this: the libraries it runs are about
 * 180 kB; the MNIST data it must not pull in is 19.9 MB.
 */
const MAX_BUNDLE_BYTES = 400_000;

/** What the page publishes on `window.mruDemo`. */
interface DemoStatus {
  backend: 'webgpu' | 'cpu' | null;
  status: string;
  losses: Record<DemoModelName, number[]>;
  long: Record<DemoModelName, LongResult> | null;
  error: string | null;
  millis: { train: number; states: number; long: number };
}

let outDir: string | undefined;
let server: StaticServer | undefined;
let chromium: LaunchedChromium | undefined;
let bundleBytes = 0;
let buildMillis = 0;
let bundleText = '';
let page: DemoStatus;
let afterTraining: DemoStatus;
let cpuPage: DemoStatus;
let cpuLosses: Record<DemoModelName, number[]>;
let cpuLong: Record<DemoModelName, LongResult>;

async function waitForStatus(p: Page, statuses: readonly string[]): Promise<DemoStatus> {
  await p.waitForFunction(
    (wanted) => {
      const s = (window as unknown as { mruDemo?: { status: string } }).mruDemo?.status;
      return s !== undefined && (wanted.includes(s) || s === 'error');
    },
    statuses,
    { timeout: 90_000 },
  );
  const status = await p.evaluate(() => (window as unknown as { mruDemo: DemoStatus }).mruDemo);
  if (status.status === 'error') throw new Error(`the demo page failed: ${status.error}`);
  return status;
}

async function setup(): Promise<void> {
  outDir = await mkdtemp(join(tmpdir(), 'mru-demo-'));
  const started = performance.now();
  await build({
    configFile: join(demoDir, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  buildMillis = performance.now() - started;
  for (const name of await readdir(join(outDir, 'assets'))) {
    const file = join(outDir, 'assets', name);
    bundleBytes += (await stat(file)).size;
    bundleText += await readFile(file, 'utf8');
  }

  server = await startServer([['/', outDir]]);
  chromium = await launchChromium(WEBGPU_ARGS, { viewport: { width: 1100, height: 1000 } });
  const p = chromium.page;
  try {
    await p.goto(`${server.origin}/?steps=${STEPS}&seed=${SEED}&batch=${BATCH}&task=flip-flop`);
    await waitForStatus(p, ['ready']);
    await p.click('#train');
    afterTraining = await waitForStatus(p, ['trained']);
    await p.click('#long');
    page = await waitForStatus(p, ['tested']);
    await mkdir(join(repoDir, 'test-output'), { recursive: true });
    await p.screenshot({ path: SCREENSHOT, fullPage: true });
    // The fallback a browser without WebGPU gets: the same page on the CPU backend.
    await p.goto(`${server.origin}/?backend=cpu&steps=${STEPS}&seed=${SEED}&batch=${BATCH}&task=flip-flop`);
    await waitForStatus(p, ['ready']);
    await p.click('#train');
    cpuPage = await waitForStatus(p, ['trained']);
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage log:\n${chromium.log.join('\n')}`);
  }

  await setBackend(cpuBackend());
  const session = new DemoSession({ task: 'flip-flop', seed: SEED, batch: BATCH });
  cpuLosses = { bmru: [], lru: [] };
  for (let s = 0; s < STEPS; s++) {
    const losses = await session.trainStep();
    for (const m of DEMO_MODELS) cpuLosses[m].push(losses[m]);
  }
  cpuLong = await session.evaluateLong();
  session.dispose();
}

const ready = setupOrFail(setup, 180_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
}, 60_000);

describe('live demo in headless Chromium on WebGPU', () => {
  it('builds a lean bundle without the MNIST data', () => {
    ready();
    console.info(`demo bundle: ${(bundleBytes / 1000).toFixed(1)} kB of JavaScript and CSS`);
    expect(bundleBytes).toBeGreaterThan(0);
    expect(bundleBytes).toBeLessThan(MAX_BUNDLE_BYTES);
    // Nothing of MNIST at all: not the data, not the loader, not the task registry that names it
    // (importing createTask instead of the two task factories would bring all three).
    expect(bundleText).not.toMatch(/mnist/i);
  });

  it('trains on WebGPU, not on the CPU fallback', () => {
    ready();
    const ms = page.millis;
    console.info(
      `page times: ${STEPS} steps ${(ms.train / 1000).toFixed(1)} s, state views ${(ms.states / 1000).toFixed(1)} s, ` +
        `long test ${(ms.long / 1000).toFixed(1)} s; build ${(buildMillis / 1000).toFixed(1)} s`,
    );
    expect(page.backend).toBe('webgpu');
  });

  it(`trains both models ${STEPS} steps, and the losses fall`, () => {
    ready();
    for (const m of DEMO_MODELS) {
      const l = afterTraining.losses[m];
      console.info(`${m} losses on WebGPU: ${l.map((x) => x.toPrecision(4)).join(', ')}`);
      expect(l).toHaveLength(STEPS);
      // Each step's loss is on a fresh batch, so compare halves rather than single steps.
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const head = mean(l.slice(0, STEPS / 2));
      const tail = mean(l.slice(STEPS / 2));
      expect(tail, m).toBeLessThan(head);
    }
  });

  it('reports the losses of the CPU backend for the same seed', () => {
    ready();
    for (const m of DEMO_MODELS) {
      const got = afterTraining.losses[m];
      let worst = 0;
      cpuLosses[m].forEach((want, i) => {
        const r = Math.abs(got[i] - want) / (1 + Math.abs(want));
        if (!(r <= worst)) worst = Number.isNaN(r) ? Number.POSITIVE_INFINITY : r;
      });
      console.info(`${m}: worst relative difference WebGPU vs CPU ${worst.toExponential(2)}`);
      expect(worst, m).toBeLessThanOrEqual(LOSS_TOL);
    }
  });

  it('trains on the CPU backend in the page exactly as in Node', () => {
    ready();
    expect(cpuPage.backend).toBe('cpu');
    // Same code, same backend, same seed: the same float32 arithmetic, so the same bits.
    for (const m of DEMO_MODELS) expect(cpuPage.losses[m], m).toEqual(cpuLosses[m]);
  });

  it('scores both models on sequences ten times longer, as the CPU backend does', () => {
    ready();
    expect(page.long).not.toBeNull();
    for (const m of DEMO_MODELS) {
      const r = page.long?.[m];
      console.info(`${m} at 10x length: ${JSON.stringify(r?.metrics)}`);
      // 2 batches of BATCH sequences of 640 steps; the steps before a sequence's first set do not count.
      expect(r?.metrics.sequences).toBe(2 * BATCH);
      expect(r?.metrics.count).toBeGreaterThan(2 * BATCH * 500);
      expect(r?.metrics.accuracy).toBeGreaterThanOrEqual(0);
      expect(r?.metrics.accuracy).toBeLessThanOrEqual(1);
      expect(r?.accuracyByStep).toHaveLength(640);
      // The loss is continuous in the outputs (an argmax near a tie is not), so it is what must agree.
      const want = cpuLong[m].metrics.loss;
      expect(
        Math.abs((r?.metrics.loss ?? Number.NaN) - want),
        `${m}: ${r?.metrics.loss} vs ${want}`,
      ).toBeLessThanOrEqual(LOSS_TOL * (1 + want));
    }
  });

  it('writes a screenshot of the page', async () => {
    ready();
    const png = await readFile(SCREENSHOT);
    // A PNG signature, and more than a blank page's few kilobytes.
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
  });
});
