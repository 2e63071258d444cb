/**
 * Reference evaluations of the scan, on host typed arrays, for tests and for backend authors.
 *
 * `sequentialScan64` is the float64 ground truth. `associativeScan` evaluates the same recurrence in
 * O(log T) depth with the work-efficient (Blelloch) up-sweep / down-sweep over the pair operator
 *
 *     (a1, b1) then (a2, b2) = (a2 * a1, a2 * b1 + b2)
 *
 * which is associative: composing the affine maps `h -> a1 h + b1` and `h -> a2 h + b2`. This is the
 * operator GPU backends implement (in chunks: reduce each chunk to one pair, scan the chunk pairs,
 * re-scan each chunk from its carry). It rounds to float32 after every operation, like a GPU, so
 * comparing it with the sequential kernels shows that evaluation order does not matter beyond float32
 * rounding. It is not used for speed anywhere.
 */

/**
 * Host arrays of one real scan: `a` broadcast `[Ba, Ta, C]`, `b` `[B, T, C]`, `h0` `[B, C]`.
 *
 * @category Scan
 */
export interface HostScan {
  readonly a: ArrayLike<number>;
  readonly aShape: readonly [number, number, number];
  readonly b: ArrayLike<number>;
  readonly bShape: readonly [number, number, number];
  readonly h0?: ArrayLike<number> | null;
  readonly reverse?: boolean;
}

/**
 * Host arrays of one complex scan (parts of equal shapes).
 *
 * @category Scan
 */
export interface HostComplexScan {
  readonly aRe: ArrayLike<number>;
  readonly aIm: ArrayLike<number>;
  readonly aShape: readonly [number, number, number];
  readonly bRe: ArrayLike<number>;
  readonly bIm: ArrayLike<number>;
  readonly bShape: readonly [number, number, number];
  readonly h0Re?: ArrayLike<number> | null;
  readonly h0Im?: ArrayLike<number> | null;
  readonly reverse?: boolean;
}

function aIndex(aShape: readonly number[], b: number, t: number, c: number): number {
  const [Ba, Ta, C] = aShape;
  return ((Ba === 1 ? 0 : b) * Ta + (Ta === 1 ? 0 : t)) * C + c;
}

/**
 * The real scan in float64, sequentially.
 *
 * @param s - The operands of the scan, as host arrays with their shapes.
 * @category Scan
 */
export function sequentialScan64(s: HostScan): Float64Array {
  const [B, T, C] = s.bShape;
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let h = s.h0 ? s.h0[b * C + c] : 0;
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        h = s.a[aIndex(s.aShape, b, t, c)] * h + s.b[(b * T + t) * C + c];
        out[(b * T + t) * C + c] = h;
      }
    }
  }
  return out;
}

/**
 * The complex scan in float64, sequentially. Returns `[re, im]`.
 *
 * @param s - The complex operands of the scan, as host arrays with their shapes.
 * @category Scan
 */
export function sequentialComplexScan64(s: HostComplexScan): [Float64Array, Float64Array] {
  const [B, T, C] = s.bShape;
  const re = new Float64Array(B * T * C);
  const im = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let hr = s.h0Re ? s.h0Re[b * C + c] : 0;
      let hi = s.h0Im ? s.h0Im[b * C + c] : 0;
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        const ai = aIndex(s.aShape, b, t, c);
        const i = (b * T + t) * C + c;
        const nr = s.aRe[ai] * hr - s.aIm[ai] * hi + s.bRe[i];
        const ni = s.aRe[ai] * hi + s.aIm[ai] * hr + s.bIm[i];
        hr = nr;
        hi = ni;
        re[i] = hr;
        im[i] = hi;
      }
    }
  }
  return [re, im];
}

/**
 * An associative operator on elements of type `E` with identity `identity`: the input of
 * `associativeScan`.
 *
 * @category Scan
 */
export interface Monoid<E> {
  readonly identity: E;
  /**
   * `first then second`.
   *
   * @param first - The earlier element.
   * @param second - The later element.
   */
  combine(first: E, second: E): E;
}

/**
 * The affine-map monoid of the real scan, rounding to float32 like a GPU.
 *
 * @category Scan
 */
export const realPairs: Monoid<readonly [number, number]> = {
  identity: [1, 0],
  combine: ([a1, b1], [a2, b2]) => [Math.fround(a2 * a1), Math.fround(Math.fround(a2 * b1) + b2)],
};

