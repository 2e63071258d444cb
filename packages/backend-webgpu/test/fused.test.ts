/**
 * The fused elementwise kernel (`elementwise`, fused.ts) beyond the kit's fuse-vs-primitives
 * equality: one dispatch per program, one pipeline per program and layout (never per shape or scalar
 * value), dispatches split across the device's storage-binding limit and the primitive fallback
 * beyond it, the 2D grid of tensors with more than 65535 workgroups, the scratch path, bit-exactness
 * on this adapter, kernel sources that compile without messages, and the typed errors.
 */
import {
  BackendError,
  DTypeError,
  type ElementwiseProgram,
  type Expr,
  type FuseBuilder,
  fuse,
  runPrimitives,
  ShapeError,
  setBackend,
  type Tensor,
  tensor,
} from '@mru/core';
import { uniformArray } from '@mru/core/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { fusedKernel, planElementwise } from '../src/fused.js';
import type { WebGPUBackend } from '../src/index.js';
import { makeBackend, perFile, put, take } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
  await setBackend(be);
});
afterAll(() => shared.dispose());

/**
 * The program (and scalar values) that `fuse(fn)` hands `backend` for operands `xs` (tensors of the
 * current backend): `elementwise` is wrapped for one call.
 */
function programOf(
  backend: WebGPUBackend,
  fn: (e: FuseBuilder, ...xs: Expr[]) => Expr | Expr[],
  xs: Tensor[],
): { program: ElementwiseProgram; scalars: number[] } {
  let seen: { program: ElementwiseProgram; scalars: number[] } | null = null;
  const real = backend.elementwise.bind(backend);
  Object.defineProperty(backend, 'elementwise', {
    configurable: true,
    writable: true,
    value: (p: ElementwiseProgram, ins: never, scalars: number[], shape: number[]) => {
      seen = { program: p, scalars: [...scalars] };
      return real(p, ins, scalars, shape);
    },
  });
  try {
    const out = fuse(fn)(...xs);
    for (const t of Array.isArray(out) ? out : [out]) t.dispose();
  } finally {
    delete (backend as { elementwise?: unknown }).elementwise;
  }
  if (!seen) throw new Error('fuse did not call elementwise');
  return seen;
}

