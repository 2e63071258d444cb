/**
 * Property-based fuzzing of core's public ops (fast-check, fixed seed, bounded runs), on the CPU
 * backend. Each call gets random shapes, dtypes and values (NaN and infinities included) and, often,
 * arguments of the wrong type (strings, null, objects, numbers where tensors belong). The property:
 * every call either returns a result of the right shape (and, for the elementwise ops, the right
 * values) or throws one of mru's typed errors; never a TypeError or RangeError from inside, never a
 * silent wrong shape, and never a leaked tensor.
 */

import { cpuBackend } from '@mru/backend-cpu';
import {
  abs,
  add,
  arange,
  argmax,
  broadcastShapes,
  broadcastTo,
  cast,
  concat,
  crossEntropy,
  dispose,
  div,
  equal,
  exp,
  expandDims,
  eye,
  flatten,
  full,
  linspace,
  logsumexp,
  lt,
  MruError,
  matmul,
  max,
  maximum,
  mean,
  memory,
  mse,
  mul,
  neg,
  oneHot,
  pad,
  relu,
  reshape,
  scan,
  setBackend,
  slice,
  softmax,
  split,
  squeeze,
  stack,
  sub,
  sum,
  Tensor,
  take,
  tanh,
  tensor,
  transpose,
  variance,
  where,
  zeros,
} from '@mru/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

const SEED = 20_261_202;
const RUNS = 300;

beforeAll(async () => {
  await setBackend(cpuBackend());
});

type DType = 'float32' | 'int32' | 'bool';

/** Floats with the special values, rounded to float32 as a tensor would store them. */
const special = fc.constantFrom(0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
const float = fc.oneof({ weight: 4, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }) }, special);

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });

interface HostTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly values: number[];
}

const hostArb: fc.Arbitrary<HostTensor> = fc
  .tuple(shapeArb, fc.constantFrom<DType>('float32', 'float32', 'int32', 'bool'))
  .chain(([shape, dtype]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v =
      dtype === 'float32'
        ? float.map(Math.fround)
        : dtype === 'int32'
          ? fc.integer({ min: -50, max: 50 })
          : fc.constantFrom(0, 1);
    return fc.array(v, { minLength: n, maxLength: n }).map((values) => ({ shape, dtype, values }));
  });

/** Anything a JavaScript caller might pass where a tensor, axis, shape or option belongs. */
const junk = fc.constantFrom<unknown>(
  null,
  undefined,
  'abc',
  '1',
  {},
  [],
  [1, '2'],
  true,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -1,
  2.5,
  2 ** 40,
  Symbol('s'),
  () => 1,
);

function make(h: HostTensor): Tensor {
  const data =
    h.dtype === 'float32'
      ? Float32Array.from(h.values)
      : h.dtype === 'int32'
        ? Int32Array.from(h.values)
        : Uint8Array.from(h.values);
  return tensor(data, { shape: h.shape, dtype: h.dtype });
}

/** An argument: mostly a tensor, sometimes a number or junk. */
const argArb = fc.oneof(
  { weight: 6, arbitrary: hostArb.map((h) => ({ kind: 'tensor' as const, h })) },
  { weight: 1, arbitrary: float.map((x) => ({ kind: 'value' as const, v: x as unknown })) },
  { weight: 1, arbitrary: junk.map((v) => ({ kind: 'value' as const, v })) },
);
type Arg = { kind: 'tensor'; h: HostTensor } | { kind: 'value'; v: unknown };

const axisArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -4, max: 3 }) as fc.Arbitrary<unknown> },
  {
    weight: 1,
    arbitrary: fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 3 }) as fc.Arbitrary<unknown>,
  },
  { weight: 1, arbitrary: junk },
);

/** The result of one call: shapes of the tensors returned, or the error thrown. */
type Outcome = { ok: true; shapes: number[][]; out: Tensor[] } | { ok: false; error: unknown };