/**
 * The affine-map monoid of the complex scan: `[aRe, aIm, bRe, bIm]`, rounded to float32.
 *
 * @category Scan
 */
export const complexPairs: Monoid<readonly [number, number, number, number]> = {
  identity: [1, 0, 0, 0],
  combine: ([ar1, ai1, br1, bi1], [ar2, ai2, br2, bi2]) => {
    const f = Math.fround;
    return [
      f(f(ar2 * ar1) - f(ai2 * ai1)),
      f(f(ar2 * ai1) + f(ai2 * ar1)),
      f(f(f(ar2 * br1) - f(ai2 * bi1)) + br2),
      f(f(f(ar2 * bi1) + f(ai2 * br1)) + bi2),
    ];
  },
};

/**
 * Inclusive scan of `xs` under `m` with the Blelloch up-sweep / down-sweep: O(n) work and
 * O(log n) depth (each level's combines are independent and could run in parallel).
 *
 * @param xs - The elements to scan.
 * @param m - The associative operator.
 * @category Scan
 */
export function associativeScan<E>(xs: readonly E[], m: Monoid<E>): E[] {
  const n = xs.length;
  let size = 1;
  while (size < n) size *= 2;
  const tree: E[] = new Array(size);
  for (let i = 0; i < size; i++) tree[i] = i < n ? xs[i] : m.identity;
  // Up-sweep: tree[i] accumulates the block ending at i.
  for (let d = 1; d < size; d *= 2) {
    for (let i = 2 * d - 1; i < size; i += 2 * d) tree[i] = m.combine(tree[i - d], tree[i]);
  }
  // Down-sweep: turn block totals into exclusive prefixes.
  tree[size - 1] = m.identity;
  for (let d = size / 2; d >= 1; d /= 2) {
    for (let i = 2 * d - 1; i < size; i += 2 * d) {
      const left = tree[i - d];
      tree[i - d] = tree[i];
      tree[i] = m.combine(tree[i], left);
    }
  }
  // Inclusive = exclusive prefix then the element itself.
  return xs.map((x, i) => m.combine(tree[i], x));
}

/**
 * The real scan evaluated with `associativeScan` per (batch, channel) lane; float32 results.
 *
 * @param s - The operands of the scan, as host arrays with their shapes.
 * @category Scan
 */
export function parallelScanReference(s: HostScan): Float32Array {
  const [B, T, C] = s.bShape;
  const out = new Float32Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const pairs: (readonly [number, number])[] = new Array(T);
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        pairs[k] = [Math.fround(s.a[aIndex(s.aShape, b, t, c)]), Math.fround(s.b[(b * T + t) * C + c])];
      }
      const h0 = s.h0 ? Math.fround(s.h0[b * C + c]) : 0;
      const pre = associativeScan(pairs, realPairs);
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        const [A, Bv] = pre[k];
        out[(b * T + t) * C + c] = A * h0 + Bv;
      }
    }
  }
  return out;
}

/**
 * The complex scan evaluated with `associativeScan`; float32 results `[re, im]`.
 *
 * @param s - The complex operands of the scan, as host arrays with their shapes.
 * @category Scan
 */
export function parallelComplexScanReference(s: HostComplexScan): [Float32Array, Float32Array] {
  const [B, T, C] = s.bShape;
  const re = new Float32Array(B * T * C);
  const im = new Float32Array(B * T * C);
  const f = Math.fround;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const pairs: (readonly [number, number, number, number])[] = new Array(T);
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        const ai = aIndex(s.aShape, b, t, c);
        const i = (b * T + t) * C + c;
        pairs[k] = [f(s.aRe[ai]), f(s.aIm[ai]), f(s.bRe[i]), f(s.bIm[i])];
      }
      const hr = s.h0Re ? f(s.h0Re[b * C + c]) : 0;
      const hi = s.h0Im ? f(s.h0Im[b * C + c]) : 0;
      const pre = associativeScan(pairs, complexPairs);
      for (let k = 0; k < T; k++) {
        const t = s.reverse ? T - 1 - k : k;
        const [ar, aim, br, bi] = pre[k];
        const i = (b * T + t) * C + c;
        re[i] = ar * hr - aim * hi + br;
        im[i] = ar * hi + aim * hr + bi;
      }
    }
  }
  return [re, im];
}
