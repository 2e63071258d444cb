/**
 * Fusion of elementwise chains: `fuse(fn)` traces `fn` over symbolic values into an
 * `ElementwiseProgram` (backend.ts) and runs it as one kernel where the backend compiles programs
 * (`Backend.elementwise`), or one primitive per node where it does not.
 *
 * Why: a training step is dominated by memory passes, not arithmetic. A chain such as the BMRU gates
 * (`|c| - |β|`, a step, a sign, `1 - z + εz`, `z v`) costs one read and one write of a large tensor per
 * primitive, an allocation per intermediate and a fill kernel per JS number. Fused, it is one pass
 * with the numbers as kernel parameters, and the tape keeps only the program's inputs: the backward
 * program recomputes what it needs from them (rematerialisation) instead of holding every
 * intermediate until the end of backward.
 *
 * Semantics are the primitives': each node is checked like the op of the same name, operands
 * broadcast to one output shape, and a float32 node's value is rounded to float32. The VJP is
 * derived symbolically, node by node, as another fused program, or given by `options.vjp` (surrogate
 * gradients of step functions). Programs are canonicalised (common subexpressions merged, dead nodes
 * dropped) so that the key a backend caches kernels by does not depend on how `fn` was written.
 */
import {
  type Backend,
  type BinaryOp,
  type DataId,
  type ElementwiseProgram,
  type ExprNode,
  FLOAT_UNARY_OPS,
  type KernelTensor,
  type UnaryOp,
} from '../backend.js';
import type { DType } from '../dtype.js';
import { record } from '../engine.js';
import { DTypeError, ValueError } from '../errors.js';
import { broadcastShapes, broadcastStrides, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { unbroadcast } from './movement.js';
import { backendOf, wrap } from './util.js';
import { checkSize } from './validate.js';

/**
 * A symbolic value inside a `fuse` function: one node of the program being traced.
 *
 * @category Fusion
 */
export class Expr {
  /** @internal */
  readonly builder: FuseBuilder;
  /** Index of the node in its program. */
  readonly index: number;
  /** dtype of the value. */
  readonly dtype: DType;

  /** @internal Exprs are made by a `FuseBuilder`, never with `new`. */
  constructor(builder: FuseBuilder, index: number, dtype: DType) {
    this.builder = builder;
    this.index = index;
    this.dtype = dtype;
  }
}

/**
 * An operand of a fused op: a symbolic value, or a JS number (a scalar parameter of the kernel).
 *
 * @category Fusion
 */
export type ExprLike = Expr | number;

const COMPARISONS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** Comparisons that order their operands: numeric only, as core's `lt`, `le`, `gt`, `ge`. */
const ORDERINGS: ReadonlySet<BinaryOp> = new Set(['lt', 'le', 'gt', 'ge']);

/** The JS value of `op` on numbers, for folding operations whose operands are all numbers. */
function foldBinary(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'pow':
      return a ** b;
    case 'maximum':
      return Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b);
    case 'minimum':
      return Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b);
    case 'eq':
      return a === b ? 1 : 0;
    case 'ne':
      return a !== b ? 1 : 0;
    case 'lt':
      return a < b ? 1 : 0;
    case 'le':
      return a <= b ? 1 : 0;
    case 'gt':
      return a > b ? 1 : 0;
    case 'ge':
      return a >= b ? 1 : 0;
    case 'and':
      return a !== 0 && b !== 0 ? 1 : 0;
    case 'or':
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

