/**
 * The WebGPU backend in a real browser: headless Chromium (Debian's `/usr/bin/chromium`, driven by
 * playwright-core; no browser is ever downloaded) loads the built `dist/` of @mru/core and
 * @mru/backend-webgpu through an import map, runs test/browser/workload.js on `navigator.gpu`, and
 * hands the results back to Node, where the same workload runs on the CPU backend. The browser's
 * matmul and scans must match the CPU's, and the scans a float64 reference, within float32 bounds.
 *
 * Chromium's flags and why each is there: test/browser/harness.js, the launcher every browser test
 * shares. The page is served from http://127.0.0.1, a secure context (WebGPU exists only there).
 *
 * This test fails (never skips) without chromium or an adapter; scripts/setup.sh installs chromium.
 * `MRU_CHROMIUM` names another executable. It needs `pnpm build` first (the page loads `dist/`).
 * Runs in 5 to 8 s here (2 shared cores), most of it starting Chromium and moving 800,000 floats back.
 */
import { cpuBackend } from '@mru/backend-cpu';
import * as core from '@mru/core';
import { sequentialScan64, worstRatio } from '@mru/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type LaunchedChromium,
  launchChromium,
  openTestPage,
  type StaticServer,
  setupOrFail,
  WEBGPU_ARGS,
} from '../../../test/browser/harness.js';
import { startServer } from './browser/server.js';
import { MATMUL, matmulOperand, SCAN, workload } from './browser/workload.js';

/** Relative part of the scan bound, on the magnitude scan M_t (as in core's scan suite). */
const SCAN_RTOL = 1e-5;
/** Absolute part of the scan bound. */
const SCAN_ATOL = 1e-6;
/** Matmul bound: `|c - ref| <= MATMUL_RTOL * sum_k |x_ik y_kj|`. */
const MATMUL_RTOL = 1e-5;

/** What page.js returns through page.evaluate. */
interface BrowserResult {
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  userAgent: string;
  matmul: number[];
  scans: Record<string, { h: number[]; aPrint: string; bPrint: string; scanDispatches: number | null }>;
}

/** What workload.js returns in Node. */
type CpuResult = Awaited<ReturnType<typeof workload>>;

let server: StaticServer | undefined;
let chromium: LaunchedChromium | undefined;
let browser: BrowserResult;
let cpu: CpuResult;

/** Starts the server and Chromium, runs the workload in the page, then in Node on the CPU backend. */
async function setup(): Promise<void> {
  server = await startServer();
  chromium = await launchChromium(WEBGPU_ARGS);
  const { page, log } = chromium;
  await openTestPage(page, `${server.origin}/`);
  try {
    browser = await page.evaluate(() =>
      (window as unknown as { mruRun: () => Promise<BrowserResult> }).mruRun(),
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage log:\n${log.join('\n')}`);
  }

  await core.setBackend(cpuBackend());
  cpu = await workload(core);
}

const ready = setupOrFail(setup, 120_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
}, 120_000);

describe('WebGPU backend in headless Chromium', () => {
  it('runs on a WebGPU adapter that describes itself', () => {
    ready();
    const info = browser.adapterInfo;
    console.info(`browser adapter: ${JSON.stringify(info)} (${browser.userAgent})`);
    expect(info).toBeDefined();
    // SwiftShader fills vendor and architecture and leaves device and description empty.
    expect(`${info.vendor}${info.architecture}${info.device}${info.description}`).not.toBe('');
  });

  it(`matmul [${MATMUL.M},${MATMUL.K}]@[${MATMUL.K},${MATMUL.N}] matches the CPU backend`, () => {
    ready();
    const { M, K, N } = MATMUL;
    const x = Float32Array.from(matmulOperand(0, M, K));
    const y = Float32Array.from(matmulOperand(1, K, N));
    const bound = new Float64Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += Math.abs(x[i * K + k] * y[k * N + j]);
        bound[i * N + j] = MATMUL_RTOL * s;
      }
    }
    expect(browser.matmul).toHaveLength(M * N);
    expect(worstRatio(browser.matmul, cpu.matmul, bound)).toBeLessThanOrEqual(1);
  });

  for (const c of SCAN.cases) {
    describe(`scan, T = ${SCAN.T}, ${SCAN.C} channels, a in [${c.aLo}, ${c.aHi}]`, () => {
      it('draws its inputs bit-identically to the CPU backend (rand with a seed)', () => {
        ready();
        expect(browser.scans[c.name].aPrint).toBe(cpu.scans[c.name].aPrint);
        expect(browser.scans[c.name].bPrint).toBe(cpu.scans[c.name].bPrint);
      });

      it('used the parallel plan (several dispatches, not one sequential loop)', () => {
        // Four lanes cannot fill a device, so 'auto' must choose the chunked parallel scan: the test
        // means to check that kernel in a browser. The sequential plan is a single dispatch.
        ready();
        expect(browser.scans[c.name].scanDispatches).toBeGreaterThan(1);
      });

      it('matches the CPU backend and the float64 reference within the float32 bound', () => {
        ready();
        const { a, b, h: hCpu } = cpu.scans[c.name];
        const h = browser.scans[c.name].h;
        const shape = [1, SCAN.T, SCAN.C] as const;
        const ref = sequentialScan64({ a, aShape: shape, b, bShape: shape });
        // M_t, the scan of |a| and |b|: the scale of the rounding errors any evaluation order makes.
        const magnitude = sequentialScan64({
          a: Float64Array.from(a, Math.abs),
          aShape: shape,
          b: Float64Array.from(b, Math.abs),
          bShape: shape,
        });
        const bound = magnitude.map((m) => SCAN_RTOL * m + SCAN_ATOL);
        expect(h).toHaveLength(SCAN.T * SCAN.C);
        const vsReference = worstRatio(h, ref, bound);
        const vsCpu = worstRatio(h, hCpu, bound);
        console.info(
          `scan ${c.name}: worst error / bound = ${vsReference.toExponential(2)} against float64, ` +
            `${vsCpu.toExponential(2)} against the CPU backend (${browser.scans[c.name].scanDispatches} dispatches)`,
        );
        expect(vsReference).toBeLessThanOrEqual(1);
        expect(vsCpu).toBeLessThanOrEqual(1);
      });
    });
  }
});
