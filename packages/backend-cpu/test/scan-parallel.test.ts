/**
 * Evaluation order does not matter beyond float32 rounding: the CPU backend's sequential scan and
 * core's Blelloch parallel references (`parallelScanReference`, `parallelComplexScanReference`, the
 * operator order a GPU backend uses) agree at T = 100,000, real and complex, forward and reverse,
 * with `h0`, and both agree with the float64 sequential reference.
 *
 * This file lives in backend-cpu rather than in core's test folder because core cannot depend on a
 * backend (a devDependency of core on @mru/backend-cpu would be a cycle in the turbo graph). The
 * backend-free tests of the references (`associativeScan` on non-commutative monoids) are in
 * packages/core/test/scan-reference.test.ts.
 *
 * Bound: `|x - y| <= 1e-5 * M_t + 1e-6` with `M_t = |a_t| M_{t-1} + |b_t|` (moduli when complex),
 * the float64 scan of magnitudes, as in the conformance kit's scan suite: rounding errors of any
 * evaluation order scale with the magnitudes summed into `h_t`, not with `|h_t|`.
 */
import { type Backend, dispose, scan, scanComplex, setBackend, type Tensor, tensor, tidy } from '@mru/core';
import {
  expectWithinBound,
  parallelComplexScanReference,
  parallelScanReference,
  sequentialComplexScan64,
  sequentialScan64,
  uniformArray,
} from '@mru/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/index.js';

const T = 100_000;
const B = 1;
const C = 3;
const SHAPE = [B, T, C] as const;

let be: Backend;
beforeAll(async () => {
  be = await setBackend(cpuBackend());
});

