/**
 * Seeded, deterministic pseudo-random numbers for the dataset generators.
 *
 * Design: every example of every task is generated from its own generator, keyed by a list of
 * 32-bit words (the user's seed, a task tag, the split, the example's position). Keying by example
 * rather than by batch gives random access (any batch can be produced without producing the ones
 * before it) and makes an example independent of the batch size it is served in.
 *
 * The key is hashed into a 128-bit state by four murmur3-style lanes with different seeds, so two
 * different keys share a state only with negligible probability (a 32-bit key would collide within
 * a few hundred thousand examples). The state drives xoshiro128** (Blackman and Vigna), a small,
 * fast generator with good statistical quality, written with `Math.imul` and `>>> 0` so that it
 * gives the same bits on every JavaScript engine. This generator is private to `@mru/datasets`: it
 * is not the counter-based generator of `@mru/core`, and need not be.
 */

const TWO_POW_32 = 4294967296;
const GOLDEN = 0x9e3779b9;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** murmur3's finaliser: a bijective avalanche mix of a 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_32 over a list of 32-bit words, with a lane-specific seed. */
function hashWords(words: readonly number[], lane: number): number {
  let h = fmix32(Math.imul(lane + 1, GOLDEN) ^ 0x5bd1e995);
  for (const word of words) {
    let k = Math.imul(word | 0, 0xcc9e2d51);
    k = rotl(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix32(h ^ words.length);
}

/**
 * Splits a non-negative safe integer into its low and high 32-bit words, for use in a key.
 *
 * @param value - A safe integer in `[0, 2^53)`.
 * @returns `[low, high]`.
 */
export function splitWords(value: number): [number, number] {
  return [value >>> 0, Math.floor(value / TWO_POW_32) >>> 0];
}

/**
 * Hashes a string to a 32-bit word (FNV-1a over UTF-16 code units, then a final mix), to turn
 * names such as a task's into key words.
 *
 * @param text - Any string.
 * @returns An unsigned 32-bit integer.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * A seeded pseudo-random generator (xoshiro128**, keyed by a list of 32-bit words).
 *
 * The same key always gives the same sequence of numbers, on every engine. Methods draw from the
 * generator in a documented way, so a sequence of calls is reproducible too.
 *
 * @example
 * ```ts
 * const rng = Rng.fromKey([seed, 1, exampleIndex]);
 * const x = rng.normal(); // N(0, 1)
 * const k = rng.integer(10); // uniform in 0..9
 * ```
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  private constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
    // xoshiro's only forbidden state; the hash makes it practically unreachable, but be exact.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = GOLDEN | 0;
  }

  /**
   * Creates a generator from a key: a list of 32-bit words (each taken modulo 2^32).
   *
   * @param key - The words identifying the stream, e.g. `[seedLow, seedHigh, split, index]`.
   * @returns A fresh generator; two calls with equal keys give generators with equal sequences.
   */
  static fromKey(key: readonly number[]): Rng {
    return new Rng(hashWords(key, 0), hashWords(key, 1), hashWords(key, 2), hashWords(key, 3));
  }

  /**
   * Creates a generator from one seed.
   *
   * @param seed - A non-negative safe integer.
   * @returns The generator keyed by the seed's two 32-bit words.
   */
  static fromSeed(seed: number): Rng {
    return Rng.fromKey(splitWords(seed));
  }

  /**
   * The next raw output.
   *
   * @returns A uniform unsigned 32-bit integer.
   */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * A uniform number in `[0, 1)` with 32 bits of resolution (one draw).
   *
   * @returns `u / 2^32` for the next raw output `u`.
   */
  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /**
   * A uniform number in `[low, high)` (one draw).
   *
   * @param low - Lower bound (inclusive).
   * @param high - Upper bound (exclusive).
   * @returns `low + (high - low) * uniform()`.
   */
  uniformIn(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /**
   * A standard normal number, by the Box-Muller transform. Each pair of draws yields two normals;
   * the second is kept and returned by the next call.
   *
   * @returns A sample of N(0, 1).
   */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    // u1 in (0, 1], so the logarithm is finite.
    const u1 = (this.nextUint32() + 1) / TWO_POW_32;
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * A uniform integer in `[0, n)`, without modulo bias (Lemire's multiply-and-reject method on
   * 32-bit draws; usually one draw).
   *
   * @param n - The number of outcomes, an integer in `[1, 2^32]`.
   * @returns An integer in `0..n-1`.
   * @throws RangeError when `n` is not an integer in `[1, 2^32]`.
   */
  integer(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.integer: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Products stay exact below 2^53; larger ranges (never used by the tasks) take the slow path.
    if (n > 2097152) return this.largeInteger(n);
    // floor(u * n / 2^32) is the candidate; reject the few u whose low part would bias it.
    const threshold = (TWO_POW_32 - n) % n;
    for (;;) {
      const product = this.nextUint32() * n;
      if (product % TWO_POW_32 >= threshold) return Math.floor(product / TWO_POW_32);
    }
  }

  private largeInteger(n: number): number {
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextUint32();
      if (u < limit) return u % n;
    }
  }

  /**
   * Shuffles an array in place (Fisher-Yates, from the end; one `integer` call per element but
   * the first).
   *
   * @typeParam T - The array type: a plain array or a typed array.
   * @param array - The array to shuffle.
   * @returns The same array, shuffled.
   */
  shuffle<T extends unknown[] | Int32Array | Uint32Array | Float32Array | Float64Array>(array: T): T {
    const items = array as unknown as Record<number, unknown>;
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.integer(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return array;
  }

  /**
   * A uniformly random permutation of `0..n-1`.
   *
   * @param n - The length, a non-negative integer.
   * @returns A new `Int32Array` holding each of `0..n-1` exactly once.
   */
  permutation(n: number): Int32Array {
    const result = new Int32Array(n);
    for (let i = 0; i < n; i++) result[i] = i;
    return this.shuffle(result);
  }

  /**
   * `k` distinct integers drawn uniformly from `0..n-1`, in increasing order (Floyd's algorithm:
   * `k` `integer` calls, whatever `n`).
   *
   * @param n - The size of the range.
   * @param k - How many to draw, an integer in `[0, n]`.
   * @returns A new sorted `Int32Array` of length `k`.
   * @throws RangeError when `k` is not in `[0, n]`.
   */
  sortedSample(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`Rng.sortedSample: k must be an integer in [0, ${n}], got ${k}`);
    }
    const chosen = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = this.integer(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return Int32Array.from(chosen).sort();
  }
}