function foldUnary(op: UnaryOp, x: number): number {
  switch (op) {
    case 'neg':
      return -x;
    case 'abs':
      return Math.abs(x);
    case 'sign':
      return Math.sign(x);
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'log1p':
      return Math.log1p(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'sin':
      return Math.sin(x);
    case 'cos':
      return Math.cos(x);
    case 'floor':
      return Math.floor(x);
    case 'not':
      return x === 0 ? 1 : 0;
  }
}

/**
 * Records the nodes of one program. The `e` argument of a `fuse` function: every elementwise
 * primitive as a method on symbolic values. Numbers are folded when every operand is a number and
 * become scalar parameters otherwise, taking the dtype of the value they meet.
 *
 * @category Fusion
 */
export class FuseBuilder {
  /** @internal */
  readonly nodes: ExprNode[] = [];
  /** @internal */
  readonly dtypes: DType[] = [];
  /** @internal */
  readonly scalars: number[] = [];
  /** @internal */
  readonly scalarDTypes: DType[] = [];
  /** @internal */
  readonly inputDTypes: DType[];
  readonly #memo = new Map<string, number>();
  readonly #op: string;

  /** @internal */
  constructor(op: string, inputDTypes: readonly DType[]) {
    this.#op = op;
    this.inputDTypes = [...inputDTypes];
  }

  /** @internal The symbolic value of operand `i`. */
  input(i: number): Expr {
    return this.#node(`i${i}`, { kind: 'input', index: i }, this.inputDTypes[i]);
  }

  #node(key: string, node: ExprNode, dtype: DType): Expr {
    const known = this.#memo.get(key);
    if (known !== undefined) return new Expr(this, known, this.dtypes[known]);
    const index = this.nodes.length;
    this.nodes.push(node);
    this.dtypes.push(dtype);
    this.#memo.set(key, index);
    return new Expr(this, index, dtype);
  }

  #own(x: Expr): Expr {
    if (!(x instanceof Expr) || x.builder !== this) {
      throw new ValueError(this.#op, 'a value of another fused program (or not an Expr) was used');
    }
    return x;
  }

  /**
   * A scalar parameter holding `value` as `dtype` (checked like a number meeting a tensor).
   *
   * @param value - The value; passed at call time, so a changing value never recompiles the kernel.
   * @param dtype - The dtype.
   */
  scalar(value: number, dtype: DType = 'float32'): Expr {
    if (typeof value !== 'number') {
      throw new DTypeError(this.#op, `expected a number or an Expr, got ${typeof value}`);
    }
    if ((dtype === 'int32' && !Number.isInteger(value)) || (dtype === 'bool' && value !== 0 && value !== 1)) {
      throw new DTypeError(this.#op, `the number ${value} cannot meet a ${dtype} value without rounding`);
    }
    const index = this.scalars.length;
    this.scalars.push(value);
    this.scalarDTypes.push(dtype);
    return this.#node(`s${index}`, { kind: 'scalar', index }, dtype);
  }

  #lift(x: ExprLike, dtype: DType): Expr {
    return typeof x === 'number' ? this.scalar(x, dtype) : this.#own(x);
  }

  /**
   * Elementwise unary primitive `op` (see `UnaryOp`).
   *
   * @param op - The primitive op.
   * @param x - A traced value.
   */
  unary(op: UnaryOp, x: ExprLike): ExprLike {
    if (typeof x === 'number') return foldUnary(op, x);
    const v = this.#own(x);
    if (
      op === 'not' ? v.dtype !== 'bool' : FLOAT_UNARY_OPS.has(op) ? v.dtype !== 'float32' : v.dtype === 'bool'
    ) {
      throw new DTypeError(op, `does not accept dtype ${v.dtype} (in the fused ${this.#op})`);
    }
    return this.#node(`u${op},${v.index}`, { kind: 'unary', op, x: v.index }, v.dtype);
  }

  /**
   * Elementwise binary primitive `op` with broadcasting (see `BinaryOp`).
   *
   * @param op - The primitive op.
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  binary(op: BinaryOp, a: ExprLike, b: ExprLike): ExprLike {
    if (typeof a === 'number' && typeof b === 'number') return foldBinary(op, a, b);
    const dtype = typeof a === 'number' ? (b as Expr).dtype : a.dtype;
    const x = this.#lift(a, dtype);
    const y = this.#lift(b, dtype);
    if (x.dtype !== y.dtype) {
      throw new DTypeError(op, `dtypes differ: ${x.dtype} and ${y.dtype} (in the fused ${this.#op})`);
    }
    let out: DType;
    if (ORDERINGS.has(op) && dtype === 'bool') {
      throw new DTypeError(op, `does not accept dtype bool (in the fused ${this.#op})`);
    }
    if (COMPARISONS.has(op)) out = 'bool';
    else if (op === 'and' || op === 'or') {
      if (dtype !== 'bool') throw new DTypeError(op, `expects bool operands, got ${dtype}`);
      out = 'bool';
    } else {
      if (dtype === 'bool' || (op === 'pow' && dtype === 'int32')) {
        throw new DTypeError(op, `does not accept dtype ${dtype} (in the fused ${this.#op})`);
      }
      out = dtype;
    }
    return this.#node(`b${op},${x.index},${y.index}`, { kind: 'binary', op, a: x.index, b: y.index }, out);
  }

  /**
   * `cond ? a : b`; `cond` is bool.
   *
   * @param cond - A traced bool value.
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  where(cond: ExprLike, a: ExprLike, b: ExprLike): ExprLike {
    if (typeof cond === 'number') return cond !== 0 ? a : b;
    const c = this.#own(cond);
    if (c.dtype !== 'bool') throw new DTypeError('where', `cond must be bool, got ${c.dtype}`);
    if (typeof a === 'number' && typeof b === 'number' && a === b) return a;
    const dtype = typeof a === 'number' ? (typeof b === 'number' ? 'float32' : b.dtype) : a.dtype;
    const x = this.#lift(a, dtype);
    const y = this.#lift(b, dtype);
    if (x.dtype !== y.dtype) throw new DTypeError('where', `dtypes differ: ${x.dtype} and ${y.dtype}`);
    return this.#node(
      `w${c.index},${x.index},${y.index}`,
      { kind: 'where', cond: c.index, a: x.index, b: y.index },
      dtype,
    );
  }

  /**
   * Converts to `dtype` (see `Backend.cast`).
   *
   * @param x - A traced value.
   * @param dtype - The dtype.
   */
  cast(x: ExprLike, dtype: DType): ExprLike {
    if (typeof x === 'number') {
      if (dtype === 'bool') return x !== 0 ? 1 : 0;
      // As `Backend.cast`: truncation toward zero, saturating at the int32 range, NaN to 0.
      if (dtype === 'int32')
        return Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(x)));
      return x;
    }
    const v = this.#own(x);
    if (v.dtype === dtype) return v;
    return this.#node(`c${dtype},${v.index}`, { kind: 'cast', x: v.index }, dtype);
  }

  /**
   * Whether `x op n` is `x` itself, bit for bit, so no node is needed: `x - 0`, `x * 1`, `x / 1` for
   * float32 and int32 values, and `x + 0` for int32 only (float32 `-0 + 0` is `+0`). Other dtypes
   * go through `binary`, which rejects them as the primitive would.
   */
  #identity(x: ExprLike, n: ExprLike, unit: number, floatToo: boolean): x is Expr {
    return (
      typeof x !== 'number' && n === unit && (x.dtype === 'int32' || (floatToo && x.dtype === 'float32'))
    );
  }

  /**
   * `a + b`.
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  add(a: ExprLike, b: ExprLike): ExprLike {
    if (this.#identity(b, a, 0, false)) return b;
    if (this.#identity(a, b, 0, false)) return a;
    return this.binary('add', a, b);
  }
  /**
   * `a - b`.
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  sub(a: ExprLike, b: ExprLike): ExprLike {
    if (this.#identity(a, b, 0, true)) return a;
    return this.binary('sub', a, b);
  }
  /**
   * `a * b`.
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  mul(a: ExprLike, b: ExprLike): ExprLike {
    if (this.#identity(b, a, 1, true)) return b;
    if (this.#identity(a, b, 1, true)) return a;
    return this.binary('mul', a, b);
  }
  /**
   * `a / b`.
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  div(a: ExprLike, b: ExprLike): ExprLike {
    if (this.#identity(a, b, 1, true)) return a;
    return this.binary('div', a, b);
  }
  /**
   * `a ** b` (float32, `a >= 0`).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  pow(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('pow', a, b);
  }
  /**
   * Elementwise maximum (NaN propagates).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  maximum(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('maximum', a, b);
  }
  /**
   * Elementwise minimum (NaN propagates).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  minimum(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('minimum', a, b);
  }
  /**
   * `a == b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  eq(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('eq', a, b);
  }
  /**
   * `a < b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  lt(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('lt', a, b);
  }
  /**
   * `a <= b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  le(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('le', a, b);
  }
  /**
   * `a > b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  gt(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('gt', a, b);
  }
  /**
   * `a >= b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  ge(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('ge', a, b);
  }
  /**
   * `-x`.
   *
   * @param x - A traced value.
   */
  neg(x: ExprLike): ExprLike {
    return this.unary('neg', x);
  }
  /**
   * `|x|`.
   *
   * @param x - A traced value.
   */
  abs(x: ExprLike): ExprLike {
    return this.unary('abs', x);
  }
  /**
   * -1, 0 or 1.
   *
   * @param x - A traced value.
   */
  sign(x: ExprLike): ExprLike {
    return this.unary('sign', x);
  }
  /**
   * `e^x`.
   *
   * @param x - A traced value.
   */
  exp(x: ExprLike): ExprLike {
    return this.unary('exp', x);
  }
  /**
   * Natural logarithm.
   *
   * @param x - A traced value.
   */
  log(x: ExprLike): ExprLike {
    return this.unary('log', x);
  }
  /**
   * Square root.
   *
   * @param x - A traced value.
   */
  sqrt(x: ExprLike): ExprLike {
    return this.unary('sqrt', x);
  }
  /**
   * Hyperbolic tangent.
   *
   * @param x - A traced value.
   */
  tanh(x: ExprLike): ExprLike {
    return this.unary('tanh', x);
  }
  /**
   * Logistic sigmoid.
   *
   * @param x - A traced value.
   */
  sigmoid(x: ExprLike): ExprLike {
    return this.unary('sigmoid', x);
  }
  /**
   * `log(1 + x)`.
   *
   * @param x - A traced value.
   */
  log1p(x: ExprLike): ExprLike {
    return this.unary('log1p', x);
  }
  /**
   * Sine.
   *
   * @param x - A traced value.
   */
  sin(x: ExprLike): ExprLike {
    return this.unary('sin', x);
  }
  /**
   * Cosine.
   *
   * @param x - A traced value.
   */
  cos(x: ExprLike): ExprLike {
    return this.unary('cos', x);
  }
  /**
   * Largest integer not above `x`.
   *
   * @param x - A traced value.
   */
  floor(x: ExprLike): ExprLike {
    return this.unary('floor', x);
  }
  /**
   * Logical not (bool).
   *
   * @param x - A traced value.
   */
  not(x: ExprLike): ExprLike {
    return this.unary('not', x);
  }
  /**
   * `a != b` (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  ne(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('ne', a, b);
  }
  /**
   * Logical and (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  and(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('and', a, b);
  }
  /**
   * Logical or (bool).
   *
   * @param a - A traced value, or a JS number (a kernel parameter).
   * @param b - A traced value, or a JS number (a kernel parameter).
   */
  or(a: ExprLike, b: ExprLike): ExprLike {
    return this.binary('or', a, b);
  }
  /**
   * `x * x`.
   *
   * @param x - A traced value.
   */
  square(x: ExprLike): ExprLike {
    return this.mul(x, x);
  }

  /** @internal Canonical program with `outputs`: reachable nodes only, renumbered, with its key. */
  finish(outputs: readonly Expr[]): ElementwiseProgram {
    const keep = new Array<boolean>(this.nodes.length).fill(false);
    for (const o of outputs) keep[this.#own(o).index] = true;
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      if (!keep[i]) continue;
      for (const j of operandsOf(this.nodes[i])) keep[j] = true;
    }
    const remap = new Array<number>(this.nodes.length).fill(-1);
    const nodes: ExprNode[] = [];
    const dtypes: DType[] = [];
    for (let i = 0; i < this.nodes.length; i++) {
      if (!keep[i]) continue;
      remap[i] = nodes.length;
      nodes.push(renumber(this.nodes[i], remap));
      dtypes.push(this.dtypes[i]);
    }
    const outs = outputs.map((o) => remap[o.index]);
    const key = [
      this.inputDTypes.join(','),
      this.scalarDTypes.join(','),
      nodes.map((n, i) => `${nodeKey(n)}:${dtypes[i]}`).join(';'),
      outs.join(','),
    ].join('|');
    return {
      nodes,
      dtypes,
      inputDTypes: [...this.inputDTypes],
      scalarDTypes: [...this.scalarDTypes],
      outputs: outs,
      key,
    };
  }
}

