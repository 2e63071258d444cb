/**
 * Fused elementwise programs (`Backend.elementwise`) compiled to JavaScript.
 *
 * Design: each `ElementwiseProgram` becomes one generated function (via `new Function`, cached by the
 * program's key), whose loop reads every operand once, keeps every intermediate in a local and writes
 * every output once. Generated code rather than an interpreter because a per-node switch inside the
 * element loop costs more than the arithmetic, and V8 compiles a straight-line loop body with typed
 * array accesses to tight machine code. The loop covers two dimensions (rows of a coalesced walk, see
 * walk.ts), so the common broadcasts (a bias `[C]` over `[B, T, C]`, a scalar, same-shape operands)
 * run as one call; higher-rank walks call it once per outer index.
 *
 * Branches: comparisons, logic and bool casts are written `+(a < b)` (a number from a boolean, which
 * V8 compiles without a branch), `sign` tests its two common outcomes without branching, and a
 * `where` between two scalars indexes a two-entry table; measured, a data-dependent `c ? 1 : 0` on
 * random signs costs about 5x a plain pass, which is what the BMRU gates are made of.
 *
 * Exactness: every float32 result is rounded with `Math.fround`, exactly as storing it into a
 * Float32Array between primitives would, and every op uses the same JS expression as the primitive
 * kernels in elementwise.ts. A fused program therefore returns the bits the chain of primitives
 * returns; the tests check that equality.
 */

import { type DType, type ElementwiseProgram, type ExprNode, stridesOf, type TypedArray } from '@mru/core';
import { floatToInt } from './elementwise.js';
import { wasmElementwise } from './fused-wasm.js';
import { sigmoid } from './math.js';
import { hostArray } from './pool.js';
import { coalesce } from './walk.js';

/**
 * The generated kernel: `(outs, ins, scalars, R, n, obase, bases, outer, inner)` writes `R` rows of
 * `n` contiguous outputs starting at `obase`; operand `k` starts at `bases[k]` and advances by
 * `inner[k]` per element and `outer[k]` per row.
 */
type Kernel = (
  outs: TypedArray[],
  ins: TypedArray[],
  scalars: number[],
  R: number,
  n: number,
  obase: number,
  bases: number[],
  outer: number[],
  inner: number[],
) => void;

/** The JS expression of node `n` (of dtype `dt`) from the locals `v<i>`. */
function expression(
  n: ExprNode,
  index: number,
  dt: DType,
  dtypes: readonly DType[],
  invariant: readonly boolean[],
): string {
  const v = (i: number) => `v${i}`;
  const f = dt === 'float32';
  switch (n.kind) {
    case 'input':
    case 'scalar':
      throw new Error('unreachable');
    case 'unary': {
      const x = v(n.x);
      const int = dtypes[n.x] === 'int32';
      switch (n.op) {
        case 'neg':
          return int ? `(-${x}) | 0` : `-${x}`;
        case 'abs':
          return int ? `Math.abs(${x}) | 0` : `Math.abs(${x})`;
        case 'sign':
          // Branch-free for the common values; 0, -0 and NaN return themselves, as Math.sign does.
          return `(+(${x} > 0) - +(${x} < 0)) || ${x}`;
        case 'floor':
          return `Math.floor(${x})`;
        case 'not':
          return `+(${x} === 0)`;
        case 'sigmoid':
          return `F(sigmoid(${x}))`;
        default:
          return `F(Math.${n.op}(${x}))`;
      }
    }
    case 'binary': {
      const a = v(n.a);
      const b = v(n.b);
      const int = dtypes[n.a] === 'int32';
      switch (n.op) {
        case 'add':
          return int ? `(${a} + ${b}) | 0` : `F(${a} + ${b})`;
        case 'sub':
          return int ? `(${a} - ${b}) | 0` : `F(${a} - ${b})`;
        case 'mul':
          return int ? `Math.imul(${a}, ${b})` : `F(${a} * ${b})`;
        case 'div':
          return int ? `${b} === 0 ? 0 : (${a} / ${b}) | 0` : `F(${a} / ${b})`;
        case 'pow':
          return `F(${a} ** ${b})`;
        case 'maximum':
          return `Math.max(${a}, ${b})`;
        case 'minimum':
          return `Math.min(${a}, ${b})`;
        case 'eq':
          return `+(${a} === ${b})`;
        case 'ne':
          return `+(${a} !== ${b})`;
        case 'lt':
          return `+(${a} < ${b})`;
        case 'le':
          return `+(${a} <= ${b})`;
        case 'gt':
          return `+(${a} > ${b})`;
        case 'ge':
          return `+(${a} >= ${b})`;
        case 'and':
          return `(${a} !== 0) & (${b} !== 0)`;
        case 'or':
          return `(${a} !== 0) | (${b} !== 0)`;
      }
      break;
    }
    case 'where':
      // Both branches loop-invariant: a two-entry table indexed by the 0/1 condition, no branch.
      if (invariant[n.a] && invariant[n.b]) return `w${index}[${v(n.cond)}]`;
      return `${v(n.cond)} !== 0 ? ${v(n.a)} : ${v(n.b)}`;
    case 'cast': {
      const from = dtypes[n.x];
      const x = v(n.x);
      if (dt === 'bool') return `+(${x} !== 0)`;
      if (dt === 'int32') return from === 'float32' ? `toInt(${x})` : x;
      return f && from === 'int32' ? `F(${x})` : x;
    }
  }
  throw new Error('unreachable');
}

