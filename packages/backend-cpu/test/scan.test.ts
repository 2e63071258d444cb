import { ShapeError } from '@mru/core';
import { expectClose, uniformArray } from '@mru/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { setup, size } from './helpers.js';

const { be, input, take, release } = setup();
afterEach(() => {
  release();
  expect(be.memory().buffers).toBe(0);
});

interface Case {
  B: number;
  T: number;
  C: number;
  aShape: number[];
}

/** Offset of a[b, t, c] for `a` of `aShape` (rank <= 3, leading 1s implied) broadcast to [B, T, C]. */
function aIndex(aShape: number[], b: number, t: number, c: number): number {
  const [ba, ta, ca] = [...new Array(3 - aShape.length).fill(1), ...aShape];
  return ((ba === 1 ? 0 : b) * ta + (ta === 1 ? 0 : t)) * ca + c;
}

/**
 * Sequential reference. With `f32` set it rounds the state to float32 after each step (the CPU
 * kernel's documented arithmetic, so it must match bit for bit); otherwise it is pure float64.
 */
function refScan(
  { B, T, C, aShape }: Case,
  a: number[],
  x: number[],
  h0: number[] | null,
  reverse: boolean,
  f32: boolean,
): number[] {
  const round = f32 ? Math.fround : (v: number) => v;
  const h = new Array<number>(B * T * C).fill(0);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let state = h0 ? h0[b * C + c] : 0;
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        state = round(a[aIndex(aShape, b, t, c)] * state + x[(b * T + t) * C + c]);
        h[(b * T + t) * C + c] = state;
      }
    }
  }
  return h;
}

/** Complex sequential reference (float64, or float32 state per part with `f32`). */
function refComplexScan(
  { B, T, C, aShape }: Case,
  aRe: number[],
  aIm: number[],
  xRe: number[],
  xIm: number[],
  h0: [number[], number[]] | null,
  reverse: boolean,
  f32: boolean,
): [number[], number[]] {
  const round = f32 ? Math.fround : (v: number) => v;
  const hRe = new Array<number>(B * T * C).fill(0);
  const hIm = new Array<number>(B * T * C).fill(0);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let re = h0 ? h0[0][b * C + c] : 0;
      let im = h0 ? h0[1][b * C + c] : 0;
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const ai = aIndex(aShape, b, t, c);
        const xi = (b * T + t) * C + c;
        const nRe = round(aRe[ai] * re - aIm[ai] * im + xRe[xi]);
        const nIm = round(aRe[ai] * im + aIm[ai] * re + xIm[xi]);
        re = nRe;
        im = nIm;
        hRe[xi] = re;
        hIm[xi] = im;
      }
    }
  }
  return [hRe, hIm];
}

const CASES: Case[] = [
  { B: 2, T: 9, C: 5, aShape: [2, 9, 5] },
  { B: 2, T: 9, C: 5, aShape: [1, 9, 5] },
  { B: 2, T: 9, C: 5, aShape: [2, 1, 5] },
  { B: 2, T: 9, C: 5, aShape: [1, 1, 5] },
  { B: 3, T: 4, C: 3, aShape: [3] },
  { B: 1, T: 1, C: 1, aShape: [1, 1, 1] },
  { B: 1, T: 17, C: 1, aShape: [1, 17, 1] },
];

describe('scan', () => {
  for (const cs of CASES) {
    for (const reverse of [false, true]) {
      for (const withH0 of [false, true]) {
        it(`B${cs.B} T${cs.T} C${cs.C} a[${cs.aShape}] reverse=${reverse} h0=${withH0}`, () => {
          const xShape = [cs.B, cs.T, cs.C];
          const a = uniformArray(30 + cs.T, size(cs.aShape), -1, 1);
          const x = uniformArray(31 + cs.C, size(xShape));
          const h0 = withH0 ? uniformArray(32, cs.B * cs.C) : null;
          const id = be.scan({
            a: input(a, cs.aShape),
            x: input(x, xShape),
            h0: h0 ? input(h0, [cs.B, cs.C]) : null,
            reverse,
          });
          const got = take(id, xShape, 'float32');
          expect(Array.from(got)).toEqual(refScan(cs, a, x, h0, reverse, true));
          expectClose(got, refScan(cs, a, x, h0, reverse, false), { atol: 1e-6, rtol: 1e-6 });
        });
      }
    }
  }

  it('zero-size batch, time or channels give empty outputs', () => {
    for (const [B, T, C] of [
      [0, 3, 2],
      [2, 0, 2],
      [2, 3, 0],
    ]) {
      const a = input(new Array(C).fill(0.5), [1, 1, C]);
      const id = be.scan({ a, x: input(new Array(B * T * C).fill(1), [B, T, C]), h0: null, reverse: false });
      expect(take(id, [B, T, C], 'float32').length).toBe(0);
    }
  });

  it('stays accurate over 10^5 steps for a in [-1, 1] and BMRU-like gates in {0, 1}', () => {
    const T = 100_000;
    const C = 3;
    const x = uniformArray(41, T * C);
    const cs = { B: 1, T, C, aShape: [1, T, C] };
    const uniformA = uniformArray(42, T * C, -1, 1);
    // Gates: 1 (hold) with probability 0.99, else 0 (reset), so memories last ~100 steps, some longer.
    const gateA = uniformArray(43, T * C, 0, 1).map((u) => (u < 0.99 ? 1 : 0));
    for (const a of [uniformA, gateA]) {
      for (const reverse of [false, true]) {
        const got = take(
          be.scan({ a: input(a, [1, T, C]), x: input(x, [1, T, C]), h0: null, reverse }),
          [1, T, C],
          'float32',
        );
        const want = refScan(cs, a, x, null, reverse, false);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // Error relative to the largest state: float32 accumulation over the ~100-step memory.
        expectClose(got, want, { atol: 2e-6 * scale, rtol: 0 });
      }
    }
  });

  it('rejects inconsistent shapes with a ShapeError naming scan', () => {
    const x = input(new Array(12).fill(0), [2, 3, 2]);
    expect(() => be.scan({ a: input([1, 1, 1], [3]), x, h0: null, reverse: false })).toThrow(ShapeError);
    expect(() =>
      be.scan({ a: input(new Array(12).fill(0), [2, 3, 2]), x, h0: input([0, 0], [1, 2]), reverse: false }),
    ).toThrow(/^scan: h0/);
    expect(() => be.scan({ a: input(new Array(8).fill(0), [2, 2, 2]), x, h0: null, reverse: false })).toThrow(
      /time dimension/,
    );
    expect(() => be.scan({ a: input([0, 0], [2]), x: input([0, 0], [2]), h0: null, reverse: false })).toThrow(
      ShapeError,
    );
  });
});