/**
 * Node indices a node reads.
 *
 * @param n - A node of a fused program.
 * @category Fusion
 */
export function operandsOf(n: ExprNode): number[] {
  switch (n.kind) {
    case 'input':
    case 'scalar':
      return [];
    case 'unary':
    case 'cast':
      return [n.x];
    case 'binary':
      return [n.a, n.b];
    case 'where':
      return [n.cond, n.a, n.b];
  }
}

function renumber(n: ExprNode, m: readonly number[]): ExprNode {
  switch (n.kind) {
    case 'input':
    case 'scalar':
      return n;
    case 'unary':
      return { kind: 'unary', op: n.op, x: m[n.x] };
    case 'cast':
      return { kind: 'cast', x: m[n.x] };
    case 'binary':
      return { kind: 'binary', op: n.op, a: m[n.a], b: m[n.b] };
    case 'where':
      return { kind: 'where', cond: m[n.cond], a: m[n.a], b: m[n.b] };
  }
}

function nodeKey(n: ExprNode): string {
  switch (n.kind) {
    case 'input':
      return `in${n.index}`;
    case 'scalar':
      return `sc${n.index}`;
    case 'unary':
      return `${n.op}(${n.x})`;
    case 'cast':
      return `cast(${n.x})`;
    case 'binary':
      return `${n.op}(${n.a},${n.b})`;
    case 'where':
      return `where(${n.cond},${n.a},${n.b})`;
  }
}

