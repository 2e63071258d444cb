/**
 * The counter-based random number generator every backend implements bit for bit: Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 *
 * Specification (what a backend must reproduce):
 * - A draw of `size` elements with key `[k0, k1]` and counter offset `offset` computes, for block
 *   `j = 0 .. ceil(size / 4) - 1`, `philox4x32_10([offset + j, 0, 0, 0], [k0, k1])` (the first
 *   counter word wraps modulo 2^32) and uses its four 32-bit outputs for elements `4j .. 4j + 3`.
 * - `bits`: the 32-bit output reinterpreted as int32.
 * - `uniform`: `(w >>> 8) * 2^-24`, exactly representable in float32, in `[0, 1)`.
 * - `normal`: Box-Muller on lanes (0,1) and (2,3) of each block: `u1 = 1 - uniform(w0)` in `(0, 1]`,
 *   `u2 = uniform(w1)`, `r = sqrt(-2 ln u1)`, element 0 is `r cos(2 pi u2)` and element 1
 *   `r sin(2 pi u2)` (likewise for lanes 2 and 3). Backends agree to float32 rounding of ln/cos/sin.
 * One round maps `(c0, c1, c2, c3)` with `(hi0, lo0) = M0 * c0` and `(hi1, lo1) = M1 * c2` (full
 * 64-bit products) to `(hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)`, then bumps the key by `(W0, W1)`.
 */

/**
 * Philox multiplier for lane 0.
 *
 * @category Random
 */
export const PHILOX_M0 = 0xd2511f53;
/**
 * Philox multiplier for lane 2.
 *
 * @category Random
 */
export const PHILOX_M1 = 0xcd9e8d57;
/**
 * Key bump (golden ratio).
 *
 * @category Random
 */
export const PHILOX_W0 = 0x9e3779b9;
/**
 * Key bump (sqrt(3) - 1).
 *
 * @category Random
 */
export const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lolo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * Philox4x32 with 10 rounds: four 32-bit words of output (unsigned) for one counter and key.
 * `out` receives the result (avoids allocation in hot loops).
 *
 * @param c0 - Counter word 0.
 * @param c1 - Counter word 1.
 * @param c2 - Counter word 2.
 * @param c3 - Counter word 3.
 * @param k0 - Key word 0.
 * @param k1 - Key word 1.
 * @param out - Receives the four output words.
 * @category Random
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * The uniform float in [0, 1) of one 32-bit word: `(w >>> 8) * 2^-24`.
 *
 * @param w - A 32-bit random word.
 * @category Random
 */
export function uniformOfBits(w: number): number {
  return (w >>> 8) * 2 ** -24;
}

/**
 * Fills `out` per the specification above (reference implementation, used by the CPU backend).
 *
 * @param dist - The distribution.
 * @param out - The array to fill.
 * @param key - The two key words (from `seedToKey`).
 * @param offset - The counter of the first element.
 * @category Random
 */
export function philoxFill(
  dist: 'uniform' | 'normal' | 'bits',
  out: Float32Array | Int32Array,
  key: readonly [number, number],
  offset: number,
): void {
  const w = new Uint32Array(4);
  const n = out.length;
  for (let j = 0, i = 0; i < n; j++, i += 4) {
    philox4x32((offset + j) >>> 0, 0, 0, 0, key[0] >>> 0, key[1] >>> 0, w);
    const m = Math.min(4, n - i);
    if (dist === 'bits') {
      for (let l = 0; l < m; l++) out[i + l] = w[l] | 0;
    } else if (dist === 'uniform') {
      for (let l = 0; l < m; l++) out[i + l] = uniformOfBits(w[l]);
    } else {
      for (let p = 0; p < m; p += 2) {
        const u1 = 1 - uniformOfBits(w[p]);
        const u2 = uniformOfBits(w[p + 1]);
        const r = Math.sqrt(-2 * Math.log(u1));
        out[i + p] = r * Math.cos(2 * Math.PI * u2);
        if (p + 1 < m) out[i + p + 1] = r * Math.sin(2 * Math.PI * u2);
      }
    }
  }
}