function call(fn: () => unknown): Outcome {
  try {
    const r = fn();
    const out = Array.isArray(r) ? r : [r];
    for (const t of out) if (!(t instanceof Tensor)) throw new Error(`returned a non-tensor: ${String(t)}`);
    return { ok: true, shapes: (out as Tensor[]).map((t) => [...t.shape]), out: out as Tensor[] };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Fails unless the error is one of mru's typed errors (anything else is a crash from inside). */
function expectTypedError(error: unknown, what: string): void {
  if (!(error instanceof MruError)) {
    throw new Error(`${what} threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
  expect(['ShapeError', 'DTypeError', 'ValueError', 'DisposedError', 'BackendError']).toContain(error.name);
}

/**
 * Runs `body` with the tensors of `args` made, checks the outcome with `expected` (the shapes the
 * result must have when the call succeeds, computed independently; null when not predicted), and
 * checks nothing leaked.
 */
function check(
  what: string,
  args: readonly Arg[],
  body: (xs: unknown[]) => unknown,
  expected?: (xs: unknown[]) => number[][] | null,
  values?: (xs: unknown[], out: Tensor[]) => void,
): void {
  const before = memory().tensors;
  const xs = args.map((a) => (a.kind === 'tensor' ? make(a.h) : a.v));
  try {
    const o = call(() => body(xs));
    if (!o.ok) expectTypedError(o.error, what);
    else {
      try {
        const want = expected?.(xs);
        if (want) expect(o.shapes, `${what}: result shape`).toEqual(want);
        values?.(xs, o.out);
      } finally {
        dispose(o.out);
      }
    }
  } finally {
    dispose(xs.filter((x) => x instanceof Tensor));
  }
  expect(memory().tensors, `${what}: live tensors after the call`).toBe(before);
}

const isT = (x: unknown): x is Tensor => x instanceof Tensor;
/** A valid axis (the call succeeded) made non-negative. */
const normAxis = (axis: unknown, rank: number): number => {
  const a = axis as number;
  return a < 0 ? a + rank : a;
};
const shapeOf = (x: unknown): number[] => (isT(x) ? [...x.shape] : []);

/** Same values, NaN equal to NaN, within float32 rounding of one operation. */
function expectValues(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const b = want[i];
    if (Number.isNaN(b)) expect(Number.isNaN(a), `${what}[${i}]: ${a} vs NaN`).toBe(true);
    else if (!Number.isFinite(b)) expect(a, `${what}[${i}]`).toBe(b);
    else
      expect(Math.abs(a - b), `${what}[${i}]: ${a} vs ${b}`).toBeLessThanOrEqual(1e-6 * Math.abs(b) + 1e-6);
  }
}

/** Row-major values of `x` broadcast to `shape` (host reference). */
function broadcastHost(x: Tensor, shape: number[]): number[] {
  const v = Array.from(x.dataSync());
  const n = shape.reduce((a, b) => a * b, 1);
  const out: number[] = new Array(n);
  const off = shape.length - x.rank;
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    let stride = 1;
    const idx: number[] = new Array(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    for (let d = x.rank - 1; d >= 0; d--) {
      const k = x.shape[d] === 1 ? 0 : idx[d + off];
      src += k * stride;
      stride *= x.shape[d];
    }
    out[i] = v[src];
  }
  return out;
}

const fuzz = (prop: fc.IPropertyWithHooks<unknown[]> | fc.IProperty<unknown[]>) =>
  fc.assert(prop, { seed: SEED, numRuns: RUNS, endOnFailure: true });

describe('fuzz: public ops give a correct result or a typed error', () => {
  it('elementwise binary ops: broadcast shape and float32 values', () => {
    const ops = [
      ['add', add, (a: number, b: number) => a + b],
      ['sub', sub, (a: number, b: number) => a - b],
      ['mul', mul, (a: number, b: number) => a * b],
      ['div', div, (a: number, b: number) => a / b],
      [
        'maximum',
        maximum,
        (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
      ],
    ] as const;
    fuzz(
      fc.property(fc.constantFrom(...ops), argArb, argArb, ([name, op, ref], a, b) => {
        check(
          name,
          [a, b],
          ([x, y]) => op(x as Tensor, y as Tensor),
          ([x, y]) => {
            if (!isT(x) && !isT(y)) return [[]];
            return [broadcastShapes(name, shapeOf(x), shapeOf(y))];
          },
          ([x, y], [out]) => {
            if (!isT(x) || !isT(y) || x.dtype !== 'float32') return;
            const shape = [...out.shape];
            const xa = broadcastHost(x, shape);
            const ya = broadcastHost(y, shape);
            expectValues(
              out.dataSync(),
              xa.map((v, i) => Math.fround(ref(v, ya[i]))),
              name,
            );
          },
        );
      }),
    );
  });

  it('elementwise unary ops and comparisons keep the shape', () => {
    const ops = [
      ['neg', (x: unknown) => neg(x as Tensor)],
      ['abs', (x: unknown) => abs(x as Tensor)],
      ['exp', (x: unknown) => exp(x as Tensor)],
      ['tanh', (x: unknown) => tanh(x as Tensor)],
      ['relu', (x: unknown) => relu(x as Tensor)],
      ['equal', (x: unknown) => equal(x as Tensor, 0)],
      ['lt', (x: unknown) => lt(x as Tensor, 1)],
      ['cast', (x: unknown) => cast(x as Tensor, 'int32')],
    ] as const;
    fuzz(
      fc.property(fc.constantFrom(...ops), argArb, ([name, op], a) => {
        check(
          name,
          [a],
          ([x]) => op(x),
          ([x]) => [shapeOf(x)],
          ([x], [out]) => {
            if (name === 'neg' && isT(x) && x.dtype === 'float32') {
              expectValues(
                out.dataSync(),
                Array.from(x.dataSync(), (v) => -v),
                'neg',
              );
            }
          },
        );
      }),
    );
  });

  it('reductions over random axes', () => {
    const ops = [
      ['sum', sum],
      ['mean', mean],
      ['max', max],
      ['variance', variance],
      ['logsumexp', logsumexp],
    ] as const;
    fuzz(
      fc.property(fc.constantFrom(...ops), argArb, axisArb, fc.boolean(), ([name, op], a, axes, keep) => {
        check(
          name,
          [a],
          ([x]) => op(x as Tensor, axes as number, keep),
          ([x]) => {
            if (!isT(x)) return null;
            const r = x.rank;
            const list =
              axes === undefined
                ? [...Array(r).keys()]
                : typeof axes === 'number'
                  ? [axes]
                  : (axes as number[]);
            const norm = list.map((ax) => (ax < 0 ? ax + r : ax));
            return [
              keep
                ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d))
                : x.shape.filter((_, i) => !norm.includes(i)),
            ];
          },
        );
      }),
    );
  });

  it('movement ops with random (and wrong) arguments', () => {
    const shapeish = fc.oneof(
      { weight: 3, arbitrary: shapeArb as fc.Arbitrary<unknown> },
      {
        weight: 1,
        arbitrary: fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 3 }) as fc.Arbitrary<unknown>,
      },
      { weight: 1, arbitrary: junk },
    );
    const cases = fc.oneof(
      fc.tuple(fc.constant('reshape'), argArb, shapeish),
      fc.tuple(fc.constant('broadcastTo'), argArb, shapeish),
      fc.tuple(fc.constant('transpose'), argArb, fc.oneof(fc.constant(undefined), shapeish)),
      fc.tuple(fc.constant('slice'), argArb, shapeish),
      fc.tuple(fc.constant('flatten'), argArb, axisArb),
      fc.tuple(fc.constant('squeeze'), argArb, axisArb),
      fc.tuple(fc.constant('expandDims'), argArb, axisArb),
      fc.tuple(fc.constant('concat'), argArb, axisArb),
      fc.tuple(fc.constant('stack'), argArb, axisArb),
      fc.tuple(fc.constant('split'), argArb, shapeish),
      fc.tuple(
        fc.constant('pad'),
        argArb,
        fc.oneof(junk, fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: 3 })),
      ),
    );
    fuzz(
      fc.property(cases, ([name, a, extra]) => {
        check(
          name,
          [a],
          ([x]) => {
            const t = x as Tensor;
            const e = extra as never;
            switch (name) {
              case 'reshape':
                return reshape(t, e);
              case 'broadcastTo':
                return broadcastTo(t, e);
              case 'transpose':
                return transpose(t, e);
              case 'slice':
                return slice(t, e);
              case 'flatten':
                return flatten(t, e);
              case 'squeeze':
                return squeeze(t, e);
              case 'expandDims':
                return expandDims(t, e);
              case 'concat':
                return concat([t, t], e);
              case 'stack':
                return stack([t, t], e);
              case 'split':
                return split(t, e);
              default:
                return pad(t, e);
            }
          },
          ([x]) => {
            // The shapes these calls must have when they succeed; the others are checked by size below.
            if (!isT(x)) return null;
            if (name === 'reshape' && Array.isArray(extra) && !extra.includes(-1)) return [extra as number[]];
            if (name === 'broadcastTo') return [extra as number[]];
            if (name === 'split') {
              return (extra as number[]).map((n) => x.shape.map((d, i) => (i === 0 ? n : d)));
            }
            if (name === 'pad') {
              const w = extra as number[][];
              return [x.shape.map((d, i) => d + w[i][0] + w[i][1])];
            }
            if (name === 'concat')
              return [x.shape.map((d, i) => (i === normAxis(extra, x.rank) ? 2 * d : d))];
            if (name === 'stack') {
              const s = [...x.shape];
              s.splice(normAxis(extra, x.rank + 1), 0, 2);
              return [s];
            }
            return null;
          },
          ([x], out) => {
            // Whatever the movement, elements are neither invented nor lost where no copy is implied.
            if (!isT(x)) return;
            const n = x.size;
            if (['reshape', 'transpose', 'flatten', 'squeeze', 'expandDims'].includes(name)) {
              expect(out[0].size, `${name}: size`).toBe(n);
            }
            if (name === 'flatten') expect(out[0].rank).toBeLessThanOrEqual(Math.max(1, x.rank));
          },
        );
      }),
    );
  });

  it('creation functions with random sizes, values and dtypes', () => {
    const dtypeArb = fc.oneof(
      fc.constantFrom<unknown>('float32', 'int32', 'bool', undefined),
      junk,
      fc.constant('float64'),
    );
    const cases = fc.oneof(
      fc.tuple(
        fc.constant('zeros'),
        fc.oneof(shapeArb as fc.Arbitrary<unknown>, junk, fc.constant([2 ** 33])),
        dtypeArb,
      ),
      fc.tuple(fc.constant('full'), fc.oneof(shapeArb as fc.Arbitrary<unknown>, junk), dtypeArb),
      fc.tuple(
        fc.constant('arange'),
        fc.oneof(fc.integer({ min: -5, max: 20 }) as fc.Arbitrary<unknown>, junk),
        dtypeArb,
      ),
      fc.tuple(
        fc.constant('linspace'),
        fc.oneof(fc.integer({ min: 0, max: 10 }) as fc.Arbitrary<unknown>, junk),
        dtypeArb,
      ),
      fc.tuple(
        fc.constant('eye'),
        fc.oneof(fc.integer({ min: 0, max: 6 }) as fc.Arbitrary<unknown>, junk),
        dtypeArb,
      ),
      fc.tuple(
        fc.constant('tensor'),
        fc.oneof(fc.array(float, { maxLength: 6 }) as fc.Arbitrary<unknown>, junk),
        dtypeArb,
      ),
    );
    fuzz(
      fc.property(cases, ([name, arg, dtype]) => {
        const options = { dtype } as never;
        check(
          name,
          [],
          () => {
            switch (name) {
              case 'zeros':
                return zeros(arg as number[], options);
              case 'full':
                return full(arg as number[], 3, options);
              case 'arange':
                return arange(0, arg as number, 1, options);
              case 'linspace':
                return linspace(0, 1, arg as number, options);
              case 'eye':
                return eye(arg as number, arg as number, options);
              default:
                return tensor(arg as number[], options);
            }
          },
          () => {
            if (name === 'zeros' || name === 'full') return [arg as number[]];
            // arange(0, undefined) is arange(0): empty.
            if (name === 'arange') return [[arg === undefined ? 0 : Math.max(0, arg as number)]];
            if (name === 'linspace') return [[arg as number]];
            if (name === 'eye') return [[arg as number, arg as number]];
            if (typeof arg === 'number' || typeof arg === 'boolean') return [[]];
            return Array.isArray(arg) ? [[arg.length]] : null;
          },
          (_xs, [out]) => {
            // An int32 tensor holds exactly the integers it was given (NaN or ±Inf is an error).
            if (name === 'tensor' && out.dtype === 'int32') {
              const given = (Array.isArray(arg) ? arg : [arg]) as number[];
              expect(Array.from(out.dataSync())).toEqual(given.map((v) => Math.trunc(v)));
            }
          },
        );
      }),
    );
  });

  it('matmul, where, take, oneHot, softmax, losses and scan', () => {
    const cases = fc.oneof(
      fc.tuple(fc.constant('matmul'), argArb, argArb, fc.constant(null)),
      fc.tuple(fc.constant('where'), argArb, argArb, fc.constant(null)),
      fc.tuple(fc.constant('take'), argArb, argArb, axisArb),
      fc.tuple(
        fc.constant('oneHot'),
        argArb,
        argArb,
        fc.oneof(fc.integer({ min: -1, max: 5 }) as fc.Arbitrary<unknown>, junk),
      ),
      fc.tuple(fc.constant('softmax'), argArb, argArb, axisArb),
      fc.tuple(fc.constant('argmax'), argArb, argArb, axisArb),
      fc.tuple(
        fc.constant('crossEntropy'),
        argArb,
        argArb,
        fc.constantFrom<unknown>('mean', 'sum', 'none', 'avg', null),
      ),
      fc.tuple(
        fc.constant('mse'),
        argArb,
        argArb,
        fc.constantFrom<unknown>('mean', 'sum', 'none', 'avg', undefined),
      ),
      fc.tuple(
        fc.constant('scan'),
        argArb,
        argArb,
        fc.oneof(fc.constant<unknown>({}), fc.constant<unknown>({ reverse: true }), junk),
      ),
    );
    fuzz(
      fc.property(cases, ([name, a, b, extra]) => {
        check(name, [a, b], ([x, y]) => {
          const t = x as Tensor;
          const u = y as Tensor;
          const e = extra as never;
          switch (name) {
            case 'matmul':
              return matmul(t, u);
            case 'where':
              return where(t, u, 0);
            case 'take':
              return take(t, u, e);
            case 'oneHot':
              return oneHot(t, e);
            case 'softmax':
              return softmax(t, e);
            case 'argmax':
              return argmax(t, e);
            case 'crossEntropy':
              return crossEntropy(t, u, e);
            case 'mse':
              return mse(t, u, e);
            default:
              return scan(t, u, e);
          }
        });
      }),
    );
  });

  it('crossEntropy with -inf masks is finite where the target is', () => {
    fuzz(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 20, maxLength: 20 }),
        (rows, classes, maskBits, logits) => {
          const lv: number[] = [];
          const labels: number[] = [];
          for (let r = 0; r < rows; r++) {
            const label = r % classes;
            labels.push(label);
            for (let c = 0; c < classes; c++) {
              const masked = c !== label && maskBits[(r * classes + c) % 20];
              lv.push(masked ? Number.NEGATIVE_INFINITY : Math.fround(logits[(r * classes + c) % 20]));
            }
          }
          const z = tensor(Float32Array.from(lv), { shape: [rows, classes] });
          const y = tensor(Int32Array.from(labels), { shape: [rows] });
          const l = crossEntropy(z, y, 'none');
          try {
            const got = l.dataSync();
            for (let r = 0; r < rows; r++) {
              const row = lv.slice(r * classes, (r + 1) * classes);
              const m = Math.max(...row);
              const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
              const want = lse - row[labels[r]];
              expect(Math.abs(got[r] - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
            }
          } finally {
            dispose([z, y, l]);
          }
        },
      ),
    );
  });
});
