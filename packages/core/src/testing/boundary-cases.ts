/**
 * The public boundary: what JavaScript callers can pass that TypeScript would have refused (a string
 * for a shape, `null` for an axis, an unknown dtype name, a size no tensor can hold, an async
 * function to `valueAndGrad`) gives a typed error naming the op and the offending value, before any
 * buffer is allocated; and the few inputs with a defined answer (a class masked with -inf in
 * `crossEntropy`) give that answer. These are core's checks, pinned here as seen through a backend,
 * with memory counts proving that a refused call leaves nothing behind.
 */
import { expect, it } from 'vitest';
import { valueAndGrad } from '../autograd.js';
import { dispose, getBackend, memory, setBackend } from '../engine.js';
import { BackendError, DisposedError, DTypeError, MruError, ShapeError, ValueError } from '../errors.js';
import { arange, eye, full, linspace, rand, randn, tensor, zeros } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import {
  broadcastTo,
  concat,
  flatten,
  oneHot,
  pad,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  transpose,
} from '../ops/movement.js';
import { crossEntropy, mse } from '../ops/nn.js';
import { logsumexp, max, mean, min, sum, variance } from '../ops/reduce.js';
import { scan } from '../ops/scan.js';
import type { Tensor } from '../tensor.js';
import type { ConformanceContext } from './context.js';

/** Calls `fn` and returns what it threw (failing when it returns normally). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to throw');
}

/** Expects `fn` to throw `type` with a message matching each of `parts`. */
function expectTyped(
  fn: () => unknown,
  type: new (...a: never[]) => MruError,
  ...parts: (string | RegExp)[]
): void {
  const e = thrown(fn);
  expect(e, `${e?.name}: ${e?.message}`).toBeInstanceOf(type);
  for (const p of parts) expect(e.message).toMatch(p);
}

/** Runs `body` and checks the backend holds the same number of tensors and bytes afterwards. */
async function noAllocation(body: () => void | Promise<void>): Promise<void> {
  const before = memory();
  await body();
  const after = memory();
  expect({ tensors: after.tensors, bytes: after.bytes }).toEqual({
    tensors: before.tensors,
    bytes: before.bytes,
  });
}

// Casts for calls a TypeScript caller could not write: the point is what JavaScript callers get.
type Any = any;

