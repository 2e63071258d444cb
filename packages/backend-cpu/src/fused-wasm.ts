/**
 * Fused elementwise programs as WebAssembly SIMD, generated at run time: the fast path of
 * `elementwiseKernel` (fused.ts), which keeps the generated JS kernel as the fallback.
 *
 * Why: the JS kernel computes one element at a time in float64 and rounds every node with
 * `Math.fround`; a program of 20 to 50 nodes then costs 7 to 15 ns per element, several times the
 * memory traffic. Wasm's `f32x4` does four float32 operations per instruction: the BMRU's surrogate
 * backward (50 nodes) went from about 70 to 13 ms of CPU time per call at T = 1,000, copies included.
 *
 * Exactness: the subset compiled here is the float32 arithmetic that IEEE 754 rounds correctly in
 * single precision (`add`, `sub`, `mul`, `div`, `sqrt`), the exact ones (`neg`, `abs`, `floor`,
 * `sign`, `maximum`, `minimum`, comparisons, `where`, casts between float32 and bool) and bool logic.
 * For the rounded ones, computing in float64 and rounding once to float32 (what the JS kernel and the
 * primitives do) gives the correctly rounded float32 result, because float64 carries more than twice
 * float32's precision plus two bits; so both paths give the same bits, NaN payloads aside (which
 * JavaScript does not specify either). Wasm does not flush subnormals. `min`/`max` propagate NaN and
 * order -0 below +0 like `Math.min`/`Math.max`. The functions Wasm has no instruction for (`exp`,
 * `sigmoid`, `tanh`...) are applied by a JS loop between Wasm phases (see `Plan`), with the expression
 * and the rounding of the JS kernel. `pow`, int32 values and bool operands or outputs (stored as
 * bytes) leave the whole program to the JS kernel.
 *
 * Layout: after `coalesce` the walk is `R` rows of `n` elements; an operand is either full
 * (strides `[n, 1]`), a row vector repeated on every row (`[0, 1]`, a bias), a column repeated along
 * the row (`[1, 0]`, a per-row statistic) or one value (`[0, 0]`). Anything else goes to JS. Rows are
 * processed in chunks of at most `CHUNK` elements: each chunk's operands are copied into the module's
 * memory (a memcpy), computed there and copied out, so the copies and the kernel stay in L2 and the
 * memory stays small. The kernel steps four elements at a time over each row and may compute past the
 * row's end: those lanes land in the next row (written again, correctly, right after) or in the
 * padding after the last one, and are never copied out.
 *
 * Each (program, layout) pair becomes its own small module (a few hundred bytes, compiled
 * synchronously once and cached), all sharing one memory.
 */

import {
  type BinaryOp,
  type DType,
  type ElementwiseProgram,
  type ExprNode,
  operandsOf,
  type TypedArray,
  type UnaryOp,
} from '@mru/core';
import { JS_FLOAT_UNARY, unaryFloatInto } from './math.js';
import type { Layout } from './walk.js';
import {
  BLOCK,
  Body,
  BR,
  BR_IF,
  END,
  functionBody,
  I32,
  I32_ADD,
  I32_GE_S,
  I32_MUL,
  I32_SHL,
  LOOP,
  moduleBytes,
  OP,
  V128,
  VOID,
} from './wasm-emit.js';

/** Elements per chunk: a program's operands and outputs (16 KiB each) stay in L2 together. */
const CHUNK = 4096;
/** Bytes of one operand's region: a chunk plus the four lanes a last step may run past it. */
const REGION = (CHUNK + 4) * 4;
/** Below this many elements the JS kernel wins (module lookup and copies are fixed costs). */
const MIN_SIZE = 2048;

/** How an operand is read: see the layout paragraph above. */
type OperandClass = 'full' | 'row' | 'col' | 'one';

interface Compiled {
  /** One function per phase (see `Plan`). */
  readonly phases: readonly ((rows: number, n: number) => void)[];
  readonly plan: Plan;
  /** Regions of the module's memory layout before the scalars. */
  readonly regions: number;
}

/** Compiled modules by program key and operand classes; null where the program is not in the subset. */
const modules = new Map<string, Compiled | null>();
let memory: WebAssembly.Memory | null | undefined;

/** The shared memory, or null where WebAssembly SIMD is unavailable. */
function sharedMemory(): WebAssembly.Memory | null {
  if (memory === undefined) {
    try {
      memory = typeof WebAssembly === 'object' ? new WebAssembly.Memory({ initial: 1 }) : null;
    } catch {
      memory = null;
    }
  }
  return memory;
}

