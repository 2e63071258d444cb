/**
 * Creation functions: tensors from JS values, constant fills, ranges, identities, one-hot encodings
 * and random draws. Random draws are compared with core's Philox specification (an explicit `seed` is
 * key `seedToKey(seed)` at counter 0; the global stream hands out consecutive counter blocks).
 */
import { it } from 'vitest';
import type { DType } from '../dtype.js';
import { dispose, seed, seedToKey } from '../engine.js';
import {
  arange,
  eye,
  full,
  linspace,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  scalar,
  tensor,
  zeros,
  zerosLike,
} from '../ops/creation.js';
import { oneHot } from '../ops/movement.js';
import { philoxFill } from '../random.js';
import type { Tensor } from '../tensor.js';
import { ARITH, EXACT } from './common.js';
import type { CheckOptions, ConformanceContext } from './context.js';

/** Declares the creation-function cases. */
export function creationSuite(ctx: ConformanceContext): void {
  /** Checks a freshly created tensor, then disposes it. */
  const expectTensor = async (t: Tensor, values: ArrayLike<number>, opts: CheckOptions): Promise<void> => {
    try {
      await ctx.check(t, values, { ...EXACT, ...opts });
    } finally {
      t.dispose();
    }
  };
  const uniform = (n: number, key: readonly [number, number], offset: number): Float64Array => {
    const out = new Float32Array(n);
    philoxFill('uniform', out, key, offset);
    return Float64Array.from(out);
  };

  it('creation tensor', async () => {
    await expectTensor(
      tensor([
        [1, 2, 3],
        [4, 5, 6.5],
      ]),
      [1, 2, 3, 4, 5, 6.5],
      { shape: [2, 3], dtype: 'float32' },
    );
    await expectTensor(tensor([[true], [false]]), [1, 0], { shape: [2, 1], dtype: 'bool' });
    await expectTensor(tensor(new Int32Array([7, -8, 9, 10]), { shape: [2, 2] }), [7, -8, 9, 10], {
      shape: [2, 2],
      dtype: 'int32',
    });
    await expectTensor(tensor(new Float32Array([0.5, -1])), [0.5, -1], { shape: [2], dtype: 'float32' });
    await expectTensor(tensor(new Uint8Array([0, 3, 1]), { dtype: 'bool' }), [0, 1, 1], {
      shape: [3],
      dtype: 'bool',
    });
    await expectTensor(tensor([1.9, -1.9, 3], { dtype: 'int32' }), [1, -1, 3], {
      shape: [3],
      dtype: 'int32',
    });
    await expectTensor(tensor([1, 2, 3, 4], { shape: [4, 1] }), [1, 2, 3, 4], { shape: [4, 1] });
    await expectTensor(scalar(2.25), [2.25], { shape: [], dtype: 'float32' });
    await expectTensor(scalar(true), [1], { shape: [], dtype: 'bool' });
    await expectTensor(tensor([]), [], { shape: [0] });
  });

  it('creation zeros, ones, full, zerosLike, onesLike', async () => {
    for (const dtype of ['float32', 'int32', 'bool'] as DType[]) {
      await expectTensor(zeros([2, 3], { dtype }), new Array(6).fill(0), { shape: [2, 3], dtype });
      await expectTensor(ones([3], { dtype }), [1, 1, 1], { shape: [3], dtype });
      const v = dtype === 'float32' ? -2.5 : dtype === 'int32' ? 42 : 1;
      const f = full([2, 2], v, { dtype });
      await ctx.check(f, [v, v, v, v], { ...EXACT, shape: [2, 2], dtype });
      await expectTensor(zerosLike(f), [0, 0, 0, 0], { shape: [2, 2], dtype });
      await expectTensor(onesLike(f), [1, 1, 1, 1], { shape: [2, 2], dtype });
      f.dispose();
    }
    await expectTensor(zeros([]), [0], { shape: [] });
    await expectTensor(ones([0, 4]), [], { shape: [0, 4] });
  });

  it('creation arange', async () => {
    await expectTensor(arange(5), [0, 1, 2, 3, 4], { shape: [5], dtype: 'int32' });
    await expectTensor(arange(2, 9, 3), [2, 5, 8], { shape: [3], dtype: 'int32' });
    await expectTensor(arange(5, 0, -2), [5, 3, 1], { shape: [3], dtype: 'int32' });
    await expectTensor(arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], { shape: [4], dtype: 'float32' });
    await expectTensor(arange(3, undefined, 1, { dtype: 'float32' }), [0, 1, 2], {
      shape: [3],
      dtype: 'float32',
    });
    await expectTensor(arange(4, 4), [], { shape: [0], dtype: 'int32' });
  });

  it('creation linspace', async () => {
    await expectTensor(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], { shape: [5], dtype: 'float32' });
    await expectTensor(linspace(1, 0, 3), [1, 0.5, 0], { shape: [3] });
    await expectTensor(linspace(2, 2, 1), [2], { shape: [1] });
    await expectTensor(linspace(-1, 1, 0), [], { shape: [0] });
    await expectTensor(
      linspace(-3, 7, 11),
      Array.from({ length: 11 }, (_, i) => i - 3),
      { shape: [11], ...ARITH },
    );
  });

  it('creation eye', async () => {
    await expectTensor(eye(3), [1, 0, 0, 0, 1, 0, 0, 0, 1], { shape: [3, 3], dtype: 'float32' });
    await expectTensor(eye(2, 4), [1, 0, 0, 0, 0, 1, 0, 0], { shape: [2, 4] });
    await expectTensor(eye(3, 2, { dtype: 'int32' }), [1, 0, 0, 1, 0, 0], { shape: [3, 2], dtype: 'int32' });
    await expectTensor(eye(0), [], { shape: [0, 0] });
  });

  it('creation oneHot', async () => {
    const i1 = ctx.upload([2, 0, 3], [3], 'int32');
    const i2 = ctx.upload([1, 1, 0, 2], [2, 2], 'int32');
    try {
      await expectTensor(oneHot(i1, 4), [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1], {
        shape: [3, 4],
        dtype: 'float32',
      });
      await expectTensor(oneHot(i2, 3), [0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1], { shape: [2, 2, 3] });
    } finally {
      dispose([i1, i2]);
    }
  });

  it('creation rand and randn with ranges', async () => {
    const n = 4001;
    const u = uniform(n, seedToKey(5), 0);
    // rand(lo, hi) is u * (hi - lo) + lo in float32.
    const r = rand([n], -2, 3, { seed: 5 });
    const got = await ctx.read(r);
    r.dispose();
    ctx.expectClose(
      got,
      u.map((v) => Math.fround(Math.fround(v * 5) - 2)),
      { ...ARITH, what: 'rand(-2, 3)' },
    );
    if (!got.every((v) => v >= -2 && v < 3)) throw new Error('rand(-2, 3) left [-2, 3)');
    const z = randn([n], 5, 0.1, { seed: 6 });
    const zs = await ctx.read(z);
    z.dispose();
    const mean = zs.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(zs.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    if (!(Math.abs(mean - 5) < 0.01 && Math.abs(sd - 0.1) < 0.005)) {
      throw new Error(`randn(5, 0.1): mean ${mean}, std ${sd}`);
    }
    // The global stream: consecutive draws take consecutive counter blocks of seed(n)'s key.
    seed(123);
    const a = rand([10]);
    const b = rand([10]);
    seed(123);
    const c = rand([10]);
    try {
      await ctx.check(a, uniform(10, seedToKey(123), 0), { ...EXACT, what: 'first draw' });
      await ctx.check(b, uniform(10, seedToKey(123), 3), { ...EXACT, what: 'second draw (counter 3)' });
      await ctx.check(c, await ctx.read(a), { ...EXACT, what: 'replay after seed()' });
    } finally {
      dispose([a, b, c]);
    }
  });

  it('creation randint ranges', async () => {
    const cases: readonly [number, number][] = [
      [-3, 4],
      [0, 1],
      [10, 12],
      [0, 1000],
    ];
    for (const [lo, hi] of cases) {
      const n = 2000;
      const t = randint([n], lo, hi, { seed: 9 });
      const u = uniform(n, seedToKey(9), 0);
      // floor(u * (hi - lo)) + lo in float32, clamped to hi - 1.
      const expected = u.map((v) => Math.min(Math.floor(Math.fround(v * (hi - lo))), hi - lo - 1) + lo);
      try {
        await ctx.check(t, expected, {
          ...EXACT,
          shape: [n],
          dtype: 'int32',
          what: `randint [${lo}, ${hi})`,
        });
      } finally {
        t.dispose();
      }
      const seen = new Set(expected);
      if (hi - lo <= 10 && seen.size !== hi - lo) throw new Error(`randint [${lo}, ${hi}) missed values`);
      if (![...seen].every((v) => v >= lo && v < hi))
        throw new Error(`randint [${lo}, ${hi}) left its range`);
    }
  });
}
