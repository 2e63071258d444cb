/**
 * The host references of the scan (no backend needed): `associativeScan` against a sequential fold
 * on non-commutative monoids, which proves that the Blelloch sweeps combine every pair in the right
 * order, and the float32 parallel references against the float64 sequential ones. The comparison
 * of the parallel references with the CPU backend's kernel at T = 100,000 lives in
 * packages/backend-cpu/test/scan-parallel.test.ts, because core cannot depend on a backend.
 */
import { describe, expect, it } from 'vitest';
import { expectWithinBound, mulberry32 } from '../src/testing/host.js';
import {
  associativeScan,
  complexPairs,
  type Monoid,
  parallelComplexScanReference,
  parallelScanReference,
  realPairs,
  sequentialComplexScan64,
  sequentialScan64,
} from '../src/testing/scan-reference.js';

/** The inclusive scan by a left fold: `out[i] = x_0 then x_1 then ... then x_i`. */
function foldScan<E>(xs: readonly E[], m: Monoid<E>): E[] {
  const out: E[] = [];
  let acc = m.identity;
  for (const x of xs) {
    acc = m.combine(acc, x);
    out.push(acc);
  }
  return out;
}

/** Strings under concatenation: associative, not commutative, and every order mistake shows. */
const concatenation: Monoid<string> = { identity: '', combine: (a, b) => a + b };

type Mat2 = readonly [number, number, number, number];
const P = 1009;
/** 2x2 integer matrices under the product modulo a prime: exact, associative, not commutative. */
const matrices: Monoid<Mat2> = {
  identity: [1, 0, 0, 1],
  combine: ([a, b, c, d], [e, f, g, h]) => [
    (a * e + b * g) % P,
    (a * f + b * h) % P,
    (c * e + d * g) % P,
    (c * f + d * h) % P,
  ],
};

const LENGTHS = Array.from({ length: 71 }, (_, n) => n);

describe('associativeScan', () => {
  it('matches a sequential fold of string concatenation for lengths 0..70', () => {
    for (const n of LENGTHS) {
      const xs = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + i));
      expect(associativeScan(xs, concatenation), `n = ${n}`).toEqual(foldScan(xs, concatenation));
    }
  });

  it('produces the exact prefixes in order (abc...)', () => {
    expect(associativeScan(['a', 'b', 'c', 'd', 'e'], concatenation)).toEqual([
      'a',
      'ab',
      'abc',
      'abcd',
      'abcde',
    ]);
  });

  it('matches a sequential fold of 2x2 matrix products (mod 1009) for lengths 0..70', () => {
    const r = mulberry32(7);
    for (const n of LENGTHS) {
      const xs: Mat2[] = Array.from(
        { length: n },
        () => [0, 0, 0, 0].map(() => Math.floor(r() * P)) as unknown as Mat2,
      );
      expect(associativeScan(xs, matrices), `n = ${n}`).toEqual(foldScan(xs, matrices));
    }
  });

  it('the matrix monoid is really non-commutative (the test above has teeth)', () => {
    const x: Mat2 = [1, 2, 3, 4];
    const y: Mat2 = [0, 1, 1, 0];
    expect(matrices.combine(x, y)).not.toEqual(matrices.combine(y, x));
  });

  it('does not mutate its input and returns a fresh array of the same length', () => {
    const xs = ['x', 'y', 'z'];
    const out = associativeScan(xs, concatenation);
    expect(xs).toEqual(['x', 'y', 'z']);
    expect(out).not.toBe(xs);
    expect(associativeScan([], concatenation)).toEqual([]);
  });
});

