/**
 * The WebAssembly SIMD kernel of fused programs (fused-wasm.ts) against the generated JS kernel
 * (itself tested bit for bit against the primitives in fused.test.ts): random programs of the
 * compiled subset, on every operand layout the Wasm path reads, sizes that end mid-vector and
 * mid-chunk, and inputs full of the values where float32 rounding is delicate (ties, subnormals,
 * ±0, ±Infinity, NaN). The two paths must agree bit for bit, NaN payloads aside.
 */
import type { DType, ElementwiseProgram, ExprNode } from '@mru/core';
import { describe, expect, it } from 'vitest';
import { elementwiseKernel } from '../src/fused.js';
import { wasmBinary, wasmElementwise } from '../src/fused-wasm.js';
import { coalesce } from '../src/walk.js';

/** A small deterministic generator (LCG), so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const SPECIAL = [0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38];

/** Values mixing ordinary numbers, float32 neighbours of ties, a coarse grid and the special values. */
function values(size: number, r: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = r();
    if (u < 0.1) out[i] = SPECIAL[Math.floor(r() * SPECIAL.length)];
    else if (u < 0.2) out[i] = (1 + Math.floor(r() * 64) * 2 ** -23) * (r() < 0.5 ? -1 : 1);
    // A coarse grid, so that comparisons often meet equal operands.
    else if (u < 0.45) out[i] = Math.round(r() * 8 - 4) / 2;
    else out[i] = (r() - 0.5) * 8;
  }
  return out;
}

const FLOAT_BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;
const COMPARE = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const FLOAT_UNARY = ['neg', 'abs', 'sign', 'floor', 'sqrt'] as const;
/** Computed in JavaScript between Wasm phases. */
const JS_UNARY = ['exp', 'log', 'log1p', 'tanh', 'sigmoid', 'sin', 'cos'] as const;

/** A random program of the Wasm subset with `nIn` float32 inputs, some float32 and bool scalars. */
function randomProgram(nIn: number, r: () => number, seed: number): ElementwiseProgram {
  const nodes: ExprNode[] = [];
  const dtypes: DType[] = [];
  const scalarDTypes: DType[] = [];
  const push = (n: ExprNode, dt: DType) => {
    nodes.push(n);
    dtypes.push(dt);
    return nodes.length - 1;
  };
  for (let k = 0; k < nIn; k++) push({ kind: 'input', index: k }, 'float32');
  for (const dt of ['float32', 'float32', 'bool'] as const) {
    push({ kind: 'scalar', index: scalarDTypes.length }, dt);
    scalarDTypes.push(dt);
  }
  // Half the time the newest node of the dtype, so that most nodes reach an output.
  const pick = (dt: DType) => {
    const c = dtypes.map((d, i) => (d === dt ? i : -1)).filter((i) => i >= 0);
    return r() < 0.5 ? c[c.length - 1] : c[Math.floor(r() * c.length)];
  };
  const steps = 8 + Math.floor(r() * 16);
  for (let s = 0; s < steps; s++) {
    const u = r();
    if (u < 0.35) {
      push(
        { kind: 'binary', op: FLOAT_BINARY[Math.floor(r() * 6)], a: pick('float32'), b: pick('float32') },
        'float32',
      );
    } else if (u < 0.45) {
      push({ kind: 'unary', op: FLOAT_UNARY[Math.floor(r() * 5)], x: pick('float32') }, 'float32');
    } else if (u < 0.5) {
      push({ kind: 'unary', op: JS_UNARY[Math.floor(r() * 7)], x: pick('float32') }, 'float32');
    } else if (u < 0.62) {
      push(
        { kind: 'binary', op: COMPARE[Math.floor(r() * 6)], a: pick('float32'), b: pick('float32') },
        'bool',
      );
    } else if (u < 0.7) {
      const op = (['and', 'or', 'eq', 'ne'] as const)[Math.floor(r() * 4)];
      push({ kind: 'binary', op, a: pick('bool'), b: pick('bool') }, 'bool');
    } else if (u < 0.75) {
      push({ kind: 'unary', op: 'not', x: pick('bool') }, 'bool');
    } else if (u < 0.88) {
      push({ kind: 'where', cond: pick('bool'), a: pick('float32'), b: pick('float32') }, 'float32');
    } else if (u < 0.94) {
      push({ kind: 'cast', x: pick('bool') }, 'float32');
    } else {
      push({ kind: 'cast', x: pick('float32') }, 'bool');
    }
  }
  const floats = dtypes
    .map((d, i) => (d === 'float32' && nodes[i].kind !== 'scalar' ? i : -1))
    .filter((i) => i >= nIn);
  const outputs = [floats[floats.length - 1], floats[Math.floor(r() * floats.length)]];
  return {
    nodes,
    dtypes,
    inputDTypes: new Array(nIn).fill('float32'),
    scalarDTypes,
    outputs,
    // Unique per program: the kernels are cached by key.
    key: `wasm-test-${seed}`,
  };
}

/** The bits of `a`, with every NaN written as one canonical NaN. */
function bits(a: Float32Array): Uint32Array {
  const u = new Uint32Array(a.length);
  u.set(new Uint32Array(a.buffer, a.byteOffset, a.length));
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) u[i] = 0x7fc00000;
  return u;
}

/** The first index where `a` and `b` differ, or -1 (cheaper to report than a diff of 40k elements). */
function firstDifference(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Contiguous strides of `shape` broadcast to `outShape` (0 on broadcast dimensions). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const s = new Array<number>(outShape.length).fill(0);
  let acc = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1) s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