/**
 * Evaluates a program one primitive per node: the path of backends without `elementwise`, and the
 * reference every fused kernel is tested against. Temporaries are freed after their last use.
 *
 * @param backend - The backend to run on.
 * @param program - The fused program.
 * @param inputs - The input buffers, one per program input.
 * @param scalars - The values of the program's scalar parameters.
 * @param outShape - The shape every output has.
 * @category Fusion
 */
export function runPrimitives(
  backend: Backend,
  program: ElementwiseProgram,
  inputs: readonly KernelTensor[],
  scalars: readonly number[],
  outShape: readonly number[],
): DataId[] {
  const { nodes, dtypes, outputs } = program;
  const lastUse = new Array<number>(nodes.length).fill(-1);
  nodes.forEach((n, i) => {
    for (const j of operandsOf(n)) lastUse[j] = i;
  });
  for (const o of outputs) lastUse[o] = nodes.length;
  const values: (KernelTensor | null)[] = new Array(nodes.length).fill(null);
  const owned = new Array<boolean>(nodes.length).fill(false);
  const release = (i: number, at: number): void => {
    if (owned[i] && lastUse[i] === at) {
      backend.free((values[i] as KernelTensor).id);
      values[i] = null;
    }
  };
  try {
    nodes.forEach((n, i) => {
      const v = (j: number) => values[j] as KernelTensor;
      let id: DataId;
      let shape: readonly number[];
      switch (n.kind) {
        case 'input':
          values[i] = inputs[n.index];
          return;
        case 'scalar':
          id = backend.fill(1, dtypes[i], scalars[n.index]);
          shape = [];
          break;
        case 'unary':
          id = backend.unary(n.op, v(n.x));
          shape = v(n.x).shape;
          break;
        case 'cast':
          id = backend.cast(v(n.x), dtypes[i]);
          shape = v(n.x).shape;
          break;
        case 'binary':
          shape = broadcastShapes(n.op, v(n.a).shape, v(n.b).shape);
          id = backend.binary(n.op, v(n.a), v(n.b), shape);
          break;
        case 'where':
          shape = broadcastShapes(
            'where',
            broadcastShapes('where', v(n.cond).shape, v(n.a).shape),
            v(n.b).shape,
          );
          id = backend.where(v(n.cond), v(n.a), v(n.b), shape);
          break;
      }
      values[i] = { id, shape, dtype: dtypes[i] };
      owned[i] = true;
      for (const j of new Set(operandsOf(n))) release(j, i);
    });
    // Every output is a fresh buffer of the full shape: broadcast (or copy) what is not.
    const taken = new Set<number>();
    const result = outputs.map((o) => {
      const t = values[o] as KernelTensor;
      if (
        owned[o] &&
        !taken.has(o) &&
        t.shape.length === outShape.length &&
        sizeOf(t.shape) === sizeOf(outShape)
      ) {
        taken.add(o);
        return t.id;
      }
      return backend.strided(t, outShape, broadcastStrides(t.shape, outShape), 0);
    });
    for (let i = 0; i < nodes.length; i++)
      if (owned[i] && values[i] && !taken.has(i)) backend.free((values[i] as KernelTensor).id);
    return result;
  } catch (error) {
    for (let i = 0; i < nodes.length; i++)
      if (owned[i] && values[i]) backend.free((values[i] as KernelTensor).id);
    throw error;
  }
}