/** Whether node `n` (of dtype `dt`, operands of `dtypes`) is in the compiled subset. */
function supported(
  n: ExprNode,
  dt: DType,
  dtypes: readonly DType[],
  scalarDTypes: readonly DType[],
): boolean {
  if (dt === 'int32') return false;
  switch (n.kind) {
    case 'input':
      return dt === 'float32';
    case 'scalar':
      return scalarDTypes[n.index] !== 'int32';
    case 'unary':
      if (n.op === 'not') return dt === 'bool';
      return (
        dt === 'float32' &&
        (['neg', 'abs', 'sign', 'floor', 'sqrt'].includes(n.op) || JS_FLOAT_UNARY.has(n.op))
      );
    case 'binary': {
      const from = dtypes[n.a];
      if (from === 'int32') return false;
      switch (n.op) {
        case 'add':
        case 'sub':
        case 'mul':
        case 'div':
        case 'maximum':
        case 'minimum':
          return from === 'float32';
        case 'lt':
        case 'le':
        case 'gt':
        case 'ge':
          return from === 'float32';
        case 'eq':
        case 'ne':
        case 'and':
        case 'or':
          return true;
        default:
          return false;
      }
    }
    case 'where':
      return true;
    case 'cast':
      return dtypes[n.x] !== 'int32';
  }
}

/**
 * Where a program's nodes are computed. A node of `JS_FLOAT_UNARY` (exp, sigmoid...) splits the
 * program into phases: phase `k` computes, in Wasm, every arithmetic node it needs and writes the
 * arguments of the JS functions of level `k + 1`; JavaScript then applies those functions chunk by
 * chunk (the same expression and rounding as the JS kernel), and phase `k + 1` reads their values like
 * operands. The last phase writes the program's outputs.
 */
interface Plan {
  /** Per node: 0 for nodes computable before any JS function, else 1 + the level of its argument. */
  readonly level: readonly number[];
  /** The JS-function nodes, each with its argument and value regions. */
  readonly js: readonly {
    readonly node: number;
    readonly op: UnaryOp;
    readonly arg: number;
    readonly value: number;
  }[];
  /** Phases: the last phase's index + 1. */
  readonly phases: number;
}

function plan(p: ElementwiseProgram, nRegions: number): Plan {
  const level: number[] = [];
  const js: { node: number; op: UnaryOp; arg: number; value: number }[] = [];
  let region = nRegions;
  p.nodes.forEach((n, i) => {
    if (n.kind === 'unary' && JS_FLOAT_UNARY.has(n.op)) {
      level.push(level[n.x] + 1);
      js.push({ node: i, op: n.op, arg: region, value: region + 1 });
      region += 2;
    } else {
      level.push(Math.max(0, ...operandsOf(n).map((j) => level[j])));
    }
  });
  return { level, js, phases: 1 + Math.max(...p.outputs.map((o) => level[o])) };
}

/**
 * The body of phase `phase` of `p` (see `Plan`) for operands read as `classes`. Memory: operand `k`
 * at region `k`, output `j` at region `inputs + j`, the JS functions' arguments and values at the
 * regions of the plan, then the scalar parameters and the one-value operands (4 bytes each: float32
 * bits, or all ones / zero for a bool).
 */
