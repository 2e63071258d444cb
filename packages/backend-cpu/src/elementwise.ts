/**
 * Elementwise kernels: unary, binary (with broadcasting), where and cast.
 *
 * Design: float32 values are computed in float64 (JS numbers) and rounded once when stored into the
 * output Float32Array, so every op is correctly rounded wherever the JS Math function is. Binary and
 * `where` kernels go through `coalesce`/`forEachRow` (walk.ts): same-shape operands become one
 * contiguous row and a scalar operand a row of stride 0, so the generic N-d walk costs nothing in the
 * common cases. Each op has its own row loop written out in full rather than a per-element callback,
 * because V8 does not inline a callback shared by many ops (the call site goes megamorphic), and a
 * function call per element costs more than the arithmetic.
 *
 * Comparisons and logic store `+(a < b)`, a number from a boolean, which V8 compiles without a
 * branch: with `a < b ? 1 : 0` a comparison of random signs ran about 5x slower (branch misses).
 *
 * Large float32 arithmetic (`add`, `sub`, `mul`, `div`, `maximum`, `minimum`) runs on the Wasm SIMD
 * path of fused programs as a one-node program (fused-wasm.ts), with the same bits.
 *
 * int32 arithmetic wraps modulo 2^32 like C (stores into an Int32Array apply ToInt32; `mul` uses
 * `Math.imul` so the product is exact before wrapping). int32 `div` truncates toward zero, and
 * division by zero gives 0 (there is no integer infinity; the WebGPU backend does the same).
 */

import {
  type BinaryOp,
  type DType,
  DTypeError,
  FLOAT_UNARY_OPS,
  type TypedArray,
  type UnaryOp,
} from '@mru/core';
import { wasmBinary } from './fused-wasm.js';
import { JS_FLOAT_UNARY, unaryFloatInto } from './math.js';
import { hostArray } from './pool.js';
import { coalesce, forEachRow } from './walk.js';

/** The output dtype of a unary op on `dtype`, or a `DTypeError` if the op does not accept it. */
export function unaryDType(op: UnaryOp, dtype: DType): DType {
  if (op === 'not') {
    if (dtype !== 'bool') throw new DTypeError('not', `expects bool, got ${dtype}`);
    return 'bool';
  }
  if (FLOAT_UNARY_OPS.has(op) ? dtype !== 'float32' : dtype === 'bool') {
    throw new DTypeError(op, `does not accept dtype ${dtype}`);
  }
  return dtype;
}

/** `op` applied to every element of the contiguous `x` (dtype already checked by `unaryDType`). */
export function unaryKernel(op: UnaryOp, x: TypedArray, outDType: DType): TypedArray {
  const n = x.length;
  const out = hostArray(outDType, n, false);
  if (JS_FLOAT_UNARY.has(op)) {
    // The float32-only functions: one loop each in math.ts, shared with the Wasm path of fused programs.
    unaryFloatInto(op, x as Float32Array, out as Float32Array, n);
    return out;
  }
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i];
      break;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      break;
    case 'sign':
      // Math.sign(-0) is -0 and NaN stays NaN, as in NumPy.
      for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]);
      break;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      break;
    case 'floor':
      for (let i = 0; i < n; i++) out[i] = Math.floor(x[i]);
      break;
    case 'not':
      for (let i = 0; i < n; i++) out[i] = +(x[i] === 0);
      break;
  }
  return out;
}

/**
 * One innermost row of a binary op: `n` outputs written contiguously from `o`, operands read from
 * `ai`/`bi` advancing by `as`/`bs` (0 for a broadcast operand).
 */
type BinaryRow = (
  out: TypedArray,
  o: number,
  a: TypedArray,
  ai: number,
  as: number,
  b: TypedArray,
  bi: number,
  bs: number,
  n: number,
) => void;

/* Row loops. `e` is the end of the output row. */
const addRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = a[ai] + b[bi];
};
const subRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = a[ai] - b[bi];
};
const mulRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = a[ai] * b[bi];
};
const divRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = a[ai] / b[bi];
};
const powRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = a[ai] ** b[bi];
};
// Math.max/min propagate NaN (and order -0 < +0), which is what the contract asks for.
const maxRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = Math.max(a[ai], b[bi]);
};
const minRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = Math.min(a[ai], b[bi]);
};
const eqRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] === b[bi]);
};
const neRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] !== b[bi]);
};
const ltRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] < b[bi]);
};
const leRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] <= b[bi]);
};
const gtRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] > b[bi]);
};
const geRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] >= b[bi]);
};
const andRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] !== 0) & +(b[bi] !== 0);
};
const orRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = +(a[ai] !== 0) | +(b[bi] !== 0);
};
const intMulRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) out[o] = Math.imul(a[ai], b[bi]);
};
const intDivRow: BinaryRow = (out, o, a, ai, as, b, bi, bs, n) => {
  for (const e = o + n; o < e; o++, ai += as, bi += bs) {
    const d = b[bi];
    // `| 0` truncates toward zero; -2^31 / -1 wraps to -2^31 as in two's complement hardware.
    out[o] = d === 0 ? 0 : (a[ai] / d) | 0;
  }
};

