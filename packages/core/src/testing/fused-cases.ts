/**
 * Fused programs: `fuse(fn)` on the backend under test against the same traced program run one
 * primitive per node (`runPrimitives`, core's reference for every `Backend.elementwise`), for the
 * values of every output AND the gradients of every float32 input (`valueAndGrad` through the
 * derived or custom VJP, itself a fused program).
 *
 * Design: each case evaluates `fuse(fn)` twice on the same uploaded operands, once as is and once
 * with the backend's `elementwise` hidden (so core falls back to the primitives), with one fixed
 * random projection of the outputs as the loss, and compares the two. The comparison isolates the
 * backend's fused kernel: same program, same scalars, same operands. A backend without
 * `elementwise` passes trivially here (it runs the primitives both times); the gradient check
 * against finite differences and the custom-VJP case check `fuse` itself on every backend.
 *
 * Tolerance: bit-identical (NaN payloads aside, -0 distinguished), with one exception. On a backend
 * named `'webgpu'`, a program (forward or backward) with an op that WGSL specifies to an accuracy
 * bound rather than correctly rounded (`exp log log1p sqrt tanh sigmoid sin cos pow` and float32
 * `div`: 1 to 3 ulps, or absolute error for `sin`/`cos`) may differ by a few float32 ulps (4 ulps of
 * the value, or of the tensor's largest value for results of cancellation): a driver may lower the
 * same builtin differently in two kernels, e.g. fold the scaling of `exp(1.5 x)` into `exp`'s own
 * `exp2(x log2 e)` when the multiply is in the same kernel (lavapipe's LLVM does unless the backend
 * stops it). Correctly rounded ops (`add sub mul`, comparisons, casts, `where`, the int32 and bool
 * ops) must give the same bits on every backend. NaN and infinities must match exactly everywhere,
 * int32 and bool results too.
 *
 * The property-based case (fast-check, fixed seed, bounded runs) builds random programs over random
 * broadcast shapes and dtypes and checks the same equality.
 */