function phaseBody(
  p: ElementwiseProgram,
  classes: readonly OperandClass[],
  pl: Plan,
  phase: number,
  scalarBase: number,
): number[] {
  const { nodes, dtypes, outputs } = p;
  const nIn = classes.length;
  const last = phase === pl.phases - 1;
  const jsOf = new Map(pl.js.map((j) => [j.node, j]));
  // What this phase stores: the arguments of the next level's JS functions, or the outputs.
  const stores: [node: number, region: number][] = last
    ? outputs.map((o, j) => [o, nIn + j])
    : pl.js
        .filter((j) => pl.level[j.node] === phase + 1)
        .map((j) => [(nodes[j.node] as { x: number }).x, j.arg]);
  // The nodes they need; a JS function's value computed in an earlier phase is read, not recomputed.
  const needed = new Array<boolean>(nodes.length).fill(false);
  const visit = (i: number): void => {
    if (needed[i]) return;
    needed[i] = true;
    if (!jsOf.has(i)) for (const j of operandsOf(nodes[i])) visit(j);
  };
  for (const [node] of stores) visit(node);
  // Locals: 0 rows, 1 n, 2 r, 3 i, 4 byte address of the element in full operands, 5 byte offset
  // in a row (i * 4); then one v128 per node, then the constant ones.
  const R = 2;
  const I = 3;
  const A = 4;
  const IB = 5;
  const V = 6;
  const ONE = V + nodes.length;
  const b = new Body();
  const v = (i: number) => V + i;
  // Prologue: values that do not change over the walk.
  b.f32x4Splat(1).set(ONE);
  nodes.forEach((n, i) => {
    if (!needed[i]) return;
    if (n.kind === 'scalar')
      b.i32(0)
        .mem(OP.load32Splat, scalarBase + 4 * n.index)
        .set(v(i));
    if (n.kind === 'input' && classes[n.index] === 'one') {
      b.i32(0)
        .mem(OP.load32Splat, scalarBase + 4 * (p.scalarDTypes.length + n.index))
        .set(v(i));
    }
  });
  b.i32(0).set(R);
  b.op(BLOCK, VOID, LOOP, VOID);
  b.get(R).get(0).op(I32_GE_S, BR_IF, 1);
  // Per row: the column operands' values, and the byte address of the row's start.
  nodes.forEach((n, i) => {
    if (needed[i] && n.kind === 'input' && classes[n.index] === 'col') {
      b.get(R)
        .i32(2)
        .op(I32_SHL)
        .mem(OP.load32Splat, n.index * REGION)
        .set(v(i));
    }
  });
  b.get(R).get(1).op(I32_MUL).i32(2).op(I32_SHL).set(A);
  b.i32(0).set(I);
  b.op(BLOCK, VOID, LOOP, VOID);
  b.get(I).get(1).op(I32_GE_S, BR_IF, 1);
  b.get(I).i32(2).op(I32_SHL).set(IB);
  nodes.forEach((n, i) => {
    if (!needed[i]) return;
    const fromJs = jsOf.get(i);
    if (fromJs) {
      b.get(A)
        .mem(OP.load, fromJs.value * REGION)
        .set(v(i));
      return;
    }
    switch (n.kind) {
      case 'scalar':
        return;
      case 'input': {
        const c = classes[n.index];
        if (c === 'full')
          b.get(A)
            .mem(OP.load, n.index * REGION)
            .set(v(i));
        else if (c === 'row')
          b.get(IB)
            .mem(OP.load, n.index * REGION)
            .set(v(i));
        return;
      }
      case 'unary':
        switch (n.op) {
          case 'not':
            b.get(v(n.x)).simd(OP.not);
            break;
          case 'sign': {
            // (x > 0) - (x < 0) as ±1 where x is neither zero nor NaN, else x itself.
            const x = v(n.x);
            b.get(ONE).get(x).f32x4Splat(0).simd(OP.f32x4Gt).simd(OP.and);
            b.get(ONE).get(x).f32x4Splat(0).simd(OP.f32x4Lt).simd(OP.and);
            b.simd(OP.sub);
            b.get(x);
            b.get(x).f32x4Splat(0).simd(OP.f32x4Ne);
            b.get(x).get(x).simd(OP.f32x4Eq).simd(OP.and);
            b.simd(OP.bitselect);
            break;
          }
          default:
            b.get(v(n.x)).simd(OP[n.op as 'neg' | 'abs' | 'floor' | 'sqrt']);
        }
        break;
      case 'binary': {
        const boolOperands = dtypes[n.a] === 'bool';
        b.get(v(n.a)).get(v(n.b));
        switch (n.op) {
          case 'maximum':
            b.simd(OP.max);
            break;
          case 'minimum':
            b.simd(OP.min);
            break;
          case 'eq':
            b.simd(boolOperands ? OP.i32x4Eq : OP.f32x4Eq);
            break;
          case 'ne':
            b.simd(boolOperands ? OP.i32x4Ne : OP.f32x4Ne);
            break;
          case 'lt':
            b.simd(OP.f32x4Lt);
            break;
          case 'le':
            b.simd(OP.f32x4Le);
            break;
          case 'gt':
            b.simd(OP.f32x4Gt);
            break;
          case 'ge':
            b.simd(OP.f32x4Ge);
            break;
          default:
            b.simd(OP[n.op as 'add' | 'sub' | 'mul' | 'div' | 'and' | 'or']);
        }
        break;
      }
      case 'where':
        b.get(v(n.a)).get(v(n.b)).get(v(n.cond)).simd(OP.bitselect);
        break;
      case 'cast': {
        const from = dtypes[n.x];
        const to = dtypes[i];
        b.get(v(n.x));
        if (from === 'bool' && to === 'float32') b.get(ONE).simd(OP.and);
        else if (from === 'float32' && to === 'bool') b.f32x4Splat(0).simd(OP.f32x4Ne);
        break;
      }
    }
    b.set(v(i));
  });
  for (const [node, region] of stores)
    b.get(A)
      .get(v(node))
      .mem(OP.store, region * REGION);
  b.get(I).i32(4).op(I32_ADD).set(I);
  b.get(A).i32(16).op(I32_ADD).set(A);
  b.op(BR, 0, END, END);
  b.get(R).i32(1).op(I32_ADD).set(R);
  b.op(BR, 0, END, END, END);
  // Locals after the two parameters: 4 i32, then one v128 per node and the ones.
  return functionBody(
    [
      [4, I32],
      [nodes.length + 1, V128],
    ],
    b.code,
  );
}