/** The source of the kernel of `p` (see `Kernel`). */
function generate(p: ElementwiseProgram): string {
  const used = new Set<number>();
  for (const n of p.nodes) if (n.kind === 'input') used.add(n.index);
  const lines: string[] = [];
  for (const k of used) {
    lines.push(`const x${k} = ins[${k}], t${k} = inner[${k}], q${k} = outer[${k}];`);
    lines.push(`let r${k} = bases[${k}];`);
  }
  p.outputs.forEach((_, k) => {
    lines.push(`const o${k} = outs[${k}];`);
  });
  const invariant = p.nodes.map((n) => n.kind === 'scalar');
  p.nodes.forEach((n, i) => {
    if (n.kind === 'scalar') lines.push(`const v${i} = scalars[${n.index}];`);
    if (n.kind === 'where' && invariant[n.a] && invariant[n.b]) {
      lines.push(`const w${i} = new Float64Array([v${n.b}, v${n.a}]);`);
    }
  });
  lines.push('let o = obase;');
  lines.push('for (let r = 0; r < R; r++) {');
  for (const k of used) lines.push(`  let j${k} = r${k}; r${k} += q${k};`);
  lines.push('  for (const e = o + n; o < e; o++) {');
  p.nodes.forEach((n, i) => {
    if (n.kind === 'scalar') return;
    const value =
      n.kind === 'input' ? `x${n.index}[j${n.index}]` : expression(n, i, p.dtypes[i], p.dtypes, invariant);
    lines.push(`    const v${i} = ${value};`);
  });
  p.outputs.forEach((node, k) => {
    lines.push(`    o${k}[o] = v${node};`);
  });
  for (const k of used) lines.push(`    j${k} += t${k};`);
  lines.push('  }');
  lines.push('}');
  return lines.join('\n');
}

/** Compiled kernels by program key. Programs are few (one per fused call site and dtype). */
const cache = new Map<string, Kernel>();

function compile(p: ElementwiseProgram): Kernel {
  let k = cache.get(p.key);
  if (!k) {
    const make = new Function(
      'F',
      'sigmoid',
      'toInt',
      `return function fused(outs, ins, scalars, R, n, obase, bases, outer, inner) {\n${generate(p)}\n};`,
    ) as (f: typeof Math.fround, s: typeof sigmoid, t: typeof floatToInt) => Kernel;
    k = make(Math.fround, sigmoid, floatToInt);
    cache.set(p.key, k);
  }
  return k;
}

/** A scalar parameter as the kernel's locals hold it: float32 rounded, int32 truncated, bool 0/1. */
function scalarValue(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(value);
    case 'int32':
      return floatToInt(value);
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

/**
 * Runs `p` over `outShape` on host arrays. `strides[k]` are the broadcast strides of operand `k` in
 * `outShape` (0 on broadcast dimensions). Returns one new array per output. The WebAssembly SIMD
 * kernel (fused-wasm.ts) runs the programs and layouts it supports unless `options.wasm` is false
 * (tests compare the two paths); the generated JS kernel runs everything else.
 */
export function elementwiseKernel(
  p: ElementwiseProgram,
  ins: readonly TypedArray[],
  strides: readonly (readonly number[])[],
  scalars: readonly number[],
  outShape: readonly number[],
  options: { readonly wasm?: boolean } = {},
): TypedArray[] {
  let size = 1;
  for (const d of outShape) size *= d;
  // Every output element is written, so reused arrays need no zeroing.
  const outs = p.outputs.map((o) => hostArray(p.dtypes[o], size, false));
  if (size === 0) return outs;
  const kernel = compile(p);
  const sc = scalars.map((v, i) => scalarValue(v, p.scalarDTypes[i]));
  const layout = coalesce(outShape, [stridesOf(outShape), ...strides]);
  // The Wasm SIMD kernel where the program and the layout allow it (same bits, see fused-wasm.ts).
  if (options.wasm !== false && wasmElementwise(p, ins, layout, sc, outs)) return outs;
  const rank = layout.shape.length;
  const n = layout.shape[rank - 1];
  const R = rank >= 2 ? layout.shape[rank - 2] : 1;
  const k = ins.length;
  const inner = new Array<number>(k);
  const outer = new Array<number>(k);
  for (let q = 0; q < k; q++) {
    inner[q] = layout.strides[q + 1][rank - 1];
    outer[q] = rank >= 2 ? layout.strides[q + 1][rank - 2] : 0;
  }
  const insArr = ins as TypedArray[];
  if (rank <= 2) {
    kernel(outs, insArr, sc, R, n, 0, new Array<number>(k).fill(0), outer, inner);
    return outs;
  }
  // Higher ranks: an odometer over the dimensions outside the last two.
  const lead = rank - 2;
  const index = new Array<number>(lead).fill(0);
  const bases = new Array<number>(k).fill(0);
  const block = R * n;
  let blocks = 1;
  for (let d = 0; d < lead; d++) blocks *= layout.shape[d];
  for (let b = 0, o = 0; b < blocks; b++, o += block) {
    kernel(outs, insArr, sc, R, n, o, bases, outer, inner);
    for (let d = lead - 1; d >= 0; d--) {
      if (++index[d] < layout.shape[d]) {
        for (let q = 0; q < k; q++) bases[q] += layout.strides[q + 1][d];
        break;
      }
      for (let q = 0; q < k; q++) bases[q] -= layout.strides[q + 1][d] * (layout.shape[d] - 1);
      index[d] = 0;
    }
  }
  return outs;
}