describe('scanComplex', () => {
  for (const cs of CASES.slice(0, 5)) {
    for (const reverse of [false, true]) {
      for (const withH0 of [false, true]) {
        it(`B${cs.B} T${cs.T} C${cs.C} a[${cs.aShape}] reverse=${reverse} h0=${withH0}`, () => {
          const xShape = [cs.B, cs.T, cs.C];
          // |lambda| <= 1: radius in [0, 1], any phase.
          const r = uniformArray(50, size(cs.aShape), 0, 1);
          const phi = uniformArray(51, size(cs.aShape), -Math.PI, Math.PI);
          const aRe = r.map((v, i) => Math.fround(v * Math.cos(phi[i])));
          const aIm = r.map((v, i) => Math.fround(v * Math.sin(phi[i])));
          const xRe = uniformArray(52, size(xShape));
          const xIm = uniformArray(53, size(xShape));
          const h0: [number[], number[]] | null = withH0
            ? [uniformArray(54, cs.B * cs.C), uniformArray(55, cs.B * cs.C)]
            : null;
          const [idRe, idIm] = be.scanComplex({
            aRe: input(aRe, cs.aShape),
            aIm: input(aIm, cs.aShape),
            xRe: input(xRe, xShape),
            xIm: input(xIm, xShape),
            h0Re: h0 ? input(h0[0], [cs.B, cs.C]) : null,
            h0Im: h0 ? input(h0[1], [cs.B, cs.C]) : null,
            reverse,
          });
          const gotRe = take(idRe, xShape, 'float32');
          const gotIm = take(idIm, xShape, 'float32');
          const [wantRe, wantIm] = refComplexScan(cs, aRe, aIm, xRe, xIm, h0, reverse, true);
          expect(Array.from(gotRe)).toEqual(wantRe);
          expect(Array.from(gotIm)).toEqual(wantIm);
          const [exRe, exIm] = refComplexScan(cs, aRe, aIm, xRe, xIm, h0, reverse, false);
          expectClose(gotRe, exRe, { atol: 1e-6, rtol: 1e-6 });
          expectClose(gotIm, exIm, { atol: 1e-6, rtol: 1e-6 });
        });
      }
    }
  }

  it('stays accurate over 10^5 steps with |lambda| close to 1 (LRU regime)', () => {
    const T = 100_000;
    const C = 2;
    const cs = { B: 1, T, C, aShape: [C] };
    const aRe = [Math.fround(0.999 * Math.cos(0.01)), Math.fround(0.9 * Math.cos(2))];
    const aIm = [Math.fround(0.999 * Math.sin(0.01)), Math.fround(0.9 * Math.sin(2))];
    const xRe = uniformArray(61, T * C);
    const xIm = uniformArray(62, T * C);
    const [idRe, idIm] = be.scanComplex({
      aRe: input(aRe, [C]),
      aIm: input(aIm, [C]),
      xRe: input(xRe, [1, T, C]),
      xIm: input(xIm, [1, T, C]),
      h0Re: null,
      h0Im: null,
      reverse: false,
    });
    const gotRe = take(idRe, [1, T, C], 'float32');
    const gotIm = take(idIm, [1, T, C], 'float32');
    const [wantRe, wantIm] = refComplexScan(cs, aRe, aIm, xRe, xIm, null, false, false);
    const scale = wantRe.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expectClose(gotRe, wantRe, { atol: 2e-6 * scale, rtol: 0 });
    expectClose(gotIm, wantIm, { atol: 2e-6 * scale, rtol: 0 });
  });

  it('requires matching real and imaginary shapes and both h0 parts or neither', () => {
    const p = input([0.5, 0.5], [2]);
    const x = input([1, 2, 3, 4], [1, 2, 2]);
    const base = { aRe: p, aIm: p, xRe: x, xIm: x, h0Re: null, h0Im: null, reverse: false };
    expect(() => be.scanComplex({ ...base, aIm: input([0.5], [1]) })).toThrow(ShapeError);
    expect(() => be.scanComplex({ ...base, h0Re: input([0, 0], [1, 2]) })).toThrow(/^scanComplex: /);
  });
});