/** Regions a program's module uses (operands, outputs, JS functions' arguments and values). */
function regionsOf(p: ElementwiseProgram, nIn: number): number {
  return (
    nIn + p.outputs.length + 2 * p.nodes.filter((n) => n.kind === 'unary' && JS_FLOAT_UNARY.has(n.op)).length
  );
}

/**
 * The module of `p` for operands read as `classes` (one exported function `p<k>` per phase, see
 * `Plan`), or null if a node is outside the subset.
 */
function build(
  p: ElementwiseProgram,
  classes: readonly OperandClass[],
  pl: Plan,
): Uint8Array<ArrayBuffer> | null {
  const { nodes, dtypes, scalarDTypes, outputs } = p;
  for (let i = 0; i < nodes.length; i++) {
    if (!supported(nodes[i], dtypes[i], dtypes, scalarDTypes)) return null;
  }
  for (const o of outputs) if (dtypes[o] !== 'float32') return null;
  const scalarBase = regionsOf(p, classes.length) * REGION;
  const names = Array.from({ length: pl.phases }, (_, k) => `p${k}`);
  return moduleBytes(
    2,
    names,
    names.map((_, k) => phaseBody(p, classes, pl, k, scalarBase)),
  );
}

function compiled(
  p: ElementwiseProgram,
  classes: readonly OperandClass[],
  mem: WebAssembly.Memory,
): Compiled | null {
  const key = `${p.key}#${classes.join(',')}`;
  let c = modules.get(key);
  if (c === undefined) {
    c = null;
    try {
      const pl = plan(p, classes.length + p.outputs.length);
      const bytes = build(p, classes, pl);
      if (bytes && WebAssembly.validate(bytes)) {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } });
        const phases = Array.from(
          { length: pl.phases },
          (_, k) => instance.exports[`p${k}`] as (rows: number, n: number) => void,
        );
        c = { phases, plan: pl, regions: regionsOf(p, classes.length) };
      }
    } catch {
      c = null;
    }
    modules.set(key, c);
  }
  return c;
}

/** The class of an operand with innermost strides `inner` and row strides `outer` over rows of `n`. */
function classOf(inner: number, outer: number, n: number, rows: number): OperandClass | null {
  if (inner === 1 && (outer === n || rows === 1)) return 'full';
  if (inner === 1 && outer === 0) return 'row';
  if (inner === 0 && (outer === 1 || rows === 1)) return rows === 1 ? 'one' : 'col';
  if (inner === 0 && outer === 0) return 'one';
  return null;
}

/** A scalar's bits as the module reads them: float32 bits, or all ones / zero for a bool. */
function scalarBits(value: number, dtype: DType, f32: Float32Array, i32: Int32Array, at: number): void {
  if (dtype === 'bool') i32[at] = value !== 0 ? -1 : 0;
  else f32[at] = value;
}

/**
 * Runs `p` on the Wasm SIMD path into `outs` (each of the output's size) over the coalesced `layout`
 * (operand `k`'s strides in `layout.strides[k + 1]`), with `scalars` already rounded to their dtype.
 * Returns false, having written nothing, where the program, the layout or the engine is not supported;
 * the caller then runs the JS kernel.
 */