/** Runs `program` on `backend`: its fused kernel if it has one, else the primitives. @internal */
export function runProgram(
  backend: Backend,
  program: ElementwiseProgram,
  inputs: readonly KernelTensor[],
  scalars: readonly number[],
  outShape: readonly number[],
): DataId[] {
  if (program.outputs.length === 0) return [];
  return backend.elementwise
    ? backend.elementwise(program, inputs, scalars, outShape)
    : runPrimitives(backend, program, inputs, scalars, outShape);
}

/**
 * What a `fuse` function returns: one value or several.
 *
 * @category Fusion
 */
export type FuseResult = ExprLike | readonly ExprLike[];

/**
 * A hand-written VJP of a fused function: given the symbolic inputs, the cotangent of each output (the
 * number 0 where an output gets none) and the outputs themselves (recomputed, not stored), returns one
 * cotangent per input (null or a number for none). It is traced into one fused program.
 *
 * @category Fusion
 */
export type FuseVjp = (
  e: FuseBuilder,
  inputs: readonly Expr[],
  cotangents: readonly ExprLike[],
  outputs: readonly ExprLike[],
) => readonly (ExprLike | null)[];

/**
 * Options of `fuse`.
 *
 * @category Fusion
 */
export interface FuseOptions {
  /** Name shown in errors and on the tape (default `'fuse'`). */
  readonly name?: string;
  /** A hand-written VJP (e.g. a surrogate derivative); by default the VJP is derived node by node. */
  readonly vjp?: FuseVjp;
}