async function values(t: Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

describe('fused elementwise programs', () => {
  it('a chain is one dispatch and one pipeline; new shapes and scalar values compile nothing', async () => {
    const step = (lr: number) =>
      fuse((e, p, g, m) => {
        const m2 = e.add(e.mul(m, 0.9), e.mul(g, 0.1));
        return [e.sub(p, e.mul(m2, lr)), m2];
      });
    const p = tensor(uniformArray(1, 24), { shape: [4, 6] });
    const g = tensor(uniformArray(2, 6), { shape: [6] });
    const m = tensor(uniformArray(3, 24), { shape: [4, 6] });
    const s0 = be.stats();
    const [p1, m1] = step(0.01)(p, g, m);
    const s1 = be.stats();
    expect(s1.dispatches - s0.dispatches).toBe(1);
    const [p2, m2] = step(0.5)(p, g, m);
    const s2 = be.stats();
    expect(s2.dispatches - s1.dispatches).toBe(1);
    expect(s2.pipelines).toBe(s1.pipelines);
    // The learning rate is not compiled in: the second call used 0.5.
    const pv = Array.from(await p.data());
    const mv = await values(m2);
    const want = pv.map((x, i) => Math.fround(x - Math.fround(mv[i] * 0.5)));
    expect(await values(p2)).toEqual(want);
    expect(await values(m1)).toEqual(mv);
    p1.dispose();
    // Another batch size, same layouts: no new pipeline.
    const q = tensor(uniformArray(4, 60), { shape: [10, 6] });
    const n = tensor(uniformArray(5, 60), { shape: [10, 6] });
    const [q1, n1] = step(0.1)(q, g, n);
    expect(be.stats().pipelines).toBe(s1.pipelines);
    for (const t of [q1, n1, p, g, m, q, n]) t.dispose();
  });

  it('operands are addressed by layout: contiguous, one element, a broadcast row, general strides', () => {
    const fn = (e: FuseBuilder, a: Expr, b: Expr, c: Expr, d: Expr) =>
      e.add(e.add(a, b), e.mul(c, d)) as Expr;
    const a = tensor(uniformArray(1, 24), { shape: [2, 3, 4] });
    const b = tensor([2]);
    const c = tensor(uniformArray(2, 4), { shape: [4] });
    const d = tensor(uniformArray(3, 8), { shape: [2, 1, 4] });
    const { program, scalars } = programOf(be, fn, [a, b, c, d]);
    const groups = planElementwise(
      program,
      [a, b, c, d].map((t) => ({ id: {}, shape: t.shape, dtype: t.dtype })),
      scalars,
      [2, 3, 4],
      () => ({
        shape: [2, 3, 4],
        strides: [
          [12, 4, 1],
          [12, 4, 1],
          [0, 0, 0],
          [0, 0, 1],
          [4, 0, 1],
        ],
      }),
      16,
    );
    expect(groups?.map((g) => g.modes.join(''))).toEqual(['csrg']);
    for (const t of [a, b, c, d]) t.dispose();
  });

  it('splits the outputs across dispatches beyond the binding limit, and runs primitives beyond that', () => {
    const dtypes = Array.from({ length: 12 }, () => 'float32' as const);
    const ins = dtypes.map((dtype) => ({ id: {}, shape: [5], dtype }));
    const layout = () => ({ shape: [5], strides: Array.from({ length: 13 }, () => [1]) });
    const xs = ins.map(() => tensor(uniformArray(1, 5)));
    const { program } = programOf(
      be,
      (e, ...v) => Array.from({ length: 10 }, (_, k) => e.add(v[k], v[k + 2]) as Expr),
      xs,
    );
    // 8 bindings: each dispatch's operands + outputs fit in 8.
    const at8 = planElementwise(program, ins, [], [5], layout, 8);
    expect(at8).not.toBeNull();
    for (const g of at8 ?? []) expect(g.inputs.length + g.outputs.length).toBeLessThanOrEqual(8);
    expect((at8 ?? []).flatMap((g) => g.outputs)).toEqual(Array.from({ length: 10 }, (_, k) => k));
    expect(at8?.length).toBeGreaterThan(1);
    // 2 bindings cannot hold one output's two operands and the output: primitives.
    expect(planElementwise(program, ins, [], [5], layout, 2)).toBeNull();
    // Really run beyond this device's limit (16 on lavapipe, 8 at least): 20 operands in one output.
    const many = Array.from({ length: 20 }, (_, i) => tensor(uniformArray(10 + i, 4)));
    const sum20 = fuse((e, ...v) => v.slice(1).reduce<Expr>((acc, x) => e.add(acc, x) as Expr, v[0]));
    const before = be.stats().dispatches;
    const y = sum20(...many);
    expect(be.stats().dispatches - before).toBeGreaterThan(1);
    for (const t of [y, ...many, ...xs]) t.dispose();
  });

  it('runs tensors beyond 65535 workgroups (2D grid) with a broadcast row', async () => {
    const wg = be.kernelLimits.workgroupSize;
    const n = 65536 * wg + 3 * 7;
    const C = 7;
    const x = be.fill(n, 'float32', 0.5);
    const row = put(be, [1, 2, 3, 4, 5, 6, 7], [C]);
    const small = [tensor([0.5]), tensor([1])];
    const prog = programOf(be, (e, a, b) => e.mul(e.add(a, b), 2) as Expr, small);
    for (const t of small) t.dispose();
    const [y] = be.elementwise(
      prog.program,
      [{ id: x, shape: [n / C, C], dtype: 'float32' }, row],
      prog.scalars,
      [n / C, C],
    );
    // Read a few elements (gathered on the device), the last workgroups' among them.
    const at = [0, 1, 6, 65535 * wg, 65536 * wg - 1, n - 1];
    const idx = put(be, at, [at.length], 'int32');
    const got = await take(be, be.gather({ id: y, shape: [n], dtype: 'float32' }, idx, 0), [at.length]);
    expect(got).toEqual(at.map((i) => (0.5 + (i % C) + 1) * 2));
    be.free(idx.id);
    be.free(y);
    be.free(x);
    be.free(row.id);
  });

  it('gives the same bits as the primitives on this adapter, through bound and scratch bindings', async () => {
    const scratch = await makeBackend({ maxLiveBindGroups: 0 });
    try {
      for (const backend of [be, scratch]) {
        await setBackend(backend);
        const a = tensor(uniformArray(7, 30, -3, 3), { shape: [5, 6] });
        const b = tensor(uniformArray(8, 6, -3, 3), { shape: [6] });
        const { program, scalars } = programOf(
          backend,
          (e, x, y) => [
            e.mul(e.sigmoid(e.add(e.mul(x, 1.5), y)), e.tanh(x)) as Expr,
            e.cast(e.mul(x, 1e9), 'int32') as Expr,
            e.ge(e.exp(x), y) as Expr,
          ],
          [a, b],
        );
        const ka = put(backend, await a.data(), [5, 6]);
        const kb = put(backend, await b.data(), [6]);
        const fusedIds = backend.elementwise(program, [ka, kb], scalars, [5, 6]);
        const primIds = runPrimitives(backend, program, [ka, kb], scalars, [5, 6]);
        const dts = program.outputs.map((o) => program.dtypes[o]);
        for (let k = 0; k < dts.length; k++) {
          const f = await take(backend, fusedIds[k], [30], dts[k]);
          const p = await take(backend, primIds[k], [30], dts[k]);
          expect(f).toEqual(p);
        }
        backend.free(ka.id);
        backend.free(kb.id);
        a.dispose();
        b.dispose();
      }
      expect(scratch.stats().scratchDispatches).toBeGreaterThan(0);
    } finally {
      await setBackend(be);
      scratch.dispose();
    }
  });

  it('kernel sources of every op and dtype compile without messages', async () => {
    const x = tensor(uniformArray(1, 4));
    const i = tensor(new Int32Array([1, -2, 3, 0]));
    const c = tensor(new Uint8Array([1, 0, 1, 0]), { dtype: 'bool' });
    const { program, scalars } = programOf(
      be,
      (e, f, n, b) => {
        const fl = [
          'neg',
          'abs',
          'sign',
          'exp',
          'log',
          'log1p',
          'sqrt',
          'tanh',
          'sigmoid',
          'sin',
          'cos',
          'floor',
        ] as const;
        const fo = fl.map((op) => e.unary(op, f) as Expr);
        const io = (['neg', 'abs', 'sign'] as const).map((op) => e.unary(op, n) as Expr);
        const ar = (['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).flatMap((op) => [
          e.binary(op, f, 2) as Expr,
          e.binary(op, n, 3) as Expr,
        ]);
        const cm = (['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).flatMap((op) => [
          e.binary(op, f, 0.5) as Expr,
          e.binary(op, n, 1) as Expr,
        ]);
        const bo = [
          e.unary('not', b),
          e.binary('and', b, 1),
          e.binary('or', b, 0),
          e.binary('eq', b, 0),
        ] as Expr[];
        const casts = [
          e.cast(f, 'int32'),
          e.cast(f, 'bool'),
          e.cast(n, 'float32'),
          e.cast(n, 'bool'),
          e.cast(b, 'float32'),
          e.cast(b, 'int32'),
        ] as Expr[];
        const wh = [e.where(b, f, 1), e.where(b, n, 2), e.where(b, b, 0)] as Expr[];
        const all = [...fo, e.pow(f, 2) as Expr, ...io, ...ar, ...cm, ...bo, ...casts, ...wh];
        // One output per dtype, so that the program fits any binding limit.
        const sumF = all.filter((v) => v.dtype === 'float32').reduce((s, v) => e.add(s, v) as Expr);
        const sumI = all.filter((v) => v.dtype === 'int32').reduce((s, v) => e.add(s, v) as Expr);
        const anyB = all.filter((v) => v.dtype === 'bool').reduce((s, v) => e.binary('or', s, v) as Expr);
        return [sumF, sumI, anyB];
      },
      [x, i, c],
    );
    const groups = planElementwise(
      program,
      [x, i, c].map((t) => ({ id: {}, shape: t.shape, dtype: t.dtype })),
      scalars,
      [4],
      () => ({ shape: [4], strides: [[1], [1], [1], [1]] }),
      8,
    );
    expect(groups).toHaveLength(1);
    const k = fusedKernel(be.kernelLimits.workgroupSize, program, (groups ?? [])[0]);
    const info = await be.device.createShaderModule({ code: k.code }).getCompilationInfo();
    expect(info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
    for (const t of [x, i, c]) t.dispose();
  });

  it('rejects operands of the wrong count, dtype or shape with typed errors', () => {
    const x = tensor(uniformArray(1, 6), { shape: [2, 3] });
    const { program, scalars } = programOf(be, (e, a) => e.mul(a, 3) as Expr, [x]);
    const k = put(be, uniformArray(2, 6), [2, 3]);
    const ki = put(be, [1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    expect(() => be.elementwise(program, [], scalars, [2, 3])).toThrow(BackendError);
    expect(() => be.elementwise(program, [k], [], [2, 3])).toThrow(BackendError);
    expect(() => be.elementwise(program, [ki], scalars, [2, 3])).toThrow(DTypeError);
    expect(() => be.elementwise(program, [k], scalars, [3, 2])).toThrow(ShapeError);
    expect(() => be.elementwise(program, [k], scalars, [3, 2])).toThrow(
      /operand 0 of shape \[2,3\].*\[3,2\]/,
    );
    be.free(k.id);
    be.free(ki.id);
    x.dispose();
  });
});