describe('fused programs on WebAssembly SIMD', () => {
  // [output shape, operand shapes]: full, a bias row, a per-row column, one value, chunk and vector
  // boundaries (4096 elements per chunk; rows of 6 and 13 end mid-vector).
  const layouts: [number[], number[][]][] = [
    [[5000], [[5000], [5000], [1]]],
    [[12289], [[12289], [1], [12289]]],
    [
      [700, 16],
      [
        [700, 16],
        [1, 16],
        [700, 1],
      ],
    ],
    [
      [9, 500, 6],
      [
        [9, 500, 6],
        [1, 1, 6],
        [9, 500, 1],
      ],
    ],
    [
      [4100, 13],
      [
        [4100, 13],
        [1, 13],
        [4100, 1],
      ],
    ],
    [
      [8, 80, 64],
      [
        [8, 80, 64],
        [1, 1, 64],
        [1, 1, 1],
      ],
    ],
  ];

  it('random programs (JS functions between Wasm phases included) give the JS kernel bits on every layout', () => {
    let seed = 1;
    for (const [outShape, shapes] of layouts) {
      for (let trial = 0; trial < 20; trial++, seed++) {
        const r = rng(seed);
        const p = randomProgram(shapes.length, r, seed);
        const ins = shapes.map((s) =>
          values(
            s.reduce((a, b) => a * b, 1),
            r,
          ),
        );
        const strides = shapes.map((s) => broadcastStrides(s, outShape));
        const scalars = [Math.fround((r() - 0.5) * 4), Math.fround(r()), r() < 0.5 ? 1 : 0];
        const layout = coalesce(outShape, [broadcastStrides(outShape, outShape), ...strides]);
        const size = outShape.reduce((a, b) => a * b, 1);
        const probe = p.outputs.map(() => new Float32Array(size));
        // The Wasm path takes every one of these programs and layouts (so the comparison below is not
        // JS against JS).
        expect(wasmElementwise(p, ins, layout, scalars, probe), `${outShape} seed ${seed}`).toBe(true);
        const wasm = elementwiseKernel(p, ins, strides, scalars, outShape);
        const js = elementwiseKernel(p, ins, strides, scalars, outShape, { wasm: false });
        for (let j = 0; j < js.length; j++) {
          const want = bits(js[j] as Float32Array);
          expect(
            firstDifference(bits(wasm[j] as Float32Array), want),
            `${outShape} seed ${seed} output ${j}`,
          ).toBe(-1);
          expect(firstDifference(bits(probe[j]), want)).toBe(-1);
        }
      }
    }
  });

  it('binary float32 arithmetic gives the bits of a float64 operation stored as float32', () => {
    const r = rng(7);
    const rows = 300;
    const n = 24;
    const a = values(rows * n, r);
    const b = values(n, r);
    const layout = coalesce(
      [rows, n],
      [
        [n, 1],
        [n, 1],
        [0, 1],
      ],
    );
    const f = {
      add: (x: number, y: number) => x + y,
      sub: (x: number, y: number) => x - y,
      mul: (x: number, y: number) => x * y,
      div: (x: number, y: number) => x / y,
      maximum: Math.max,
      minimum: Math.min,
    };
    for (const [op, fn] of Object.entries(f) as [keyof typeof f, (x: number, y: number) => number][]) {
      const out = new Float32Array(rows * n);
      expect(wasmBinary(op, a, b, layout, out)).toBe(true);
      const want = new Float32Array(rows * n);
      for (let i = 0; i < rows * n; i++) want[i] = fn(a[i], b[i % n]);
      expect(firstDifference(bits(out), bits(want)), op).toBe(-1);
    }
    expect(wasmBinary('pow', a, b, layout, new Float32Array(rows * n))).toBe(false);
  });

  it('leaves the programs and layouts outside its subset to the JS kernel', () => {
    const p = (node: ExprNode, dt: DType, key: string): ElementwiseProgram => ({
      nodes: [{ kind: 'input', index: 0 }, node],
      dtypes: ['float32', dt],
      inputDTypes: ['float32'],
      scalarDTypes: [],
      outputs: [1],
      key,
    });
    const x = values(8192, rng(99));
    const flat = coalesce([8192], [[1], [1]]);
    const out = [new Float32Array(8192)];
    // pow, a bool output, a strided operand, a small size.
    expect(
      wasmElementwise(p({ kind: 'binary', op: 'pow', a: 0, b: 0 }, 'float32', 'w-pow'), [x], flat, [], out),
    ).toBe(false);
    expect(
      wasmElementwise(p({ kind: 'cast', x: 0 }, 'bool', 'w-bool'), [x], flat, [], [new Uint8Array(8192)]),
    ).toBe(false);
    const neg = p({ kind: 'unary', op: 'neg', x: 0 }, 'float32', 'w-neg');
    const transposed = coalesce(
      [64, 128],
      [
        [128, 1],
        [1, 64],
      ],
    );
    expect(wasmElementwise(neg, [x], transposed, [], out)).toBe(false);
    expect(
      wasmElementwise(neg, [x.subarray(0, 100)], coalesce([100], [[1], [1]]), [], [out[0].subarray(0, 100)]),
    ).toBe(false);
    expect(wasmElementwise(neg, [x], flat, [], out)).toBe(true);
    expect(firstDifference(bits(out[0]), bits(x.map((v) => -v)))).toBe(-1);
  });
});