/**
 * The outputs of a traced call, as tensors: one per value `fn` returned (a list for a list).
 *
 * @category Fusion
 */
export type Fused<R> = R extends readonly unknown[] ? Tensor[] : Tensor;

/** Replays `program`'s nodes into `e` with `inputs` for its operands; returns every node's value. */
function replay(
  e: FuseBuilder,
  program: ElementwiseProgram,
  inputs: readonly Expr[],
  scalars: readonly number[],
): Expr[] {
  const v: Expr[] = [];
  program.nodes.forEach((n, i) => {
    let x: ExprLike;
    switch (n.kind) {
      case 'input':
        x = inputs[n.index];
        break;
      case 'scalar':
        x = e.scalar(scalars[n.index], program.scalarDTypes[n.index]);
        break;
      case 'unary':
        x = e.unary(n.op, v[n.x]);
        break;
      case 'cast':
        x = e.cast(v[n.x], program.dtypes[i]);
        break;
      case 'binary':
        x = e.binary(n.op, v[n.a], v[n.b]);
        break;
      case 'where':
        x = e.where(v[n.cond], v[n.a], v[n.b]);
        break;
    }
    v.push(x as Expr);
  });
  return v;
}

/**
 * The symbolic VJP of a replayed program: cotangents of its float32 nodes accumulated in reverse
 * order with the same rules as the primitives' VJPs. Returns the cotangent of each input.
 */