/** Declares the boundary cases. */
export function boundarySuite(ctx: ConformanceContext): void {
  it('boundary crossEntropy with a class masked by -inf is finite and exact', async () => {
    const logits = tensor([[0, Number.NEGATIVE_INFINITY, 1]]);
    const labels = tensor([0], { dtype: 'int32' });
    const probs = tensor([[1, 0, 0]]);
    const outs: Tensor[] = [logits, labels, probs];
    try {
      // log(1 + e) - 0 = 1.3132617
      const want = Math.log(1 + Math.E);
      for (const y of [crossEntropy(logits, labels), crossEntropy(logits, probs)]) {
        outs.push(y);
        await ctx.check(y, [want], { rtol: 1e-6, atol: 1e-6 });
      }
      const none = crossEntropy(logits, probs, 'none');
      outs.push(none);
      await ctx.check(none, [want], { shape: [1], rtol: 1e-6, atol: 1e-6 });
      // The gradient is softmax minus the target, 0 for the masked class.
      const { value, grads } = valueAndGrad((z: Tensor) => crossEntropy(z, labels))(logits);
      outs.push(value, grads);
      const e = Math.E;
      await ctx.check(grads, [1 / (1 + e) - 1, 0, e / (1 + e)], { shape: [1, 3], rtol: 1e-5, atol: 1e-6 });
    } finally {
      dispose(outs);
    }
  });

  it('boundary an unknown loss reduction is a ValueError, not undefined', async () => {
    const a = zeros([2, 3]);
    const l = zeros([2], { dtype: 'int32' });
    try {
      await noAllocation(() => {
        expectTyped(() => mse(a, a, 'avg' as Any), ValueError, /mse/, /avg/);
        expectTyped(() => crossEntropy(a, l, 'avg' as Any), ValueError, /crossEntropy/, /avg/);
      });
    } finally {
      dispose([a, l]);
    }
  });

  it('boundary flatten with start after end is a ValueError', async () => {
    const x = zeros([2, 3, 4]);
    try {
      await noAllocation(() => {
        expectTyped(() => flatten(x, 2, 1), ValueError, /flatten/);
        expectTyped(() => flatten(x, -1, 0), ValueError, /flatten/);
        expectTyped(() => flatten(x, '1' as Any), ValueError, /flatten/);
      });
      const y = flatten(x, 1, 2);
      expect(y.shape).toEqual([2, 12]);
      y.dispose();
    } finally {
      x.dispose();
    }
  });

  it('boundary tensor refuses bad shapes and values', async () => {
    await noAllocation(() => {
      expectTyped(() => tensor([1, 2], { shape: [-1, -2] }), ShapeError, /tensor/, /-1/);
      expectTyped(() => tensor([1, 2], { shape: ['2'] as Any }), ShapeError, /tensor/, /'2'/);
      expectTyped(() => tensor([1, 2], { shape: 2 as Any }), ShapeError, /tensor/);
      expectTyped(() => tensor('abc' as Any), DTypeError, /tensor/, /abc/);
      expectTyped(() => tensor({} as Any), DTypeError, /tensor/, /object/);
      expectTyped(() => tensor(null as Any), DTypeError, /tensor/, /null/);
      expectTyped(() => tensor([1, 'x', 3] as Any), DTypeError, /tensor/);
      expectTyped(() => tensor([[1], [null]] as Any), DTypeError, /tensor/);
    });
  });

  it('boundary slice bounds must be arrays', async () => {
    const x = arange(6);
    try {
      await noAllocation(() => {
        expectTyped(() => slice(x, 1 as Any), ValueError, /slice/, /begin/);
        expectTyped(() => slice(x, null as Any), ValueError, /slice/);
        expectTyped(() => slice(x, [0], 3 as Any), ValueError, /slice/, /end/);
        expectTyped(() => slice(x, [0], [3], 1 as Any), ValueError, /slice/, /step/);
      });
    } finally {
      x.dispose();
    }
  });

  it('boundary axes of the wrong type are a ValueError in every reduction and squeeze', async () => {
    const x = zeros([2, 1]);
    try {
      await noAllocation(() => {
        for (const bad of [null, '1', {}, [0, '1'], Number.NaN]) {
          for (const [name, f] of [
            ['sum', () => sum(x, bad as Any)],
            ['mean', () => mean(x, bad as Any)],
            ['max', () => max(x, bad as Any)],
            ['min', () => min(x, bad as Any)],
            ['variance', () => variance(x, bad as Any)],
            ['logsumexp', () => logsumexp(x, bad as Any)],
            ['squeeze', () => squeeze(x, bad as Any)],
          ] as const) {
            expectTyped(f, ValueError, new RegExp(`^${name}:`));
          }
        }
      });
    } finally {
      x.dispose();
    }
  });

  it('boundary movement ops refuse arguments of the wrong type', async () => {
    const x = zeros([2, 2]);
    const c = tensor([true, false]);
    try {
      await noAllocation(() => {
        expectTyped(() => reshape(x, 4 as Any), ShapeError, /reshape/, /4/);
        expectTyped(() => reshape(x, null as Any), ShapeError, /reshape/, /null/);
        expectTyped(() => reshape(x, [2, -2]), ShapeError, /reshape/);
        expectTyped(() => transpose(x, '10' as Any), ValueError, /transpose/, /'10'/);
        expectTyped(() => split(x, 2 as Any), ValueError, /split/, /2/);
        expectTyped(() => concat(x as Any), ValueError, /concat/, /tensor/);
        expectTyped(() => concat([x, 'a'] as Any), DTypeError, /concat/);
        expectTyped(() => stack('ab' as Any), ValueError, /stack/, /'ab'/);
        expectTyped(() => E.where(true as Any, x, x), DTypeError, /where/, /true/);
        expectTyped(() => E.where(c, 'a' as Any, 0), DTypeError, /where/);
        expectTyped(() => E.add(x, '1' as Any), DTypeError, /add/, /'1'/);
        expectTyped(() => scan(x, x, null as Any), ValueError, /scan/, /null/);
        expectTyped(() => full('2' as Any, 1), ShapeError, /full/, /'2'/);
        expectTyped(() => full([2], 'a' as Any), ValueError, /full/);
        expectTyped(() => pad(x, 1 as Any), ValueError, /pad/);
      });
    } finally {
      dispose([x, c]);
    }
  });

  it('boundary unknown dtype names are a DTypeError', async () => {
    await noAllocation(() => {
      for (const dtype of ['float64', 'int64', 'uint8', 'Float32']) {
        expectTyped(() => zeros([2], { dtype: dtype as Any }), DTypeError, /zeros|full/, new RegExp(dtype));
        expectTyped(() => full([2], 1, { dtype: dtype as Any }), DTypeError, /full/, new RegExp(dtype));
        expectTyped(() => tensor([1, 2], { dtype: dtype as Any }), DTypeError, /tensor/, new RegExp(dtype));
        expectTyped(() => tensor(new Float32Array(2), { dtype: dtype as Any }), DTypeError, /tensor/);
      }
    });
  });

  it('boundary sizes of 2^32 elements or more are refused before any allocation', async () => {
    const x = zeros([2]);
    const i = zeros([2], { dtype: 'int32' });
    try {
      await noAllocation(() => {
        expectTyped(() => zeros([2 ** 33]), ShapeError, /8589934592/);
        expectTyped(() => zeros([2 ** 16, 2 ** 16]), ShapeError, /4294967296/);
        expectTyped(() => eye(1e5), ShapeError, /eye/, /10000000000/);
        expectTyped(() => arange(0, Number.POSITIVE_INFINITY), ValueError, /arange/, /Infinity/);
        expectTyped(() => arange(0, 2 ** 33), ShapeError, /arange/);
        expectTyped(() => linspace(0, 1, 1e10), ShapeError, /linspace/, /10000000000/);
        expectTyped(() => randn([1e5, 1e5]), ShapeError, /randn/, /10000000000/);
        expectTyped(() => rand([1e5, 1e5]), ShapeError, /rand/);
        expectTyped(() => pad(x, [[0, 2 ** 32]]), ShapeError, /pad/);
        expectTyped(() => broadcastTo(x, [2 ** 31, 2]), ShapeError, /broadcastTo/);
        expectTyped(() => oneHot(i, 2 ** 31), ShapeError, /oneHot/);
        expectTyped(() => tensor([1, 2], { shape: [2 ** 33] }), ShapeError, /tensor/);
      });
    } finally {
      dispose([x, i]);
    }
  });

  it('boundary a refused call with a number operand leaks no scalar', async () => {
    const b = tensor([true, false]);
    const x = zeros([3]);
    try {
      await noAllocation(() => {
        expectTyped(() => E.lt(b, 1), DTypeError, /lt/);
        expectTyped(() => E.add(b, 1), DTypeError, /add/);
        expectTyped(() => E.where(b, x, 0), ShapeError, /where/);
        expectTyped(() => tensor([1, Number.NaN], { dtype: 'int32' }), DTypeError, /tensor/, /NaN/);
        expectTyped(() => tensor([Number.POSITIVE_INFINITY], { dtype: 'int32' }), DTypeError, /Infinity/);
      });
    } finally {
      dispose([b, x]);
    }
  });

  it('boundary setBackend refuses what is not a backend', async () => {
    const be = getBackend();
    for (const bad of [42, null, {}, { name: 'fake' }]) {
      const e = await setBackend(bad as Any).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ValueError);
      expect((e as Error).message).toMatch(/setBackend/);
    }
    await expect(setBackend('no-such-backend-registered')).rejects.toBeInstanceOf(BackendError);
    // The current backend is untouched.
    expect(getBackend()).toBe(be);
  });

  it('boundary valueAndGrad of a disposed tensor is a DisposedError and leaks nothing', async () => {
    const w = tensor([1, 2, 3]);
    w.dispose();
    const f = valueAndGrad((p: Tensor) => sum(E.mul(E.add(E.mul(p, 2), 1), p)));
    await noAllocation(() => {
      for (let k = 0; k < 3; k++) expectTyped(() => f(w), DisposedError, /valueAndGrad/);
      expectTyped(() => f({ a: [w] } as Any), DisposedError, /valueAndGrad/);
    });
    // A function that throws midway releases what it made too.
    const v = tensor([1, 2, 3]);
    try {
      await noAllocation(() => {
        const g = valueAndGrad((p: Tensor) => {
          E.exp(E.mul(p, 3));
          throw new RangeError('boom');
        });
        expect(() => g(v)).toThrow(RangeError);
      });
    } finally {
      v.dispose();
    }
  });

  it('boundary valueAndGrad of an async function is a ValueError naming the Promise', async () => {
    const w = tensor([1, 2]);
    try {
      await noAllocation(async () => {
        let settled = false;
        const f = valueAndGrad((async (p: Tensor) => {
          await Promise.resolve();
          settled = true;
          // Rejects after valueAndGrad returned: must not become an unhandled rejection.
          throw new Error(`late failure ${p.size}`);
        }) as Any);
        expectTyped(() => f(w), ValueError, /valueAndGrad/, /Promise/);
        await new Promise((r) => setTimeout(r, 5));
        expect(settled).toBe(true);
        expectTyped(() => valueAndGrad(42 as Any), ValueError, /valueAndGrad/, /42/);
      });
    } finally {
      w.dispose();
    }
  });

  it('boundary error classes carry explicit names', () => {
    const cases: [MruError, string][] = [
      [new ShapeError('op', 'm'), 'ShapeError'],
      [new DTypeError('op', 'm'), 'DTypeError'],
      [new BackendError('op', 'm'), 'BackendError'],
      [new DisposedError('op', 'm'), 'DisposedError'],
      [new ValueError('op', 'm'), 'ValueError'],
      [new MruError('op', 'm'), 'MruError'],
    ];
    for (const [e, name] of cases) {
      expect(e.name).toBe(name);
      expect(String(e)).toBe(`${name}: op: m`);
    }
  });
}