describe('the affine pair monoids', () => {
  it('realPairs composes affine maps: first then second', () => {
    // h -> 2h + 3, then h -> 5h + 7: h -> 5(2h + 3) + 7 = 10h + 22.
    expect(realPairs.combine([2, 3], [5, 7])).toEqual([10, 22]);
    expect(realPairs.combine(realPairs.identity, [5, 7])).toEqual([5, 7]);
    expect(realPairs.combine([5, 7], realPairs.identity)).toEqual([5, 7]);
  });

  it('complexPairs composes complex affine maps: first then second', () => {
    // h -> i h + 1, then h -> 2h + i: h -> 2(i h + 1) + i = 2i h + (2 + i).
    expect(complexPairs.combine([0, 1, 1, 0], [2, 0, 0, 1])).toEqual([0, 2, 2, 1]);
    expect(complexPairs.combine(complexPairs.identity, [2, 0, 0, 1])).toEqual([2, 0, 0, 1]);
  });

  it('the associative scan of BMRU pairs (a in {0,1}, b in {-1,0,1}) equals the sequential scan exactly', () => {
    const r = mulberry32(3);
    const T = 257;
    const a = Array.from({ length: T }, () => (r() < 0.9 ? 1 : 0));
    const b = Array.from({ length: T }, () => Math.floor(r() * 3) - 1);
    const want = sequentialScan64({ a, aShape: [1, T, 1], b, bShape: [1, T, 1], h0: [1] });
    const got = parallelScanReference({ a, aShape: [1, T, 1], b, bShape: [1, T, 1], h0: [1] });
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});

describe('parallel references against the float64 sequential references', () => {
  /** `|got - want| <= 1e-5 * M + 1e-6`, `M` the scan of magnitudes (see the conformance scan suite). */
  const expectBound = (got: ArrayLike<number>, want: ArrayLike<number>, mag: ArrayLike<number>): void =>
    expectWithinBound('parallel vs float64', got, want, mag, 1e-5, 1e-6);

  for (const reverse of [false, true]) {
    for (const aShape of [
      [2, 300, 3],
      [1, 1, 3],
      [2, 1, 3],
      [1, 300, 3],
    ] as const) {
      it(`real, a [${aShape}], ${reverse ? 'reverse' : 'forward'}, with h0`, () => {
        const r = mulberry32(aShape[0] * 10 + aShape[1] + (reverse ? 1 : 0));
        const f = () => Math.fround(2 * r() - 1);
        const a = Float32Array.from({ length: aShape[0] * aShape[1] * aShape[2] }, f);
        const b = Float32Array.from({ length: 2 * 300 * 3 }, f);
        const h0 = Float32Array.from({ length: 6 }, f);
        const s = { a, aShape, b, bShape: [2, 300, 3] as const, h0, reverse };
        const mag = sequentialScan64({ ...s, a: a.map(Math.abs), b: b.map(Math.abs), h0: h0.map(Math.abs) });
        expectBound(parallelScanReference(s), sequentialScan64(s), mag);
      });

      it(`complex, λ [${aShape}] in the unit disc, ${reverse ? 'reverse' : 'forward'}, with h0`, () => {
        const r = mulberry32(100 + aShape[0] * 10 + aShape[1] + (reverse ? 1 : 0));
        const f = () => Math.fround(2 * r() - 1);
        const na = aShape[0] * aShape[1] * aShape[2];
        const rho = Array.from({ length: na }, () => Math.sqrt(r()));
        const th = Array.from({ length: na }, () => 2 * Math.PI * r());
        const aRe = Float32Array.from(rho, (p, i) => p * Math.cos(th[i]));
        const aIm = Float32Array.from(rho, (p, i) => p * Math.sin(th[i]));
        const n = 2 * 300 * 3;
        const s = {
          aRe,
          aIm,
          aShape,
          bRe: Float32Array.from({ length: n }, f),
          bIm: Float32Array.from({ length: n }, f),
          bShape: [2, 300, 3] as const,
          h0Re: Float32Array.from({ length: 6 }, f),
          h0Im: Float32Array.from({ length: 6 }, f),
          reverse,
        };
        const mod = (re: ArrayLike<number>, im: ArrayLike<number>) =>
          Float64Array.from(re, (x, i) => Math.hypot(x, im[i]));
        const mag = sequentialScan64({
          a: mod(aRe, aIm),
          aShape,
          b: mod(s.bRe, s.bIm),
          bShape: s.bShape,
          h0: mod(s.h0Re, s.h0Im),
          reverse,
        });
        const [wr, wi] = sequentialComplexScan64(s);
        const [gr, gi] = parallelComplexScanReference(s);
        expectBound(gr, wr, mag);
        expectBound(gi, wi, mag);
      });
    }
  }

  it('T = 0 gives empty results', () => {
    const s = { a: [], aShape: [1, 1, 0] as const, b: [], bShape: [2, 0, 3] as const };
    expect(parallelScanReference({ ...s, a: [0.5, 0.5, 0.5], aShape: [1, 1, 3] }).length).toBe(0);
    expect(sequentialScan64({ ...s, a: [0.5, 0.5, 0.5], aShape: [1, 1, 3] }).length).toBe(0);
  });
});