function deriveVjp(
  e: FuseBuilder,
  program: ElementwiseProgram,
  values: readonly Expr[],
  cotangents: readonly ExprLike[],
): (ExprLike | null)[] {
  const g: (ExprLike | null)[] = new Array(values.length).fill(null);
  const acc = (i: number, d: ExprLike): void => {
    if (program.dtypes[i] !== 'float32' || d === 0) return;
    const prev = g[i];
    g[i] = prev === null ? d : e.add(prev, d);
  };
  program.outputs.forEach((o, k) => {
    acc(o, cotangents[k]);
  });
  for (let i = program.nodes.length - 1; i >= 0; i--) {
    const gy = g[i];
    if (gy === null) continue;
    const n = program.nodes[i];
    const y = values[i];
    switch (n.kind) {
      case 'unary': {
        const x = values[n.x];
        switch (n.op) {
          case 'neg':
            acc(n.x, e.neg(gy));
            break;
          case 'abs':
            acc(n.x, e.mul(gy, e.sign(x)));
            break;
          case 'exp':
            acc(n.x, e.mul(gy, y));
            break;
          case 'log':
            acc(n.x, e.div(gy, x));
            break;
          case 'log1p':
            acc(n.x, e.div(gy, e.add(x, 1)));
            break;
          case 'sqrt':
            acc(n.x, e.div(gy, e.mul(y, 2)));
            break;
          case 'tanh':
            acc(n.x, e.mul(gy, e.sub(1, e.mul(y, y))));
            break;
          case 'sigmoid':
            acc(n.x, e.mul(gy, e.mul(y, e.sub(1, y))));
            break;
          case 'sin':
            acc(n.x, e.mul(gy, e.unary('cos', x)));
            break;
          case 'cos':
            acc(n.x, e.neg(e.mul(gy, e.unary('sin', x))));
            break;
          default: // sign, floor, not: no gradient
            break;
        }
        break;
      }
      case 'binary': {
        const a = values[n.a];
        const b = values[n.b];
        switch (n.op) {
          case 'add':
            acc(n.a, gy);
            acc(n.b, gy);
            break;
          case 'sub':
            acc(n.a, gy);
            acc(n.b, e.neg(gy));
            break;
          case 'mul':
            acc(n.a, e.mul(gy, b));
            acc(n.b, e.mul(gy, a));
            break;
          case 'div':
            acc(n.a, e.div(gy, b));
            acc(n.b, e.neg(e.div(e.mul(gy, a), e.mul(b, b))));
            break;
          case 'pow':
            acc(n.a, e.mul(gy, e.mul(b, e.pow(a, e.sub(b, 1)))));
            acc(n.b, e.mul(gy, e.where(e.gt(a, 0), e.mul(y, e.log(e.maximum(a, 1e-30))), 0)));
            break;
          case 'maximum':
          case 'minimum': {
            const m = n.op === 'maximum' ? e.ge(a, b) : e.le(a, b);
            acc(n.a, e.where(m, gy, 0));
            acc(n.b, e.where(m, 0, gy));
            break;
          }
          default: // comparisons and logic: no gradient
            break;
        }
        break;
      }
      case 'where': {
        const c = values[n.cond];
        acc(n.a, e.where(c, gy, 0));
        acc(n.b, e.where(c, 0, gy));
        break;
      }
      default: // input, scalar, cast (a float32 cast of a float32 value is never a node)
        break;
    }
  }
  return program.inputDTypes.map((_, k) => {
    const at = program.nodes.findIndex((n) => n.kind === 'input' && n.index === k);
    return at < 0 ? null : g[at];
  });
}

function trace(name: string, dtypes: readonly DType[], fn: (e: FuseBuilder, ...xs: Expr[]) => FuseResult) {
  const e = new FuseBuilder(name, dtypes);
  const xs = dtypes.map((_, i) => e.input(i));
  const out = fn(e, ...xs);
  const list = (Array.isArray(out) ? out : [out]) as ExprLike[];
  return { e, list, single: !Array.isArray(out) };
}

/**
 * Fuses an elementwise function into one kernel. `fn` receives a `FuseBuilder` and one symbolic value
 * per tensor argument, and returns a value or a list of values; every op of the chain is written as a
 * builder method (`e.mul(x, 2)`, `e.where(e.gt(x, 0), x, 0)`), and JS numbers become kernel
 * parameters, so a changing learning rate or ε never recompiles. The result is a function of tensors
 * that broadcasts them to one shape and returns one tensor per value, differentiable as the chain of
 * primitives would be (or by `options.vjp`).
 *
 * ```ts
 * const swish = fuse((e, x) => e.mul(x, e.sigmoid(x)));
 * const y = swish(x); // one kernel where the backend compiles programs
 * ```
 *
 * @param fn - Builds the program from traced inputs with the builder `e` (`e.add`, `e.mul`, ...); called once per input signature.
 * @param options - A hand-written gradient (`vjp`) and a name for error messages.
 * @category Fusion
 */