import type * as FC from 'fast-check';
import { it } from 'vitest';
import { valueAndGrad } from '../autograd.js';
import type { Backend, BinaryOp, ElementwiseProgram, KernelTensor, UnaryOp } from '../backend.js';
import type { DType } from '../dtype.js';
import { dispose } from '../engine.js';
import * as E from '../ops/elementwise.js';
import {
  type Expr,
  type ExprLike,
  type FuseBuilder,
  type FuseOptions,
  type FuseResult,
  fuse,
} from '../ops/fuse.js';
import { sum } from '../ops/reduce.js';
import { broadcastShapes, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { TRANSCENDENTAL } from './common.js';
import type { ConformanceContext } from './context.js';

/** One operand of a case: values, shape and dtype. */
interface Operand {
  readonly values: ArrayLike<number>;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

type FuseFn = (e: FuseBuilder, ...xs: Expr[]) => FuseResult;

/** What one evaluation of a fused function produced (read back). */
interface Evaluation {
  readonly outs: { values: Float64Array; dtype: DType; shape: readonly number[] }[];
  readonly loss: Float64Array | null;
  readonly grads: (Float64Array | null)[];
}

/** Runs `f` with `backend.elementwise` hidden, so that `fuse` falls back to the primitives. */
function withPrimitives<T>(backend: Backend, f: () => T): T {
  const own = Object.getOwnPropertyDescriptor(backend, 'elementwise');
  Object.defineProperty(backend, 'elementwise', { value: undefined, configurable: true, writable: true });
  try {
    return f();
  } finally {
    if (own) Object.defineProperty(backend, 'elementwise', own);
    else delete (backend as { elementwise?: unknown }).elementwise;
  }
}

const asList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

/**
 * Evaluates `f` at `xs`: the outputs, and `loss = sum_k sum(out_k * w_k)` over float32 outputs with
 * its gradient to each float32 operand. Everything is queued before anything is read.
 */
async function evaluate(
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  xs: readonly Tensor[],
  weights: readonly (Tensor | null)[],
  run: <T>(g: () => T) => T,
): Promise<Evaluation> {
  const made: Tensor[] = [];
  try {
    const outs = run(() => asList(f(...xs)));
    made.push(...outs);
    const floatAt = xs.flatMap((x, i) => (x.dtype === 'float32' ? [i] : []));
    let loss: Tensor | null = null;
    let grads: (Tensor | null)[] = xs.map(() => null);
    if (floatAt.length > 0 && weights.some((w) => w !== null)) {
      const r = run(() =>
        valueAndGrad((ps: Tensor[]) => {
          const all = [...xs];
          floatAt.forEach((i, k) => {
            all[i] = ps[k];
          });
          const ys = asList(f(...all));
          let total: Tensor | null = null;
          ys.forEach((y, k) => {
            const w = weights[k];
            if (!w) return;
            const term = sum(E.mul(y, w));
            total = total ? E.add(total, term) : term;
          });
          return total as unknown as Tensor;
        })(floatAt.map((i) => xs[i])),
      );
      loss = r.value;
      made.push(r.value, ...r.grads);
      grads = xs.map((_, i) => {
        const k = floatAt.indexOf(i);
        return k < 0 ? null : r.grads[k];
      });
    }
    const read = async (t: Tensor) => Float64Array.from(await t.data());
    const [outVals, lossVal, gradVals] = await Promise.all([
      Promise.all(outs.map(read)),
      loss ? read(loss) : Promise.resolve(null),
      Promise.all(grads.map((g) => (g ? read(g) : Promise.resolve(null)))),
    ]);
    return {
      outs: outs.map((o, k) => ({ values: outVals[k], dtype: o.dtype, shape: [...o.shape] })),
      loss: lossVal,
      grads: gradVals,
    };
  } finally {
    dispose(made);
  }
}

/** 4 float32 ulps, relative. */
const ULPS = 4 * 2 ** -23;

/**
 * Throws unless `actual` equals `expected`: bit for bit (Object.is: NaN matches NaN, -0 only -0)
 * when `exact`, else within a few float32 ulps (see the file comment) with NaN and infinities equal.
 */
function expectSame(actual: Float64Array, expected: Float64Array, exact: boolean, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: expected ${expected.length} values, got ${actual.length}`);
  }
  let scale = 0;
  for (const v of expected) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let ok: boolean;
    if (exact || !Number.isFinite(e)) ok = Object.is(a, e) || (!exact && Number.isNaN(a) && Number.isNaN(e));
    else ok = Math.abs(a - e) <= ULPS * Math.max(Math.abs(e), scale);
    if (!ok) {
      count++;
      if (bad.length < 6)
        bad.push(`[${i}] fused ${Object.is(a, -0) ? '-0' : a}, primitives ${Object.is(e, -0) ? '-0' : e}`);
    }
  }
  if (count > 0) {
    throw new Error(
      `${what}: ${count} of ${expected.length} values differ (${exact ? 'bit-exact' : '4 ulps'}): ${bad.join('; ')}`,
    );
  }
}

const INEXACT: ReadonlySet<string> = new Set([
  'exp',
  'log',
  'log1p',
  'sqrt',
  'tanh',
  'sigmoid',
  'sin',
  'cos',
  'pow',
]);

/** Whether `p` has an op that WGSL does not specify as correctly rounded (see the file comment). */
function inexact(p: ElementwiseProgram): boolean {
  return p.nodes.some(
    (n) =>
      (n.kind === 'unary' && INEXACT.has(n.op)) ||
      (n.kind === 'binary' && (INEXACT.has(n.op) || (n.op === 'div' && p.dtypes[n.a] === 'float32'))),
  );
}

/**
 * Runs `f` with `backend.elementwise` (when it has one) wrapped to collect every program it runs.
 */
function recordingPrograms<T>(backend: Backend, seen: ElementwiseProgram[], f: () => T): T {
  const fusedRun = backend.elementwise;
  if (!fusedRun) return f();
  const own = Object.getOwnPropertyDescriptor(backend, 'elementwise');
  Object.defineProperty(backend, 'elementwise', {
    value: (p: ElementwiseProgram, ...rest: [KernelTensor[], number[], number[]]) => {
      seen.push(p);
      return fusedRun.call(backend, p, ...rest);
    },
    configurable: true,
    writable: true,
  });
  try {
    return f();
  } finally {
    if (own) Object.defineProperty(backend, 'elementwise', own);
    else delete (backend as { elementwise?: unknown }).elementwise;
  }
}

/**
 * The central check: `fuse(fn, options)` at `operands` equals the same program run as primitives,
 * values and gradients. Returns the fused evaluation for further checks.
 */
async function checkFused(
  ctx: ConformanceContext,
  what: string,
  fn: FuseFn,
  operands: readonly Operand[],
  options?: FuseOptions,
): Promise<Evaluation> {
  const be = ctx.backend();
  const xs = operands.map((o) => ctx.upload(o.values, o.shape, o.dtype));
  const weights: (Tensor | null)[] = [];
  try {
    const f = fuse(fn, options) as (...xs: Tensor[]) => Tensor | Tensor[];
    const outShape = operands.reduce<readonly number[]>((s, o) => broadcastShapes(what, s, o.shape), []);
    const probe = asList(f(...xs));
    probe.forEach((y, k) => {
      if (y.dtype !== 'float32') weights.push(null);
      else weights.push(ctx.upload(ctx.uniform(1000 + k, y.shape, 0.5, 1.5)));
      if (y.shape.join() !== outShape.join()) {
        throw new Error(`${what}: output ${k} has shape [${y.shape}], expected [${outShape}]`);
      }
    });
    dispose(probe);
    const programs: ElementwiseProgram[] = [];
    const fused = await evaluate(f, xs, weights, <T>(g: () => T): T => recordingPrograms(be, programs, g));
    const exact = be.name !== 'webgpu' || !programs.some(inexact);
    const prims = await evaluate(f, xs, weights, <T>(g: () => T): T => withPrimitives(be, g));
    fused.outs.forEach((o, k) => {
      const p = prims.outs[k];
      if (o.dtype !== p.dtype)
        throw new Error(`${what}: output ${k} is ${o.dtype}, primitives give ${p.dtype}`);
      expectSame(o.values, p.values, exact || o.dtype !== 'float32', `${what}: output ${k} (${o.dtype})`);
    });
    if (fused.loss && prims.loss) expectSame(fused.loss, prims.loss, exact, `${what}: loss`);
    fused.grads.forEach((g, i) => {
      const p = prims.grads[i];
      if ((g === null) !== (p === null)) throw new Error(`${what}: gradient ${i} present on one path only`);
      if (g && p) expectSame(g, p, exact, `${what}: gradient of operand ${i}`);
    });
    return fused;
  } finally {
    dispose([...xs, ...weights.filter((w): w is Tensor => w !== null)]);
  }
}

const SPECIAL = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  1,
  -1,
  0.5,
  88.5,
  -88.5,
  1e30,
  -1e-30,
];
const INT_SPECIAL = [0, 1, -1, 2147483647, -2147483648, 65537, -65536, 46341, 7, -7];

/** `n` float32 values in `[lo, hi)` followed by the special values. */
function floats(
  ctx: ConformanceContext,
  seed: number,
  n: number,
  lo = -3,
  hi = 3,
  extras = SPECIAL,
): number[] {
  return [...ctx.uniform(seed, [n], lo, hi).values, ...extras.map((v) => Math.fround(v))];
}

/** `n` int32 values in `[lo, hi]` followed by the int32 edge values. */
function int32s(
  ctx: ConformanceContext,
  seed: number,
  n: number,
  lo = -20,
  hi = 20,
  extras = INT_SPECIAL,
): number[] {
  const r = ctx.rng(seed);
  return [...Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1))), ...extras];
}

function bools(ctx: ConformanceContext, seed: number, n: number): number[] {
  const r = ctx.rng(seed);
  return Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
}

/** Seeded values of `dtype` for `shape` (no special values). */
function valuesOf(ctx: ConformanceContext, seed: number, shape: readonly number[], dtype: DType): number[] {
  const n = sizeOf(shape);
  if (dtype === 'float32') return [...ctx.uniform(seed, shape, -2, 2).values];
  if (dtype === 'int32') return int32s(ctx, seed, n, -9, 9, []);
  return bools(ctx, seed, n);
}

const UNARY: readonly [UnaryOp, readonly DType[]][] = [
  ['neg', ['float32', 'int32']],
  ['abs', ['float32', 'int32']],
  ['sign', ['float32', 'int32']],
  ['exp', ['float32']],
  ['log', ['float32']],
  ['log1p', ['float32']],
  ['sqrt', ['float32']],
  ['tanh', ['float32']],
  ['sigmoid', ['float32']],
  ['sin', ['float32']],
  ['cos', ['float32']],
  ['floor', ['float32']],
  ['not', ['bool']],
];

const BINARY: readonly [BinaryOp, readonly DType[]][] = [
  ['add', ['float32', 'int32']],
  ['sub', ['float32', 'int32']],
  ['mul', ['float32', 'int32']],
  ['div', ['float32', 'int32']],
  ['pow', ['float32']],
  ['maximum', ['float32', 'int32']],
  ['minimum', ['float32', 'int32']],
  ['eq', ['float32', 'int32', 'bool']],
  ['ne', ['float32', 'int32', 'bool']],
  ['lt', ['float32', 'int32']],
  ['le', ['float32', 'int32']],
  ['gt', ['float32', 'int32']],
  ['ge', ['float32', 'int32']],
  ['and', ['bool']],
  ['or', ['bool']],
];

const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

/** Declares the fused-program cases. */
export function fusedSuite(ctx: ConformanceContext): void {
  for (const [op, dtypes] of UNARY) {
    for (const dtype of dtypes) {
      it(`fused unary ${op} ${dtype}`, async () => {
        const n = 20;
        const values =
          dtype === 'float32'
            ? floats(ctx, 11, n)
            : dtype === 'int32'
              ? int32s(ctx, 11, n)
              : bools(ctx, 11, n + 4);
        // The op alone, and after another node so that it reads a register rather than memory.
        const pre = (e: FuseBuilder, x: Expr): ExprLike =>
          dtype === 'float32'
            ? e.binary('mul', x, 1.5)
            : dtype === 'int32'
              ? e.binary('add', x, 3)
              : e.binary('eq', x, 0);
        await checkFused(ctx, `unary ${op}`, (e, x) => [e.unary(op, x), e.unary(op, pre(e, x))], [
          { values, shape: [values.length], dtype },
        ]);
      });
    }
  }

  for (const [op, dtypes] of BINARY) {
    for (const dtype of dtypes) {
      it(`fused binary ${op} ${dtype}`, async () => {
        // a: [4, 6] with special values; b: [6] broadcast over rows, and the operands swapped.
        const a =
          dtype === 'float32'
            ? floats(ctx, 21, 12, -3, 3)
            : dtype === 'int32'
              ? int32s(ctx, 21, 14)
              : bools(ctx, 21, 24);
        const b =
          dtype === 'float32'
            ? [0.5, -2, 0, Number.NaN, Number.POSITIVE_INFINITY, 3].map(Math.fround)
            : dtype === 'int32'
              ? [0, -1, 3, 2147483647, -2147483648, 65537]
              : [0, 1, 1, 0, 1, 0];
        const shapeA = [a.length / 6, 6];
        await checkFused(ctx, `binary ${op}`, (e, x, y) => [e.binary(op, x, y), e.binary(op, y, x)], [
          { values: a, shape: shapeA, dtype },
          { values: b, shape: [6], dtype },
        ]);
      });
    }
  }

  for (const dtype of DTYPES) {
    it(`fused where ${dtype}`, async () => {
      const shape = [2, 3, 4];
      const cond = { values: bools(ctx, 31, 8), shape: [2, 1, 4], dtype: 'bool' as DType };
      const a = { values: valuesOf(ctx, 32, [4], dtype), shape: [4], dtype };
      const b = { values: valuesOf(ctx, 33, shape, dtype), shape, dtype };
      const num = dtype === 'float32' ? -0.25 : dtype === 'int32' ? -5 : 1;
      await checkFused(
        ctx,
        `where ${dtype}`,
        (e, c, x, y) => [e.where(c, x, y), e.where(c, num, y), e.where(c, x, num)],
        [cond, a, b],
      );
    });
  }

  for (const from of DTYPES) {
    for (const to of DTYPES) {
      if (from === to) continue;
      it(`fused cast ${from} to ${to}`, async () => {
        const values =
          from === 'float32'
            ? floats(ctx, 41, 12, -5, 5, [
                ...SPECIAL,
                2.7,
                -2.7,
                3e9,
                -3e9,
                2147483648,
                -2147483904,
                16777217,
              ])
            : from === 'int32'
              ? int32s(ctx, 41, 12, -5, 5, [...INT_SPECIAL, 16777217, -16777219])
              : bools(ctx, 41, 12);
        // The cast alone and the cast of a computed value, then arithmetic on the result.
        await checkFused(
          ctx,
          `cast ${from} to ${to}`,
          (e, x) => {
            const y = e.cast(x, to);
            const back =
              to === 'bool' ? e.binary('and', y as Expr, y) : e.binary('mul', y, to === 'int32' ? 3 : 0.5);
            return [y, back, e.cast(e.cast(x, to), from)];
          },
          [{ values, shape: [values.length], dtype: from }],
        );
      });
    }
  }

  const broadcasts: [string, number[][]][] = [
    ['all rank 0', [[], [], []]],
    ['[C] over [B,T,C]', [[2, 5, 3], [3], [2, 5, 3]]],
    ['[B,1,C] over [B,T,C]', [[2, 1, 3], [2, 4, 3], [3]]],
    ['rank 0 and [1] against [N]', [[], [1], [7]]],
    [
      'rank 5 mixed',
      [
        [2, 1, 3, 1, 2],
        [3, 4, 1],
        [1, 2, 1, 1, 1],
      ],
    ],
    ['zero-size', [[2, 0, 3], [3], []]],
    ['outer product [N,1] x [1,M]', [[5, 1], [1, 6], [1]]],
  ];
  for (const [name, shapes] of broadcasts) {
    it(`fused broadcast ${name}`, async () => {
      const operands = shapes.map((shape, i) => ({
        values: valuesOf(ctx, 50 + i, shape, 'float32'),
        shape,
        dtype: 'float32' as DType,
      }));
      await checkFused(
        ctx,
        `broadcast ${name}`,
        (e, x, y, z) => {
          const t = e.binary('add', e.binary('mul', x, y), e.unary('sigmoid', z));
          return [t, e.binary('sub', e.unary('tanh', t), x)];
        },
        operands,
      );
    });
  }

  it('fused several outputs of every dtype (an operand, a duplicate, a number)', async () => {
    const x = { values: floats(ctx, 61, 10), shape: [2, 11], dtype: 'float32' as DType };
    const k = {
      values: int32s(ctx, 62, 1, -4, 4, [0, 2, -3, 5, 7, -8, 9, 11, 2147483647, -2147483648]),
      shape: [11],
      dtype: 'int32' as DType,
    };
    const ev = await checkFused(
      ctx,
      'several outputs',
      (e, a, i) => {
        const y = e.binary('mul', a, e.cast(i, 'float32'));
        const q = e.binary('add', e.cast(a, 'int32'), i);
        const pos = e.binary('gt', y, 0);
        return [y, q, pos, a, y, 2.5, e.where(pos, y, e.unary('neg', y))];
      },
      [x, k],
    );
    const dtypes = ev.outs.map((o) => o.dtype);
    if (dtypes.join() !== 'float32,int32,bool,float32,float32,float32,float32') {
      throw new Error(`several outputs: dtypes ${dtypes.join()}`);
    }
    if (ev.outs[5].values.some((v) => v !== 2.5))
      throw new Error('several outputs: the number output is not 2.5');
  });

  it('fused scalar parameters: int32 and bool scalars, and values that change between calls', async () => {
    const i = { values: int32s(ctx, 71, 12), shape: [22], dtype: 'int32' as DType };
    const b = { values: bools(ctx, 72, 22), shape: [22], dtype: 'bool' as DType };
    const x = { values: floats(ctx, 73, 10), shape: [22], dtype: 'float32' as DType };
    await checkFused(
      ctx,
      'typed scalars',
      (e, n, c, v) => [
        e.binary('add', n, 7),
        e.binary('mul', n, -3),
        e.binary('div', n, 2),
        e.binary('eq', c, 1),
        e.binary('or', c, 0),
        e.where(c, 2, -1),
        e.where(c, n, 5),
        e.where(c, v, 0.1),
        e.binary('ge', n, 0),
        e.binary('mul', v, 1e-3),
      ],
      [i, b, x],
    );
    // One program, several learning rates: every call must use its own value.
    const xs = ctx.upload(x.values, x.shape);
    try {
      for (const lr of [0.5, 3, -1e-4, 0]) {
        const step = fuse((e, p) => e.binary('sub', p, e.binary('mul', p, lr)));
        const y = step(xs);
        const got = Float64Array.from(await y.data());
        y.dispose();
        const want = Float64Array.from(x.values, (p) => Math.fround(p - Math.fround(p * Math.fround(lr))));
        expectSame(got, want, true, `scalar lr = ${lr}`);
      }
    } finally {
      xs.dispose();
    }
  });

  it('fused NaN and infinity inputs', async () => {
    const sp = [...SPECIAL, Number.NaN, 3, -3];
    const a = { values: [...sp, ...sp.slice().reverse()], shape: [2, sp.length], dtype: 'float32' as DType };
    const b = {
      values: sp.map((_, i) => sp[(i * 5) % sp.length]),
      shape: [sp.length],
      dtype: 'float32' as DType,
    };
    await checkFused(
      ctx,
      'NaN and infinities',
      (e, x, y) => {
        const m = e.binary('maximum', x, y);
        const n = e.binary('minimum', x, y);
        const s = e.binary('sub', m, n);
        return [
          m,
          n,
          s,
          e.binary('ne', x, y),
          e.binary('eq', x, y),
          e.binary('lt', x, y),
          e.where(e.binary('ge', x, y), e.unary('exp', x), e.unary('log', y)),
          e.cast(e.binary('mul', x, y), 'int32'),
          e.cast(x, 'bool'),
          e.unary('sigmoid', e.binary('div', x, y)),
          e.unary('tanh', e.binary('add', x, y)),
        ];
      },
      [a, b],
    );
  });

  it('fused custom vjp (a straight-through step)', async () => {
    const x = {
      values: [...ctx.uniform(81, [3, 8], -2, 2).values],
      shape: [3, 8],
      dtype: 'float32' as DType,
    };
    const v = { values: [...ctx.uniform(82, [8], -1, 1).values], shape: [8], dtype: 'float32' as DType };
    // Forward: step(x) * v. Backward: the surrogate sigmoid'(x) for the step, step(x) for v.
    const fn: FuseFn = (e, a, w) => e.binary('mul', e.where(e.binary('gt', a, 0), 1, 0), w);
    const options: FuseOptions = {
      name: 'straight-through step',
      vjp: (e, [a, w], [ct]) => {
        const s = e.unary('sigmoid', a);
        const ds = e.binary('mul', s, e.binary('sub', 1, s));
        return [
          e.binary('mul', e.binary('mul', ct, ds), w),
          e.binary('mul', ct, e.where(e.binary('gt', a, 0), 1, 0)),
        ];
      },
    };
    const ev = await checkFused(ctx, 'custom vjp', fn, [x, v], options);
    // The gradient is the surrogate's, not the step's (zero almost everywhere): check it against
    // the plain ops with the projection weights the check used.
    const xs = ctx.upload(x.values, x.shape);
    const vs = ctx.upload(v.values, v.shape);
    const w = ctx.upload(ctx.uniform(1000, [3, 8], 0.5, 1.5));
    const made: Tensor[] = [xs, vs, w];
    try {
      const s = E.sigmoid(xs);
      const gx = E.mul(E.mul(w, E.mul(s, E.sub(1, s))), vs);
      made.push(s, gx);
      ctx.expectClose(ev.grads[0] as Float64Array, await ctx.read(gx), {
        ...TRANSCENDENTAL,
        what: 'custom vjp gradient',
      });
    } finally {
      dispose(made);
    }
  });

  it('fused derived vjp matches finite differences', async () => {
    const f = fuse((e, a, b) =>
      e.binary('mul', e.unary('tanh', a), e.unary('sigmoid', e.binary('sub', b, a))),
    );
    await ctx.gradCheck(
      (a, b) => f(a, b) as Tensor,
      [ctx.uniform(91, [3, 4], -1, 1), ctx.uniform(92, [4], -1, 1)],
      {
        what: 'fused tanh(a) * sigmoid(b - a)',
      },
    );
  });

  it('fused programs with more operands and outputs than a kernel can bind', async () => {
    // 12 operands and 10 outputs (22 buffers: beyond 8, 10 and 16 storage bindings), then one output
    // that reads 20 operands, more than any one kernel of such a device binds.
    const ops12 = Array.from({ length: 12 }, (_, i) => ({
      values: valuesOf(ctx, 100 + i, [3, 5], 'float32'),
      shape: i % 3 === 0 ? [5] : [3, 5],
      dtype: 'float32' as DType,
    })).map((o) => ({ ...o, values: o.values.slice(0, sizeOf(o.shape)) }));
    await checkFused(
      ctx,
      'split outputs',
      (e, ...xs) =>
        Array.from({ length: 10 }, (_, k) =>
          e.binary('add', e.binary('mul', xs[k], xs[k + 1]), e.unary('exp', xs[(k + 2) % 12])),
        ),
      ops12,
    );
    const ops20 = Array.from({ length: 20 }, (_, i) => ({
      values: valuesOf(ctx, 200 + i, [4], 'float32'),
      shape: [4],
      dtype: 'float32' as DType,
    }));
    await checkFused(
      ctx,
      'one output of 20 operands',
      (e, ...xs) => [
        xs.slice(1).reduce<ExprLike>((acc, x, k) => e.binary(k % 2 ? 'add' : 'mul', acc, x), xs[0]),
      ],
      ops20,
    );
  });

  it('fused random programs (property-based, fast-check seed 20261202)', async () => {
    // Loaded here, not at the top: a consumer of the kit without fast-check loses this case only.
    const fc = await import('fast-check');
    await fc.assert(
      fc.asyncProperty(programArb(fc), async (spec) => {
        const { fn, operands } = buildProgram(ctx, spec);
        await checkFused(ctx, `random program ${JSON.stringify(spec)}`, fn, operands);
      }),
      { seed: 20261202, numRuns: 24, endOnFailure: true },
    );
  });
}

// ------------------------------------------------------------------------------------------------
// Random programs

/** One random step: which kind of node and which earlier values it reads (indices taken modulo). */
interface StepSpec {
  readonly kind: number;
  readonly op: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly num: number;
}

/** A random program: the output shape, its operands (dtype and broadcast pattern), steps, outputs. */
interface ProgramSpec {
  readonly shape: readonly number[];
  readonly operands: readonly { dtype: number; keep: readonly boolean[]; drop: number }[];
  readonly steps: readonly StepSpec[];
  readonly outputs: readonly number[];
  readonly seed: number;
}

/** The arbitrary of random programs (fast-check is passed in: see the property case). */
const programArb = (fc: typeof FC): FC.Arbitrary<ProgramSpec> =>
  fc.record({
    shape: fc.oneof(
      { weight: 9, arbitrary: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 5 }) },
      { weight: 1, arbitrary: fc.constant([2, 0, 3]) },
    ),
    operands: fc.array(
      fc.record({
        dtype: fc.integer({ min: 0, max: 5 }),
        keep: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        drop: fc.integer({ min: 0, max: 4 }),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    steps: fc.array(
      fc.record({
        kind: fc.nat(9),
        op: fc.nat(30),
        a: fc.nat(30),
        b: fc.nat(30),
        c: fc.nat(30),
        num: fc.nat(30),
      }),
      { minLength: 1, maxLength: 10 },
    ),
    outputs: fc.array(fc.nat(30), { minLength: 1, maxLength: 3 }),
    seed: fc.nat(1000),
  });

const FLOAT_NUMBERS = [0.5, -2, 3, 0, 1e-3, -0.75, 10];
const INT_NUMBERS = [0, 1, -1, 3, -7, 2147483647, 12];

/** Turns a spec into a fused function and its operands (dtypes: mostly float32, some int32/bool). */
function buildProgram(ctx: ConformanceContext, spec: ProgramSpec): { fn: FuseFn; operands: Operand[] } {
  const rank = spec.shape.length;
  const operands: Operand[] = spec.operands.map((o, k) => {
    const dtype: DType = o.dtype < 4 ? 'float32' : o.dtype === 4 ? 'int32' : 'bool';
    // Operand 0 has the full shape; the others broadcast (dims kept or 1, leading dims dropped).
    const shape =
      k === 0 ? [...spec.shape] : spec.shape.slice(Math.min(o.drop, rank)).map((d, i) => (o.keep[i] ? d : 1));
    return { values: valuesOf(ctx, spec.seed * 7 + k, shape, dtype), shape, dtype };
  });
  const fn: FuseFn = (e, ...xs) => {
    const vals: Expr[] = [...xs];
    const pick = (i: number, dtype?: DType): Expr | null => {
      const pool = dtype ? vals.filter((v) => v.dtype === dtype) : vals;
      return pool.length ? pool[i % pool.length] : null;
    };
    const number = (dtype: DType, i: number): number =>
      dtype === 'float32'
        ? FLOAT_NUMBERS[i % FLOAT_NUMBERS.length]
        : dtype === 'int32'
          ? INT_NUMBERS[i % INT_NUMBERS.length]
          : i % 2;
    for (const s of spec.steps) {
      const a = pick(s.a) as Expr;
      let out: ExprLike;
      if (s.kind < 3) {
        const ops = UNARY.filter(([, d]) => d.includes(a.dtype)).map(([op]) => op);
        out = e.unary(ops[s.op % ops.length], a);
      } else if (s.kind < 7) {
        const ops = BINARY.filter(([, d]) => d.includes(a.dtype)).map(([op]) => op);
        const b = s.num % 3 === 0 ? number(a.dtype, s.b) : (pick(s.b, a.dtype) as Expr);
        const op = ops[s.op % ops.length];
        out = s.c % 2 ? e.binary(op, a, b) : e.binary(op, b, a);
      } else if (s.kind < 9) {
        const cond =
          pick(s.c, 'bool') ?? (a.dtype === 'bool' ? a : (e.binary('gt', a, number(a.dtype, s.num)) as Expr));
        const b = s.num % 3 === 0 ? number(a.dtype, s.b) : (pick(s.b, a.dtype) as Expr);
        out = s.op % 2 ? e.where(cond, a, b) : e.where(cond, b, a);
      } else {
        out = e.cast(a, DTYPES[s.op % 3]);
      }
      if (typeof out !== 'number') vals.push(out);
    }
    const fresh = vals.slice(xs.length);
    const pool = fresh.length ? fresh : vals;
    return spec.outputs.map((o) => pool[o % pool.length]);
  };
  return { fn, operands };
}
