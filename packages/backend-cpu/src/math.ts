/**
 * The float32 functions the CPU kernels share, so that the primitive, the generated JS kernel and the
 * Wasm path of fused programs (which leaves these functions to JavaScript) compute them with the same
 * expression and round them the same way: in float64, then once to float32.
 */
import type { UnaryOp } from '@mru/core';

/** Stable logistic function: never evaluates `exp` of a large positive number. */
export function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** The unary ops that WebAssembly has no instruction for, computed in JavaScript. */
export const JS_FLOAT_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>([
  'exp',
  'log',
  'log1p',
  'tanh',
  'sigmoid',
  'sin',
  'cos',
]);

/**
 * `dst[i] = op(src[i])` for `i < len`, for an op of `JS_FLOAT_UNARY` on float32 arrays (the store
 * rounds to float32, as the unary primitive's does). One loop per op: V8 does not inline a function
 * chosen per call inside a loop.
 */
export function unaryFloatInto(op: UnaryOp, src: Float32Array, dst: Float32Array, len: number): void {
  switch (op) {
    case 'exp':
      for (let i = 0; i < len; i++) dst[i] = Math.exp(src[i]);
      break;
    case 'log':
      for (let i = 0; i < len; i++) dst[i] = Math.log(src[i]);
      break;
    case 'log1p':
      for (let i = 0; i < len; i++) dst[i] = Math.log1p(src[i]);
      break;
    case 'tanh':
      for (let i = 0; i < len; i++) dst[i] = Math.tanh(src[i]);
      break;
    case 'sigmoid':
      for (let i = 0; i < len; i++) dst[i] = sigmoid(src[i]);
      break;
    case 'sin':
      for (let i = 0; i < len; i++) dst[i] = Math.sin(src[i]);
      break;
    case 'cos':
      for (let i = 0; i < len; i++) dst[i] = Math.cos(src[i]);
      break;
    default:
      throw new Error(`unaryFloatInto: ${op} is not computed in JavaScript`);
  }
}