export function fuse<R extends FuseResult>(
  fn: (e: FuseBuilder, ...xs: Expr[]) => R,
  options: FuseOptions = {},
): (...inputs: Tensor[]) => Fused<R> {
  const name = options.name ?? 'fuse';
  return (...inputs: Tensor[]) => {
    const be = backendOf(name, ...inputs);
    const outShape = inputs.reduce<readonly number[]>((s, x) => broadcastShapes(name, s, x.shape), []);
    checkSize(name, outShape);
    const { e, list, single } = trace(
      name,
      inputs.map((x) => x.dtype),
      fn as (e: FuseBuilder, ...xs: Expr[]) => FuseResult,
    );
    if (list.length === 0) throw new ValueError(name, 'the fused function returned no values');
    const outs = list.map((x) => (typeof x === 'number' ? e.scalar(x) : x));
    const program = e.finish(outs);
    const scalars = [...e.scalars];
    const ids = runProgram(be, program, inputs, scalars, outShape);
    const results = ids.map((id, k) => wrap(be, id, outShape, program.dtypes[program.outputs[k]]));
    if (results.some((r) => r.dtype === 'float32')) {
      record(name, inputs, results, (cts) =>
        fusedVjp(name, be, program, scalars, inputs, cts, outShape, options.vjp),
      );
    }
    return (single ? results[0] : results) as Fused<R>;
  };
}

/** The cotangents of a fused call's inputs, computed by one backward program. */
function fusedVjp(
  name: string,
  be: Backend,
  program: ElementwiseProgram,
  scalars: readonly number[],
  inputs: readonly Tensor[],
  cts: readonly (Tensor | null)[],
  outShape: readonly number[],
  vjp: FuseVjp | undefined,
): (Tensor | null)[] {
  const given = cts.map((c, k) => (c && program.dtypes[program.outputs[k]] === 'float32' ? c : null));
  const ctTensors = given.filter((c): c is Tensor => c !== null);
  const e = new FuseBuilder(`${name} (backward)`, [
    ...program.inputDTypes,
    ...ctTensors.map(() => 'float32' as DType),
  ]);
  const xs = program.inputDTypes.map((_, i) => e.input(i));
  let next = program.inputDTypes.length;
  const ctExprs: ExprLike[] = given.map((c) => (c ? e.input(next++) : 0));
  const values = replay(e, program, xs, scalars);
  const outs = program.outputs.map((o) => values[o]);
  const raw = vjp ? vjp(e, xs, ctExprs, outs) : deriveVjp(e, program, values, ctExprs);
  if (raw.length !== inputs.length) {
    throw new ValueError(name, `the vjp returned ${raw.length} cotangents for ${inputs.length} inputs`);
  }
  // One output per distinct cotangent value: inputs that receive the same one (a bias and the
  // tensor it is added to) share its buffer, each reduced to its own shape.
  const slotOf = new Map<number, number>();
  const slots: (number | null)[] = [];
  const exprs: Expr[] = [];
  raw.forEach((g, i) => {
    if (g === null || typeof g === 'number' || inputs[i].dtype !== 'float32') {
      slots.push(null);
      return;
    }
    if (g.dtype !== 'float32')
      throw new DTypeError(name, `the cotangent of input ${i} must be float32, got ${g.dtype}`);
    let slot = slotOf.get(g.index);
    if (slot === undefined) {
      slot = exprs.length;
      slotOf.set(g.index, slot);
      exprs.push(g);
    }
    slots.push(slot);
  });
  if (exprs.length === 0) return inputs.map(() => null);
  const backward = e.finish(exprs);
  const ids = runProgram(be, backward, [...inputs, ...ctTensors], e.scalars, outShape);
  const full = ids.map((id) => wrap(be, id, outShape, 'float32'));
  return slots.map((slot, i) => (slot === null ? null : unbroadcast(full[slot], inputs[i].shape)));
}
