/**
 * The gpu.js backend in a real browser without WebGPU: headless Chromium (Debian's
 * `/usr/bin/chromium`, driven by playwright-core; no browser is ever downloaded) loads gpu.js's
 * browser bundle and the built `dist/` of @mru/core, @mru/backend-cpu, @mru/backend-gpujs and
 * @mru/models through an import map, and runs test/browser/workload.js with gpu.js in WebGL2 mode: a
 * scan at T = 10^5 both ways and a few BMRU training steps. The page then runs the same workload on
 * the CPU backend; Node compares the two, and the scans against core's float64 reference.
 *
 * Chromium runs without WebGPU, the case this backend exists for, with WebGL2 from ANGLE on
 * SwiftShader (an emulated device: these are correctness checks, not timings); the flags and why:
 * test/browser/harness.js, the launcher every browser test shares.
 *
 * This test fails (never skips) without chromium; scripts/setup.sh installs it. `MRU_CHROMIUM` names
 * another executable. It needs `pnpm build` first (the page loads `dist/`, models' included).
 */
import { expectClose, sequentialScan64, worstRatio } from '@mru/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type LaunchedChromium,
  launchChromium,
  openTestPage,
  type StaticServer,
  setupOrFail,
  WEBGL_ARGS,
} from '../../../test/browser/harness.js';
import { startServer } from './browser/server.js';
import { SCAN, TRAIN } from './browser/workload.js';

/** Relative part of the scan bound, on the magnitude scan M_t (as in core's scan suite). */
const SCAN_RTOL = 1e-5;
/** Absolute part of the scan bound. */
const SCAN_ATOL = 1e-6;
/**
 * Training bound: losses and parameters after a few steps agree with the CPU backend to this
 * relative-plus-absolute tolerance. Float32 rounding in another order (WebGL's exp and log, matmul
 * and reduction sums) differs by a few ulps per op (1.4e-7 measured here); AdamW's normalisation can
 * amplify a small gradient's rounding, hence the margin. A wrong kernel moves parameters by the
 * learning rate, 2e-3, per step.
 */
const TRAIN_TOL = 1e-5;

/** One scan's results as page.js sends them: arrays as base64 of their float32 bytes. */
interface ScanOut {
  h: string;
  a: string;
  b: string;
  aPrint: string;
  bPrint: string;
}

/** Decodes page.js's base64 float32 arrays. */
function floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
interface RunOut {
  scans: Record<string, ScanOut>;
  train: { losses: number[]; params: Record<string, number[]> };
}
/** What page.js returns through page.evaluate. */
interface PageResult {
  env: { webgl2: boolean; renderer: string | null; webgpu: boolean; userAgent: string };
  millis: number;
  cpuMillis: number;
  gpujs: RunOut & { mode: string; kernelCalls: number };
  cpu: RunOut;
}

let server: StaticServer | undefined;
let chromium: LaunchedChromium | undefined;
let result: PageResult;

async function setup(): Promise<void> {
  server = await startServer();
  chromium = await launchChromium(WEBGL_ARGS);
  const { page, log } = chromium;
  await openTestPage(page, `${server.origin}/`);
  try {
    result = await page.evaluate(() => (window as unknown as { mruRun: () => Promise<PageResult> }).mruRun());
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage log:\n${log.join('\n')}`);
  }
}

const ready = setupOrFail(setup, 180_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
}, 120_000);

describe('gpu.js backend in headless Chromium, WebGL2 without WebGPU', () => {
  it('runs gpu.js in WebGL2 mode on a page without a WebGPU adapter', () => {
    ready();
    console.info(
      `browser: ${result.env.renderer} (${result.env.userAgent}); gpu.js mode ${result.gpujs.mode}, ` +
        `${result.gpujs.kernelCalls} kernel launches, workload ${(result.millis / 1000).toFixed(1)} s ` +
        `(CPU backend in the same page: ${(result.cpuMillis / 1000).toFixed(1)} s)`,
    );
    expect(result.env.webgpu).toBe(false);
    expect(result.env.webgl2).toBe(true);
    expect(result.gpujs.mode).toBe('webgl2');
    expect(result.gpujs.kernelCalls).toBeGreaterThan(50);
  });

  for (const c of SCAN.cases) {
    describe(`scan, T = ${SCAN.T}, ${SCAN.C} channels, a in [${c.aLo}, ${c.aHi}]${c.reverse ? ', reverse' : ''}`, () => {
      it('draws its inputs bit-identically to the CPU backend (rand with a seed)', () => {
        ready();
        expect(result.gpujs.scans[c.name].aPrint).toBe(result.cpu.scans[c.name].aPrint);
        expect(result.gpujs.scans[c.name].bPrint).toBe(result.cpu.scans[c.name].bPrint);
      });

      it('matches the CPU backend and the float64 reference within the float32 bound', () => {
        ready();
        const cpu = result.cpu.scans[c.name];
        const [a, b, hCpu] = [floats(cpu.a), floats(cpu.b), floats(cpu.h)];
        const h = floats(result.gpujs.scans[c.name].h);
        const shape = [1, SCAN.T, SCAN.C] as const;
        const ref = sequentialScan64({ a, aShape: shape, b, bShape: shape, reverse: c.reverse });
        // M_t, the scan of |a| and |b|: the scale of the rounding errors any evaluation order makes.
        const magnitude = sequentialScan64({
          a: Float64Array.from(a, Math.abs),
          aShape: shape,
          b: Float64Array.from(b, Math.abs),
          bShape: shape,
          reverse: c.reverse,
        });
        const bound = magnitude.map((m) => SCAN_RTOL * m + SCAN_ATOL);
        expect(h).toHaveLength(SCAN.T * SCAN.C);
        const vsReference = worstRatio(h, ref, bound);
        const vsCpu = worstRatio(h, hCpu, bound);
        console.info(
          `scan ${c.name}: worst error / bound = ${vsReference.toExponential(2)} against float64, ` +
            `${vsCpu.toExponential(2)} against the CPU backend`,
        );
        expect(vsReference).toBeLessThanOrEqual(1);
        expect(vsCpu).toBeLessThanOrEqual(1);
      });
    });
  }

  it(`trains a BMRU for ${TRAIN.steps} AdamW steps as the CPU backend does`, () => {
    ready();
    const g = result.gpujs.train;
    const cpu = result.cpu.train;
    console.info(`BMRU losses: gpujs ${g.losses.join(', ')}; cpu ${cpu.losses.join(', ')}`);
    expect(g.losses).toHaveLength(TRAIN.steps);
    // The run must actually train, or agreeing would prove little.
    expect(cpu.losses[TRAIN.steps - 1]).toBeLessThan(cpu.losses[0]);
    // |gpujs - cpu| <= TRAIN_TOL * (1 + |cpu|): relative for large values, absolute below 1.
    expectClose(g.losses, cpu.losses, { rtol: TRAIN_TOL, atol: TRAIN_TOL, what: 'BMRU losses' });
    expect(Object.keys(g.params).sort()).toEqual(Object.keys(cpu.params).sort());
    let worst = 0;
    for (const [name, values] of Object.entries(cpu.params)) {
      const got = g.params[name];
      expect(got, name).toHaveLength(values.length);
      worst = Math.max(
        worst,
        worstRatio(
          got,
          values,
          values.map((v) => 1 + Math.abs(v)),
        ),
      );
    }
    console.info(
      `BMRU parameters after ${TRAIN.steps} steps: worst relative difference ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThanOrEqual(TRAIN_TOL);
  });
});