async function read(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

describe('sequential CPU scan and parallel reference agree at T = 100000', () => {
  for (const reverse of [false, true]) {
    const dir = reverse ? 'reverse' : 'forward';

    it(`real, a uniform in [-1, 1], ${dir}, with h0`, async () => {
      const a = Float32Array.from(uniformArray(reverse ? 11 : 12, B * T * C));
      const b = Float32Array.from(uniformArray(reverse ? 13 : 14, B * T * C));
      const h0 = Float32Array.from(uniformArray(15, B * C));
      const s = { a, aShape: SHAPE, b, bShape: SHAPE, h0, reverse };
      const h = tidy(() =>
        scan(tensor(a, { shape: SHAPE }), tensor(b, { shape: SHAPE }), {
          h0: tensor(h0, { shape: [B, C] }),
          reverse,
        }),
      );
      try {
        const cpu = await read(h);
        const par = parallelScanReference(s);
        const mag = sequentialScan64({ ...s, a: a.map(Math.abs), b: b.map(Math.abs), h0: h0.map(Math.abs) });
        expectWithinBound('cpu vs parallel', cpu, par, mag, 1e-5, 1e-6);
        const ref = sequentialScan64(s);
        expectWithinBound('cpu vs float64', cpu, ref, mag, 1e-5, 1e-6);
        expectWithinBound('parallel vs float64', par, ref, mag, 1e-5, 1e-6);
      } finally {
        h.dispose();
      }
    });

    it(`real, time-invariant a [C] near 1 (long memory), ${dir}, with h0`, async () => {
      const a = Float32Array.from([1, 0.9999, 0.999]);
      const b = Float32Array.from(uniformArray(16, B * T * C));
      const h0 = Float32Array.from(uniformArray(17, B * C));
      const s = { a, aShape: [1, 1, C] as const, b, bShape: SHAPE, h0, reverse };
      const h = tidy(() =>
        scan(tensor(a), tensor(b, { shape: SHAPE }), { h0: tensor(h0, { shape: [B, C] }), reverse }),
      );
      try {
        const cpu = await read(h);
        const par = parallelScanReference(s);
        const mag = sequentialScan64({ ...s, b: b.map(Math.abs), h0: h0.map(Math.abs) });
        expectWithinBound('cpu vs parallel', cpu, par, mag, 1e-5, 1e-6);
        expectWithinBound('cpu vs float64', cpu, sequentialScan64(s), mag, 1e-5, 1e-6);
      } finally {
        h.dispose();
      }
    });

    it(`complex, λ in the unit disc (time-varying), ${dir}, with h0`, async () => {
      const rho = uniformArray(21, B * T * C, 0, 1).map(Math.sqrt);
      const theta = uniformArray(22, B * T * C, 0, 2 * Math.PI);
      const aRe = Float32Array.from(rho, (r, i) => r * Math.cos(theta[i]));
      const aIm = Float32Array.from(rho, (r, i) => r * Math.sin(theta[i]));
      const bRe = Float32Array.from(uniformArray(23, B * T * C));
      const bIm = Float32Array.from(uniformArray(24, B * T * C));
      const h0Re = Float32Array.from(uniformArray(25, B * C));
      const h0Im = Float32Array.from(uniformArray(26, B * C));
      await checkComplex({ aRe, aIm, aShape: SHAPE, bRe, bIm, bShape: SHAPE, h0Re, h0Im, reverse });
    });

    it(`complex, LRU-like λ [C] with |λ| in {1, 0.999, 0.9}, ${dir}, with h0`, async () => {
      const rho = [1, 0.999, 0.9];
      const theta = [0.3, 2.1, -1.2];
      const aRe = Float32Array.from(rho, (r, i) => r * Math.cos(theta[i]));
      const aIm = Float32Array.from(rho, (r, i) => r * Math.sin(theta[i]));
      const bRe = Float32Array.from(uniformArray(27, B * T * C));
      const bIm = Float32Array.from(uniformArray(28, B * T * C));
      const h0Re = Float32Array.from(uniformArray(29, B * C));
      const h0Im = Float32Array.from(uniformArray(30, B * C));
      await checkComplex({ aRe, aIm, aShape: [1, 1, C], bRe, bIm, bShape: SHAPE, h0Re, h0Im, reverse });
    });
  }
});

interface ComplexCase {
  readonly aRe: Float32Array;
  readonly aIm: Float32Array;
  readonly aShape: readonly [number, number, number];
  readonly bRe: Float32Array;
  readonly bIm: Float32Array;
  readonly bShape: readonly [number, number, number];
  readonly h0Re: Float32Array;
  readonly h0Im: Float32Array;
  readonly reverse: boolean;
}

async function checkComplex(s: ComplexCase): Promise<void> {
  const h = tidy(() =>
    scanComplex(
      { re: tensor(s.aRe, { shape: s.aShape }), im: tensor(s.aIm, { shape: s.aShape }) },
      { re: tensor(s.bRe, { shape: s.bShape }), im: tensor(s.bIm, { shape: s.bShape }) },
      {
        h0: { re: tensor(s.h0Re, { shape: [B, C] }), im: tensor(s.h0Im, { shape: [B, C] }) },
        reverse: s.reverse,
      },
    ),
  );
  try {
    const cpuRe = await read(h.re);
    const cpuIm = await read(h.im);
    const [parRe, parIm] = parallelComplexScanReference(s);
    const [refRe, refIm] = sequentialComplexScan64(s);
    const mod = (re: ArrayLike<number>, im: ArrayLike<number>) =>
      Float64Array.from(re, (x, i) => Math.hypot(x, im[i]));
    const mag = sequentialScan64({
      a: mod(s.aRe, s.aIm),
      aShape: s.aShape,
      b: mod(s.bRe, s.bIm),
      bShape: s.bShape,
      h0: mod(s.h0Re, s.h0Im),
      reverse: s.reverse,
    });
    expectWithinBound('cpu vs parallel (re)', cpuRe, parRe, mag, 1e-5, 1e-6);
    expectWithinBound('cpu vs parallel (im)', cpuIm, parIm, mag, 1e-5, 1e-6);
    expectWithinBound('cpu vs float64 (re)', cpuRe, refRe, mag, 1e-5, 1e-6);
    expectWithinBound('cpu vs float64 (im)', cpuIm, refIm, mag, 1e-5, 1e-6);
  } finally {
    dispose(h);
  }
}

it('the CPU backend holds no buffer after these tests', () => {
  expect(be.memory().buffers).toBe(0);
});
