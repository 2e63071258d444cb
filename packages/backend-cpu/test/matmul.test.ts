import { type MatmulSpec, ShapeError } from '@mru/core';
import { kernelMatmulRef, uniformArray } from '@mru/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { matmulPaths, setMatmulPath } from '../src/matmul.js';
import { setup } from './helpers.js';

const { be, input, take, release } = setup();
afterEach(() => {
  release();
  expect(be.memory().buffers).toBe(0);
});

function check(
  batch: number,
  m: number,
  k: number,
  n: number,
  shareA: boolean,
  shareB: boolean,
  tA: boolean,
  tB: boolean,
) {
  const spec: MatmulSpec = {
    batch,
    m,
    k,
    n,
    aBatchStride: shareA ? 0 : m * k,
    bBatchStride: shareB ? 0 : k * n,
    transposeA: tA,
    transposeB: tB,
  };
  const aLen = (shareA ? 1 : batch) * m * k;
  const bLen = (shareB ? 1 : batch) * k * n;
  const a = uniformArray(m * 1000 + k * 7 + n, aLen);
  const b = uniformArray(n * 1000 + k * 3 + m + 1, bLen);
  const aShape = tA ? [aLen / (m * k || 1), k, m] : [aLen / (m * k || 1), m, k];
  const bShape = tB ? [bLen / (k * n || 1), n, k] : [bLen / (k * n || 1), k, n];
  const got = take(
    be.matmul(input(a, aLen ? aShape : [0]), input(b, bLen ? bShape : [0]), spec),
    [batch, m, n],
    'float32',
  );
  const want = Array.from(kernelMatmulRef(a, b, spec));
  // Every path accumulates in float64 in k order and rounds once, like the reference, so the result
  // is the reference rounded to float32, bit for bit.
  expect(Array.from(got), `b${batch} m${m} k${k} n${n} tA${tA} tB${tB} sA${shareA} sB${shareB}`).toEqual(
    want.map(Math.fround),
  );
}

it('the WebAssembly SIMD kernel loads in Node (else only the JS fallback would be tested)', () => {
  expect(matmulPaths()).toEqual(['js', 'wasm']);
});

// Every case runs on both kernels: the plain-JS one and the WebAssembly SIMD one.
describe.each(matmulPaths())('matmul (%s kernel)', (path) => {
  beforeAll(() => setMatmulPath(path));
  afterAll(() => setMatmulPath('auto'));

  it('matches a float64 triple loop for odd sizes and every transpose combination', () => {
    const sizes: [number, number, number][] = [
      [1, 1, 1],
      [1, 7, 65],
      [7, 1, 7],
      [7, 65, 13],
      [65, 7, 130],
      [130, 65, 7],
      [5, 130, 65],
      [9, 33, 70],
    ];
    for (const [m, k, n] of sizes) {
      for (const tA of [false, true]) for (const tB of [false, true]) check(1, m, k, n, false, false, tA, tB);
    }
  });

  it('handles batches, batch stride 0 on either operand, and transposes together', () => {
    for (const [shareA, shareB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          check(3, 6, 5, 9, shareA, shareB, tA, tB); // one 4-row tile plus 2 edge rows
          check(3, 10, 7, 5, shareA, shareB, tA, tB); // edge rows and an edge column
        }
      }
    }
  });

  it('a larger product spanning several column panels', () => {
    check(2, 67, 300, 150, false, true, false, false);
  });

  it('long products cut into row chunks or k chunks give the same bits', () => {
    // Rows of A in chunks (over 1,600 rows of k + n = 80 per chunk), with an edge chunk.
    check(1, 2001, 16, 64, false, false, false, false);
    check(1, 2001, 64, 16, false, false, false, true);
    // The weight-gradient shape of a training step: transposed A, k = 12,800 in chunks carried as
    // float64 partial sums.
    check(1, 16, 12800, 64, false, false, true, false);
    // k chunks (of 1,536 steps for m + n = 80) with an edge chunk, on both B layouts, batched, with
    // A shared or not.
    for (const tB of [false, true]) {
      check(2, 8, 3100, 72, false, false, true, tB);
      check(2, 8, 3100, 72, true, false, true, tB);
    }
  });

  it('a product whose operands outgrow the kept Wasm memory, then a small one, are both right', () => {
    // B of 9e6 floats (36 MB) needs more Wasm memory than the kernel keeps between calls.
    const n = 9_000_000;
    const b = new Float32Array(n);
    for (let j = 0; j < n; j++) b[j] = (j % 7) - 3;
    const spec = (m: number, k: number, nn: number): MatmulSpec => ({
      batch: 1,
      m,
      k,
      n: nn,
      aBatchStride: 0,
      bBatchStride: 0,
      transposeA: false,
      transposeB: false,
    });
    const big = take(be.matmul(input([2], [1, 1]), input(b, [1, n]), spec(1, 1, n)), [1, n], 'float32');
    let wrong = 0;
    for (let j = 0; j < n; j++) if (big[j] !== 2 * b[j]) wrong++;
    expect(wrong).toBe(0);
    check(1, 9, 33, 70, false, false, false, false);
  });

  it('gives zeros for k = 0 and empty outputs for zero m, n or batch; propagates NaN', () => {
    const z = take(
      be.matmul(input([], [0]), input([], [0]), {
        batch: 2,
        m: 2,
        k: 0,
        n: 3,
        aBatchStride: 0,
        bBatchStride: 0,
        transposeA: false,
        transposeB: false,
      }),
      [2, 2, 3],
      'float32',
    );
    expect(Array.from(z)).toEqual(new Array(12).fill(0));
    for (const [batch, m, n] of [
      [0, 2, 2],
      [1, 0, 3],
      [1, 3, 0],
    ]) {
      const spec = {
        batch,
        m,
        k: 2,
        n,
        aBatchStride: m * 2,
        bBatchStride: 2 * n,
        transposeA: false,
        transposeB: false,
      };
      const got = take(
        be.matmul(
          input(new Array(batch * m * 2).fill(1), [batch * m * 2]),
          input(new Array(batch * 2 * n).fill(1), [batch * 2 * n]),
          spec,
        ),
        [batch, m, n],
        'float32',
      );
      expect(got.length).toBe(0);
    }
    const spec = {
      batch: 1,
      m: 5,
      k: 2,
      n: 5,
      aBatchStride: 0,
      bBatchStride: 0,
      transposeA: false,
      transposeB: true,
    };
    const a = new Array(10).fill(1);
    a[0] = NaN;
    const got = take(
      be.matmul(input(a, [5, 2]), input(new Array(10).fill(2), [5, 2]), spec),
      [5, 5],
      'float32',
    );
    expect(Array.from(got.slice(0, 6))).toEqual([NaN, NaN, NaN, NaN, NaN, 4]);
  });

  it('rejects a spec that does not fit the operands', () => {
    const spec = {
      batch: 2,
      m: 2,
      k: 2,
      n: 2,
      aBatchStride: 4,
      bBatchStride: 4,
      transposeA: false,
      transposeB: false,
    };
    expect(() =>
      be.matmul(input([1, 2, 3, 4], [2, 2]), input(new Array(8).fill(0), [2, 2, 2]), spec),
    ).toThrow(ShapeError);
  });
});
