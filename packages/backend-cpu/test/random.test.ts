import { philox4x32, uniformOfBits } from '@mru/core';
import { afterEach, describe, expect, it } from 'vitest';
import { setup } from './helpers.js';

const { be, take } = setup();
afterEach(() => expect(be.memory().buffers).toBe(0));

function philox(c: number[], k: number[]): number[] {
  const out = new Uint32Array(4);
  philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out);
  return Array.from(out);
}

describe('Philox4x32-10 (core reference)', () => {
  it('reproduces the Random123 known-answer vectors', () => {
    expect(philox([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    // Third Random123 vector (pi digits): counter 243f6a88 85a308d3 13198a2e 03707344, key a4093822 299f31d0.
    expect(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });
});

describe('random', () => {
  const key: [number, number] = [0x12345678, 0x9abcdef0];

  it('bits are the Philox words of counters offset + i/4, lane i%4, as int32', () => {
    const got = take(be.random('bits', 10, key, 5), [10], 'int32');
    expect(got).toBeInstanceOf(Int32Array);
    const want: number[] = [];
    for (let j = 0; want.length < 10; j++) want.push(...philox([5 + j, 0, 0, 0], key).map((w) => w | 0));
    expect(Array.from(got)).toEqual(want.slice(0, 10));
  });

  it('uniform is (w >>> 8) * 2^-24, in [0, 1), and a later offset continues the stream', () => {
    const all = take(be.random('uniform', 12, key, 0), [12], 'float32');
    const words = [0, 1, 2].flatMap((j) => philox([j, 0, 0, 0], key));
    expect(Array.from(all)).toEqual(words.map(uniformOfBits));
    const tail = take(be.random('uniform', 4, key, 2), [4], 'float32');
    expect(Array.from(tail)).toEqual(Array.from(all.slice(8)));
  });

  it('the counter wraps modulo 2^32', () => {
    const got = take(be.random('bits', 8, key, 0xffffffff), [8], 'int32');
    const want = [...philox([0xffffffff, 0, 0, 0], key), ...philox([0, 0, 0, 0], key)].map((w) => w | 0);
    expect(Array.from(got)).toEqual(want);
  });

  it('normal is Box-Muller on lane pairs and has mean 0, variance 1', () => {
    const small = take(be.random('normal', 3, key, 0), [3], 'float32');
    const w = philox([0, 0, 0, 0], key);
    const r = Math.sqrt(-2 * Math.log(1 - uniformOfBits(w[0])));
    expect(small[0]).toBe(Math.fround(r * Math.cos(2 * Math.PI * uniformOfBits(w[1]))));
    expect(small[1]).toBe(Math.fround(r * Math.sin(2 * Math.PI * uniformOfBits(w[1]))));
    const r2 = Math.sqrt(-2 * Math.log(1 - uniformOfBits(w[2])));
    expect(small[2]).toBe(Math.fround(r2 * Math.cos(2 * Math.PI * uniformOfBits(w[3]))));
    const n = 40_000;
    const big = take(be.random('normal', n, [1, 2], 0), [n], 'float32');
    let mean = 0;
    for (const v of big) mean += v;
    mean /= n;
    let variance = 0;
    for (const v of big) variance += (v - mean) ** 2;
    variance /= n;
    expect(Number.isFinite(mean)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(0.03); // 6 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(take(be.random('uniform', 0, key, 0), [0], 'float32').length).toBe(0);
  });
});