export function wasmElementwise(
  p: ElementwiseProgram,
  ins: readonly TypedArray[],
  layout: Layout,
  scalars: readonly number[],
  outs: readonly TypedArray[],
): boolean {
  const size = outs[0]?.length ?? 0;
  if (size < MIN_SIZE || layout.shape.length > 2) return false;
  const mem = sharedMemory();
  if (!mem) return false;
  const rank = layout.shape.length;
  const n = layout.shape[rank - 1];
  const rows = rank === 2 ? layout.shape[0] : 1;
  if (rows > 1 && (n > CHUNK || n < 4)) return false;
  const classes: OperandClass[] = [];
  for (let k = 0; k < ins.length; k++) {
    const s = layout.strides[k + 1];
    const c = classOf(s[rank - 1], rank === 2 ? s[0] : 0, n, rows);
    if (c === null) return false;
    classes.push(c);
  }
  const kernel = compiled(p, classes, mem);
  if (!kernel) return false;
  const need = kernel.regions * REGION + 4 * (scalars.length + ins.length);
  if (mem.buffer.byteLength < need) {
    try {
      mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
    } catch {
      return false;
    }
  }
  const buf = mem.buffer;
  const f32 = new Float32Array(buf);
  const i32 = new Int32Array(buf);
  const scalarAt = (kernel.regions * REGION) / 4;
  scalars.forEach((value, i) => {
    scalarBits(value, p.scalarDTypes[i], f32, i32, scalarAt + i);
  });
  const region = (k: number) => (k * REGION) / 4;
  for (let k = 0; k < ins.length; k++) {
    if (classes[k] === 'one') f32[scalarAt + scalars.length + k] = ins[k][0];
    else if (classes[k] === 'row') f32.set(ins[k].subarray(0, n), region(k));
  }
  const outAt = outs.map((_, j) => region(ins.length + j));
  const { phases, plan: pl } = kernel;
  const jsViews = pl.js.map((j) => ({
    level: pl.level[j.node],
    op: j.op,
    arg: f32.subarray(region(j.arg), region(j.arg + 1)),
    value: f32.subarray(region(j.value), region(j.value + 1)),
  }));
  /** Every phase over the chunk in memory, the JS functions between them. */
  const run = (r: number, len: number): void => {
    for (let k = 0; k < phases.length; k++) {
      phases[k](r, len / r);
      for (const j of jsViews) if (j.level === k + 1) unaryFloatInto(j.op, j.arg, j.value, len);
    }
  };
  if (rows === 1) {
    // One long row: chunks of CHUNK elements.
    for (let start = 0; start < n; start += CHUNK) {
      const len = Math.min(CHUNK, n - start);
      for (let k = 0; k < ins.length; k++) {
        if (classes[k] === 'full') f32.set(ins[k].subarray(start, start + len), region(k));
      }
      run(1, len);
      for (let j = 0; j < outs.length; j++) outs[j].set(f32.subarray(outAt[j], outAt[j] + len), start);
    }
    return true;
  }
  const chunkRows = Math.max(1, Math.floor(CHUNK / n));
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const r = Math.min(chunkRows, rows - r0);
    const start = r0 * n;
    const len = r * n;
    for (let k = 0; k < ins.length; k++) {
      if (classes[k] === 'full') f32.set(ins[k].subarray(start, start + len), region(k));
      else if (classes[k] === 'col') f32.set(ins[k].subarray(r0, r0 + r), region(k));
    }
    run(r, len);
    for (let j = 0; j < outs.length; j++) outs[j].set(f32.subarray(outAt[j], outAt[j] + len), start);
  }
  return true;
}

/** One-node programs of the float32 binary ops the Wasm path computes, by op. */
const binaryPrograms = new Map<BinaryOp, ElementwiseProgram>();

/**
 * `binaryKernel`'s float32 arithmetic (`add`, `sub`, `mul`, `div`, `maximum`, `minimum`) as a one-node
 * program on the Wasm path: same bits as the JS row loops, four lanes at a time. `layout` walks the
 * output and the two operands. False (nothing written) where the Wasm path does not apply.
 */
export function wasmBinary(
  op: BinaryOp,
  a: TypedArray,
  b: TypedArray,
  layout: Layout,
  out: TypedArray,
): boolean {
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) return false;
  let p = binaryPrograms.get(op);
  if (!p) {
    if (!['add', 'sub', 'mul', 'div', 'maximum', 'minimum'].includes(op)) return false;
    p = {
      nodes: [
        { kind: 'input', index: 0 },
        { kind: 'input', index: 1 },
        { kind: 'binary', op, a: 0, b: 1 },
      ],
      dtypes: ['float32', 'float32', 'float32'],
      inputDTypes: ['float32', 'float32'],
      scalarDTypes: [],
      outputs: [2],
      key: `binary:${op}`,
    };
    binaryPrograms.set(op, p);
  }
  return wasmElementwise(p, [a, b], layout, [], [out]);
}