const COMPARISONS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/**
 * The output dtype of a binary op on operands of `dtype`, or a `DTypeError`. Comparisons accept every
 * dtype (bool compares as 0/1); arithmetic takes float32 and int32 (int32 `pow` is refused, as the
 * contract says); `and`/`or` take bool.
 */
export function binaryDType(op: BinaryOp, dtype: DType): DType {
  if (COMPARISONS.has(op)) return 'bool';
  if (op === 'and' || op === 'or') {
    if (dtype !== 'bool') throw new DTypeError(op, `expects bool operands, got ${dtype}`);
    return 'bool';
  }
  if (dtype === 'bool' || (op === 'pow' && dtype === 'int32')) {
    throw new DTypeError(op, `does not accept dtype ${dtype}`);
  }
  return dtype;
}

function binaryRow(op: BinaryOp, dtype: DType): BinaryRow {
  switch (op) {
    case 'add':
      return addRow;
    case 'sub':
      return subRow;
    case 'mul':
      return dtype === 'int32' ? intMulRow : mulRow;
    case 'div':
      return dtype === 'int32' ? intDivRow : divRow;
    case 'pow':
      return powRow;
    case 'maximum':
      return maxRow;
    case 'minimum':
      return minRow;
    case 'eq':
      return eqRow;
    case 'ne':
      return neRow;
    case 'lt':
      return ltRow;
    case 'le':
      return leRow;
    case 'gt':
      return gtRow;
    case 'ge':
      return geRow;
    case 'and':
      return andRow;
    case 'or':
      return orRow;
  }
}

/**
 * `op(a, b)` broadcast to `outShape`, given each operand's broadcast strides (see
 * `broadcastStridesOrNull`) and the operand dtype.
 */
export function binaryKernel(
  op: BinaryOp,
  dtype: DType,
  a: TypedArray,
  aStrides: readonly number[],
  b: TypedArray,
  bStrides: readonly number[],
  outShape: readonly number[],
  outStrides: readonly number[],
  outSize: number,
): TypedArray {
  const out = hostArray(binaryDType(op, dtype), outSize, false);
  if (outSize === 0) return out;
  const layout = coalesce(outShape, [outStrides, aStrides, bStrides]);
  if (dtype === 'float32' && wasmBinary(op, a, b, layout, out)) return out;
  const rowFn = binaryRow(op, dtype);
  const last = layout.shape.length - 1;
  const n = layout.shape[last];
  const as = layout.strides[1][last];
  const bs = layout.strides[2][last];
  forEachRow(layout, [0, 0, 0], (o, ai, bi) => rowFn(out, o, a, ai, as, b, bi, bs, n));
  return out;
}

/** `cond ? a : b` broadcast to `outShape`; strides as in `binaryKernel`. */
export function whereKernel(
  dtype: DType,
  cond: TypedArray,
  condStrides: readonly number[],
  a: TypedArray,
  aStrides: readonly number[],
  b: TypedArray,
  bStrides: readonly number[],
  outShape: readonly number[],
  outStrides: readonly number[],
  outSize: number,
): TypedArray {
  const out = hostArray(dtype, outSize, false);
  if (outSize === 0) return out;
  const layout = coalesce(outShape, [outStrides, condStrides, aStrides, bStrides]);
  const last = layout.shape.length - 1;
  const n = layout.shape[last];
  const cs = layout.strides[1][last];
  const as = layout.strides[2][last];
  const bs = layout.strides[3][last];
  forEachRow(layout, [0, 0, 0, 0], (o, ci, ai, bi) => {
    for (const e = o + n; o < e; o++, ci += cs, ai += as, bi += bs) out[o] = cond[ci] !== 0 ? a[ai] : b[bi];
  });
  return out;
}

/**
 * A number to int32: truncation toward zero, saturating at the int32 range, NaN to 0. The contract
 * does not say what happens out of range; saturation is what WGSL's `i32(f32)` does, so the CPU and
 * WebGPU backends agree.
 */
export function floatToInt(v: number): number {
  if (v >= 2147483647) return 2147483647;
  if (v <= -2147483648) return -2147483648;
  return v | 0; // NaN | 0 is 0
}

/** Converts contiguous `x` from `from` to `to` (see `Backend.cast`). */
export function castKernel(x: TypedArray, from: DType, to: DType): TypedArray {
  const n = x.length;
  if (from === to) return x.slice();
  const out = hostArray(to, n, false);
  if (to === 'bool') {
    // NaN !== 0, so NaN casts to true, as `x != 0` says.
    for (let i = 0; i < n; i++) out[i] = +(x[i] !== 0);
  } else if (from === 'float32' && to === 'int32') {
    for (let i = 0; i < n; i++) out[i] = floatToInt(x[i]);
  } else {
    // int32 -> float32 rounds to nearest; bool -> number copies the stored 0/1.
    out.set(x);
  }
  return out;
}
