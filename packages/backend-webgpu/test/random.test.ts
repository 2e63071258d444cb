/** Philox4x32-10 in WGSL: the published known answer and bit equality with core's `philoxFill`. */
import { philox4x32, philoxFill } from '@mru/core';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { perFile, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

describe('random', () => {
  it('matches the Philox4x32-10 known answer (counter 0, key 0)', async () => {
    const got = await take(be, be.random('bits', 4, [0, 0], 0), [4], 'int32');
    const want = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8].map((w) => w | 0);
    expect(got).toEqual(want);
    const ref = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, ref);
    expect(Array.from(ref).map((w) => w | 0)).toEqual(want);
  });

  const draws: [number, [number, number], number][] = [
    [4099, [0, 0], 0],
    [1001, [0x12345678, 0x9abcdef0], 77],
    [10, [0xffffffff, 0xffffffff], 2 ** 32 - 2], // the counter wraps modulo 2^32
    [3, [42, 0], 5],
    [0, [1, 2], 3],
  ];
  for (const [size, key, offset] of draws) {
    it(`bits and uniform are bit-identical to philoxFill (size ${size}, offset ${offset})`, async () => {
      const bits = new Int32Array(size);
      philoxFill('bits', bits, key, offset);
      expect(await take(be, be.random('bits', size, key, offset), [size], 'int32')).toEqual(Array.from(bits));
      const uni = new Float32Array(size);
      philoxFill('uniform', uni, key, offset);
      expect(await take(be, be.random('uniform', size, key, offset), [size])).toEqual(Array.from(uni));
    });
  }

  it('normal agrees with philoxFill to float32 rounding of ln, cos and sin', async () => {
    for (const size of [4096, 7]) {
      const want = new Float32Array(size);
      philoxFill('normal', want, [7, 11], 123);
      const got = await take(be, be.random('normal', size, [7, 11], 123), [size]);
      let worst = 0;
      for (let i = 0; i < size; i++)
        worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
      expect(worst).toBeLessThan(2e-5);
    }
  });
});
