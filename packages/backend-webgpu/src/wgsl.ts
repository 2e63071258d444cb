/**
 * WGSL sources of every kernel, as functions of the few things that change the code (op, dtype,
 * workgroup size). Shapes, strides, sizes and flags are never baked into a source: they arrive at run
 * time in a small uniform block, so a new shape reuses a compiled pipeline (the pipeline cache in
 * `runtime.ts` is keyed by the source text).
 *
 * Conventions shared by every kernel:
 * - group 1, binding 0 is the uniform parameter block (`PARAM_WORDS` u32 words, read with `prm(i)`;
 *   floats are passed as their bits and read with `prmf(i)`); group 0, bindings 1.. are the inputs
 *   (read-only storage), then the outputs (read-write storage). `runtime.ts` builds the matching
 *   bind group layouts.
 * - Element kernels run one invocation per output element. The linear index is
 *   `gid.x + gid.y * nwg.x * WG`: dispatches larger than `maxComputeWorkgroupsPerDimension` are
 *   folded into a 2D grid by the runtime, and every kernel checks its index against the size.
 * - Storage element types: float32 is `f32`, int32 is `i32`, bool is `u32` (0 or 1, one word per
 *   element: WGSL has no byte-addressable storage). Movement kernels move raw 32-bit words, so they
 *   serve every dtype with one source.
 * - Floats: NaN and infinity constants are written as bit patterns and NaN tests look at the bits,
 *   because WGSL lets compilers assume finite math in expressions like `x != x`.
 */
import type { BinaryOp, DType, UnaryOp } from '@mru/core';

/**
 * Words (u32) in the uniform parameter block of every kernel: 512 bytes. The last word always holds
 * the bits of 1.0f (see `opaque_one`), so a kernel has `PARAM_WORDS - 1` words for itself.
 */
export const PARAM_WORDS = 128;

/** The WGSL storage element type of a dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  switch (dtype) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'bool':
      return 'u32';
  }
}

/** One storage binding of a kernel: its WGSL name and element type. */
export interface BindingDecl {
  readonly name: string;
  readonly type: string;
}

/** A kernel: its WGSL source and how many input and output storage bindings it declares. */
export interface KernelSource {
  readonly code: string;
  readonly inputs: number;
  readonly outputs: number;
}

const PRELUDE = /* wgsl */ `
struct Params { v: array<vec4<u32>, ${PARAM_WORDS / 4}> }
@group(1) @binding(0) var<uniform> params: Params;
fn prm(i: u32) -> u32 { return params.v[i >> 2u][i & 3u]; }
fn prmf(i: u32) -> f32 { return bitcast<f32>(prm(i)); }
// A function call is never a const-expression, so NaN and infinity built here are legal WGSL.
fn bits_f32(b: u32) -> f32 { return bitcast<f32>(b); }
// 1.0, but from the parameter block: multiplying by it stops a driver's algebraic simplifier from
// folding Kahan's compensation '(t - acc) - y' to zero (WGSL has no 'precise' qualifier).
fn opaque_one() -> f32 { return prmf(${PARAM_WORDS - 1}u); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
const F32_NAN: u32 = 0x7fc00000u;
const F32_INF: u32 = 0x7f800000u;
const F32_NEG_INF: u32 = 0xff800000u;
`;

function declare(ins: readonly BindingDecl[], outs: readonly BindingDecl[]): string {
  const lines: string[] = [];
  let b = 1;
  for (const x of ins)
    lines.push(`@group(0) @binding(${b++}) var<storage, read> ${x.name}: array<${x.type}>;`);
  for (const x of outs) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${x.name}: array<${x.type}>;`);
  }
  return lines.join('\n');
}

/**
 * A kernel with one invocation per element: `body` sees `i` (the linear index) and must check it
 * against its size parameter itself.
 */
export function elementKernel(
  wg: number,
  ins: readonly BindingDecl[],
  outs: readonly BindingDecl[],
  body: string,
  helpers = '',
): KernelSource {
  const code = `${PRELUDE}
${declare(ins, outs)}
${helpers}
const WG: u32 = ${wg}u;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
${body}
}
`;
  return { code, inputs: ins.length, outputs: outs.length };
}

/**
 * WGSL that decomposes the linear index `i` over a row-major shape stored in the parameter block at
 * `shapeAt` (with `rank` dims) and accumulates one offset per operand whose strides follow the shape
 * (operand `k` has its strides at `shapeAt + (k + 1) * rank`). Declares `off0..off{n-1}`.
 */
function offsets(n: number, rankExpr: string, shapeAt: string, index: string): string {
  const decl = Array.from({ length: n }, (_, k) => `  var off${k} = 0u;`).join('\n');
  const acc = Array.from(
    { length: n },
    (_, k) => `    off${k} = off${k} + c * prm(${shapeAt} + ${k + 1}u * rank + d - 1u);`,
  ).join('\n');
  return `  let rank = ${rankExpr};
${decl}
  var rem = ${index};
  for (var d = rank; d > 0u; d = d - 1u) {
    let dim = prm(${shapeAt} + d - 1u);
    let c = rem % dim;
    rem = rem / dim;
${acc}
  }`;
}

// ------------------------------------------------------------------------------------------------
// Elementwise

/** WGSL helpers of the float32 elementwise ops (`tanh_`, `sigmoid_`, `pow_`, `max_`, ...). */
export const FLOAT_HELPERS = /* wgsl */ `
fn log1p_(x: f32) -> f32 {
  // Near 0, log(1 + x) loses the low bits of x (and WGSL's log is only absolutely accurate on
  // [0.5, 2]), so use log1p(x) = 2 atanh(s), s = x / (2 + x), summed as a short odd series.
  if (x > -0.25 && x < 0.5) {
    let s = x / (2.0 + x);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
      + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0)))))));
    return 2.0 * s * series;
  }
  return log(1.0 + x);
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn tanh_(x: f32) -> f32 {
  // Drivers often compute tanh as a ratio of exponentials, which overflows to NaN for large |x| and
  // loses the relative accuracy of small |x|: use the odd series near 0, 1 - 2 / (e^2|x| + 1) beyond.
  let ax = abs(x);
  if (ax < 0.125) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
  }
  if (ax > 15.0) { return select(-1.0, 1.0, x > 0.0); }
  let t = 1.0 - 2.0 / (exp(2.0 * ax) + 1.0);
  return select(-t, t, x > 0.0);
}
fn sign_(x: f32) -> f32 {
  if (x > 0.0) { return 1.0; }
  if (x < 0.0) { return -1.0; }
  return x;
}
fn pow_(x: f32, y: f32) -> f32 {
  // WGSL's pow is exp2(y * log2(x)): undefined for x < 0. Follow C/JS pow instead.
  if (y == 0.0) { return 1.0; }
  if (is_nan(x) || is_nan(y)) { return bits_f32(F32_NAN); }
  let ax = abs(x);
  var r: f32;
  if (ax == 0.0) {
    r = select(0.0, bits_f32(F32_INF), y < 0.0);
  } else {
    r = exp2(y * log2(ax));
  }
  if (x < 0.0) {
    if (floor(y) != y) { return bits_f32(F32_NAN); }
    let odd = abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
    if (odd) { r = -r; }
  }
  return r;
}
fn max_(a: f32, b: f32) -> f32 {
  if (is_nan(a) || is_nan(b)) { return bits_f32(F32_NAN); }
  return max(a, b);
}
fn min_(a: f32, b: f32) -> f32 {
  if (is_nan(a) || is_nan(b)) { return bits_f32(F32_NAN); }
  return min(a, b);
}
`;

/** The WGSL expression of unary `op` on the value `v` of WGSL type `t` (needs `FLOAT_HELPERS` for f32). */
export function unaryExpr(op: UnaryOp, t: string): string {
  const f = t === 'f32';
  switch (op) {
    case 'neg':
      return '-v';
    case 'abs':
      return 'abs(v)';
    case 'sign':
      return f ? 'sign_(v)' : 'select(select(0, -1, v < 0), 1, v > 0)';
    case 'exp':
      return 'exp(v)';
    case 'log':
      return 'log(v)';
    case 'log1p':
      return 'log1p_(v)';
    case 'sqrt':
      return 'sqrt(v)';
    case 'tanh':
      return 'tanh_(v)';
    case 'sigmoid':
      return 'sigmoid_(v)';
    case 'sin':
      return 'sin(v)';
    case 'cos':
      return 'cos(v)';
    case 'floor':
      return 'floor(v)';
    case 'not':
      return 'select(1u, 0u, v != 0u)';
  }
}

/** `out[i] = op(x[i])` over contiguous buffers. Params: `[n]`. */
export function unaryKernel(wg: number, op: UnaryOp, dtype: DType): KernelSource {
  const t = wgslType(dtype);
  return elementKernel(
    wg,
    [{ name: 'x', type: t }],
    [{ name: 'y', type: t }],
    `  if (i >= prm(0u)) { return; }
  let v = x[i];
  y[i] = ${unaryExpr(op, t)};`,
    t === 'f32' ? FLOAT_HELPERS : '',
  );
}

/**
 * The WGSL expression of binary `op` on the values `a` and `b` of WGSL type `t` (needs
 * `FLOAT_HELPERS` for f32); comparisons and logic give `u32` 0 or 1 (bool).
 */
export function binaryExpr(op: BinaryOp, t: string): string {
  const f = t === 'f32';
  // Float comparisons spell out NaN (every comparison false but `ne`): drivers may assume no NaN.
  const ordered = f ? '!is_nan(a) && !is_nan(b) && ' : '';
  const cmp = (c: string) => `select(0u, 1u, ${ordered}${c})`;
  switch (op) {
    case 'add':
      return 'a + b';
    case 'sub':
      return 'a - b';
    case 'mul':
      return 'a * b';
    case 'div':
      // Integer division truncates toward zero; dividing by zero gives 0 (as `(a / 0) | 0` in JS).
      return f ? 'a / b' : 'select(a / b, 0, b == 0)';
    case 'pow':
      return 'pow_(a, b)';
    case 'maximum':
      return f ? 'max_(a, b)' : 'max(a, b)';
    case 'minimum':
      return f ? 'min_(a, b)' : 'min(a, b)';
    case 'eq':
      return cmp('a == b');
    case 'ne':
      return f ? 'select(0u, 1u, is_nan(a) || is_nan(b) || a != b)' : cmp('a != b');
    case 'lt':
      return cmp('a < b');
    case 'le':
      return cmp('a <= b');
    case 'gt':
      return cmp('a > b');
    case 'ge':
      return cmp('a >= b');
    case 'and':
      return cmp('a != 0u && b != 0u');
    case 'or':
      return cmp('a != 0u || b != 0u');
  }
}

/** True for binary ops whose result is bool whatever the operand dtype. */
export function isComparison(op: BinaryOp): boolean {
  return op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge';
}

/**
 * Broadcasting binary op. Params: `[n, rank, shape[rank], stridesA[rank], stridesB[rank]]`.
 */
export function binaryKernel(wg: number, op: BinaryOp, dtype: DType): KernelSource {
  const t = wgslType(dtype);
  const outT = isComparison(op) || op === 'and' || op === 'or' ? 'u32' : t;
  return elementKernel(
    wg,
    [
      { name: 'A', type: t },
      { name: 'B', type: t },
    ],
    [{ name: 'y', type: outT }],
    `  if (i >= prm(0u)) { return; }
${offsets(2, 'prm(1u)', '2u', 'i')}
  let a = A[off0];
  let b = B[off1];
  y[i] = ${binaryExpr(op, t)};`,
    t === 'f32' ? FLOAT_HELPERS : '',
  );
}

/** `y = cond ? a : b` with broadcasting. Params: `[n, rank, shape, stridesCond, stridesA, stridesB]`. */
export function whereKernel(wg: number, dtype: DType): KernelSource {
  const t = wgslType(dtype);
  return elementKernel(
    wg,
    [
      { name: 'cond', type: 'u32' },
      { name: 'A', type: t },
      { name: 'B', type: t },
    ],
    [{ name: 'y', type: t }],
    `  if (i >= prm(0u)) { return; }
${offsets(3, 'prm(1u)', '2u', 'i')}
  y[i] = select(B[off2], A[off1], cond[off0] != 0u);`,
  );
}

/** dtype conversion. Params: `[n]`. */
export function castKernel(wg: number, from: DType, to: DType): KernelSource {
  const tf = wgslType(from);
  const tt = wgslType(to);
  return elementKernel(
    wg,
    [{ name: 'x', type: tf }],
    [{ name: 'y', type: tt }],
    `  if (i >= prm(0u)) { return; }
  let v = x[i];
  y[i] = ${castExpr(from, to)};`,
    tf === 'f32' ? CAST_HELPERS : '',
  );
}

/**
 * The WGSL expression converting the value `v` from `from` to `to` (needs `CAST_HELPERS` when `from`
 * is float32).
 */
export function castExpr(from: DType, to: DType): string {
  const tf = wgslType(from);
  const tt = wgslType(to);
  // Bits, not `v != 0.0`: some drivers evaluate float comparisons with NaN as ordered.
  if (to === 'bool')
    return tf === 'f32'
      ? 'select(0u, 1u, (bitcast<u32>(v) & 0x7fffffffu) != 0u)'
      : `select(0u, 1u, v != ${tf}(0))`;
  if (tf === 'f32' && tt === 'i32') return 'f32_to_i32(v)';
  return `${tt}(v)`;
}

/** WGSL helper of float32 to int32 casts (`f32_to_i32`: truncating, saturating, NaN to 0). */
export const CAST_HELPERS = /* wgsl */ `
fn f32_to_i32(v: f32) -> i32 {
  // Core's contract: truncate toward zero, saturate at the int32 range, NaN to 0. Spelled out
  // because drivers differ on NaN and on the largest values (2^31 itself is not an i32).
  if (is_nan(v)) { return 0; }
  if (v >= 2147483648.0) { return 2147483647; }
  if (v <= -2147483648.0) { return i32(-2147483647 - 1); }
  return i32(v);
}
`;

/** Fills with one 32-bit pattern. Params: `[n, bits]`. */
export function fillKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [],
    [{ name: 'y', type: 'u32' }],
    `  if (i >= prm(0u)) { return; }\n  y[i] = prm(1u);`,
  );
}

// ------------------------------------------------------------------------------------------------
// Movement (raw 32-bit words, every dtype)

/** Strided gather. Params: `[n, rank, offset, shape[rank], strides[rank]]`. */
export function stridedKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'x', type: 'u32' }],
    [{ name: 'y', type: 'u32' }],
    `  if (i >= prm(0u)) { return; }
${offsets(1, 'prm(1u)', '3u', 'i')}
  y[i] = x[prm(2u) + off0];`,
  );
}

/**
 * Constant padding. Params: `[n, rank, valueBits, outShape[rank], before[rank], inShape[rank],
 * inStrides[rank]]`.
 */
export function padKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'x', type: 'u32' }],
    [{ name: 'y', type: 'u32' }],
    `  if (i >= prm(0u)) { return; }
  let rank = prm(1u);
  var rem = i;
  var off = 0u;
  var inside = true;
  for (var d = rank; d > 0u; d = d - 1u) {
    let dim = prm(3u + d - 1u);
    let c = rem % dim;
    rem = rem / dim;
    let before = prm(3u + rank + d - 1u);
    let inDim = prm(3u + 2u * rank + d - 1u);
    if (c < before || c - before >= inDim) {
      inside = false;
    } else {
      off = off + (c - before) * prm(3u + 3u * rank + d - 1u);
    }
  }
  y[i] = select(prm(2u), x[off], inside);`,
  );
}

/**
 * Copies one concat operand into its slot of the output, viewed as `[outer, rowOut]` words.
 * Params: `[n, rowIn, rowOut, offset]`.
 */
export function concatKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'x', type: 'u32' }],
    [{ name: 'y', type: 'u32' }],
    `  if (i >= prm(0u)) { return; }
  let rowIn = prm(1u);
  let o = i / rowIn;
  let r = i - o * rowIn;
  y[o * prm(2u) + prm(3u) + r] = x[i];`,
  );
}

/**
 * `y[p, j, q] = x[p, clamp(idx[j]), q]` with `x` as `[pre, N, post]`. Params: `[n, N, J, post]`.
 */
export function gatherKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [
      { name: 'x', type: 'u32' },
      { name: 'idx', type: 'i32' },
    ],
    [{ name: 'y', type: 'u32' }],
    `  if (i >= prm(0u)) { return; }
  let N = prm(1u);
  let J = prm(2u);
  let post = prm(3u);
  if (N == 0u) { y[i] = 0u; return; }
  let q = i % post;
  let rest = i / post;
  let j = rest % J;
  let p = rest / J;
  let k = u32(clamp(idx[j], 0, i32(N) - 1));
  y[i] = x[(p * N + k) * post + q];`,
  );
}

/**
 * Scatter-add, step 1 of 4: `counts[s]` = number of `j` with `clamp(idx[j]) == s`. One invocation per
 * slot `s` scanning every index: no atomics, so every step is deterministic. Params: `[size, J]`.
 */
export function scatterCountKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'idx', type: 'i32' }],
    [{ name: 'counts', type: 'u32' }],
    `  let size = prm(0u);
  if (i >= size) { return; }
  let J = prm(1u);
  var c = 0u;
  for (var j = 0u; j < J; j = j + 1u) {
    if (u32(clamp(idx[j], 0, i32(size) - 1)) == i) { c = c + 1u; }
  }
  counts[i] = c;`,
  );
}

/** Scatter-add, step 2: exclusive prefix sum of the counts by one invocation. Params: `[size]`. */
export function scatterOffsetsKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'counts', type: 'u32' }],
    [{ name: 'starts', type: 'u32' }],
    `  if (i != 0u) { return; }
  let size = prm(0u);
  var acc = 0u;
  for (var s = 0u; s < size; s = s + 1u) {
    starts[s] = acc;
    acc = acc + counts[s];
  }
  starts[size] = acc;`,
  );
}

/**
 * Scatter-add, step 3: the indices `j` of each slot, in increasing order, at `list[starts[s]..]`.
 * Params: `[size, J]`.
 */
export function scatterListKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [
      { name: 'idx', type: 'i32' },
      { name: 'starts', type: 'u32' },
    ],
    [{ name: 'list', type: 'u32' }],
    `  let size = prm(0u);
  if (i >= size) { return; }
  let J = prm(1u);
  var c = starts[i];
  for (var j = 0u; j < J; j = j + 1u) {
    if (u32(clamp(idx[j], 0, i32(size) - 1)) == i) {
      list[c] = j;
      c = c + 1u;
    }
  }`,
  );
}

/**
 * Scatter-add, step 4: one invocation per output element `[p, s, q]` sums its updates in index order.
 * Params: `[n, size, J, post]`.
 */
export function scatterSumKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [
      { name: 'upd', type: 'f32' },
      { name: 'starts', type: 'u32' },
      { name: 'list', type: 'u32' },
    ],
    [{ name: 'y', type: 'f32' }],
    `  if (i >= prm(0u)) { return; }
  let size = prm(1u);
  let J = prm(2u);
  let post = prm(3u);
  let q = i % post;
  let rest = i / post;
  let s = rest % size;
  let p = rest / size;
  var acc = 0.0;
  let end = starts[s + 1u];
  for (var c = starts[s]; c < end; c = c + 1u) {
    acc = acc + upd[(p * J + list[c]) * post + q];
  }
  y[i] = acc;`,
  );
}

// ------------------------------------------------------------------------------------------------
// Reductions

function reduceInit(op: 'sum' | 'max' | 'min', t: string): string {
  if (op === 'sum') return t === 'f32' ? '0.0' : '0';
  if (t === 'f32') return op === 'max' ? 'bits_f32(F32_NEG_INF)' : 'bits_f32(F32_INF)';
  return op === 'max' ? 'i32(-2147483647 - 1)' : '2147483647';
}

function reduceCombine(op: 'max' | 'min', t: string, a: string, b: string): string {
  if (t !== 'f32') return `${op}(${a}, ${b})`;
  return `${op}_(${a}, ${b})`;
}

/**
 * Reduction parameters (both variants): `[outSize, R, rankK, rankR, keptShape[rankK],
 * keptStrides[rankK], redShape[rankR], redStrides[rankR]]`: output element `o` reads `x` at the offset
 * of `o` decomposed over the kept dims plus the offset of `r` decomposed over the reduced dims.
 */
const REDUCE_OFFSETS = /* wgsl */ `
fn keptOffset(o: u32) -> u32 {
  let rk = prm(2u);
  var rem = o;
  var off = 0u;
  for (var d = rk; d > 0u; d = d - 1u) {
    let dim = prm(4u + d - 1u);
    let c = rem % dim;
    rem = rem / dim;
    off = off + c * prm(4u + rk + d - 1u);
  }
  return off;
}
fn redOffset(r: u32) -> u32 {
  let rk = prm(2u);
  let rr = prm(3u);
  let at = 4u + 2u * rk;
  if (rr == 1u) { return r * prm(at + 1u); }
  var rem = r;
  var off = 0u;
  for (var d = rr; d > 0u; d = d - 1u) {
    let dim = prm(at + d - 1u);
    let c = rem % dim;
    rem = rem / dim;
    off = off + c * prm(at + rr + d - 1u);
  }
  return off;
}
`;

/** Value read from `x` as the accumulator type (bool and int32 sum as i32). */
function readAs(inT: string, accT: string, expr: string): string {
  return inT === accT ? expr : `${accT}(${expr})`;
}

/**
 * Reduction with one invocation per output element, for short reduced extents or many outputs.
 * Float sums use Kahan compensation.
 */
export function reduceSerialKernel(wg: number, op: 'sum' | 'max' | 'min', dtype: DType): KernelSource {
  const inT = wgslType(dtype);
  const accT = op === 'sum' && dtype === 'bool' ? 'i32' : inT;
  const v = readAs(inT, accT, 'x[base + redOffset(r)]');
  let loop: string;
  if (op === 'sum' && accT === 'f32') {
    loop = `  var acc = 0.0;
  var comp = 0.0;
  for (var r = 0u; r < R; r = r + 1u) {
    let yv = ${v} - comp;
    let t = acc + yv;
    comp = (t * opaque_one() - acc) - yv;
    acc = t;
  }`;
  } else if (op === 'sum') {
    loop = `  var acc = ${reduceInit(op, accT)};
  for (var r = 0u; r < R; r = r + 1u) { acc = acc + ${v}; }`;
  } else {
    loop = `  var acc = ${reduceInit(op, accT)};
  for (var r = 0u; r < R; r = r + 1u) { acc = ${reduceCombine(op, accT, 'acc', v)}; }`;
  }
  return elementKernel(
    wg,
    [{ name: 'x', type: inT }],
    [{ name: 'y', type: accT }],
    `  if (i >= prm(0u)) { return; }
  let R = prm(1u);
  let base = keptOffset(i);
${loop}
  y[i] = acc;`,
    REDUCE_OFFSETS + (accT === 'f32' ? FLOAT_HELPERS : ''),
  );
}

/**
 * Reduction with one workgroup per output element: each invocation folds a strided share of the
 * reduced extent (Kahan-compensated for float sums), then a tree in workgroup memory combines the
 * partial results pairwise.
 */
export function reduceTreeKernel(wg: number, op: 'sum' | 'max' | 'min', dtype: DType): KernelSource {
  const inT = wgslType(dtype);
  const accT = op === 'sum' && dtype === 'bool' ? 'i32' : inT;
  const v = readAs(inT, accT, 'x[base + redOffset(r)]');
  let loop: string;
  let combine: string;
  if (op === 'sum' && accT === 'f32') {
    loop = `  var acc = 0.0;
  var comp = 0.0;
  for (var r = lid.x; r < R; r = r + WG) {
    let yv = ${v} - comp;
    let t = acc + yv;
    comp = (t * opaque_one() - acc) - yv;
    acc = t;
  }`;
    combine = 'part[lid.x] + part[lid.x + s]';
  } else if (op === 'sum') {
    loop = `  var acc = ${reduceInit(op, accT)};
  for (var r = lid.x; r < R; r = r + WG) { acc = acc + ${v}; }`;
    combine = 'part[lid.x] + part[lid.x + s]';
  } else {
    loop = `  var acc = ${reduceInit(op, accT)};
  for (var r = lid.x; r < R; r = r + WG) { acc = ${reduceCombine(op, accT, 'acc', v)}; }`;
    combine = reduceCombine(op, accT, 'part[lid.x]', 'part[lid.x + s]');
  }
  const code = `${PRELUDE}
${declare([{ name: 'x', type: inT }], [{ name: 'y', type: accT }])}
${REDUCE_OFFSETS}
${accT === 'f32' ? FLOAT_HELPERS : ''}
const WG: u32 = ${wg}u;
var<workgroup> part: array<${accT}, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= prm(0u)) { return; }
  let R = prm(1u);
  let base = keptOffset(o);
${loop}
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) { part[lid.x] = ${combine}; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { y[o] = part[0]; }
}
`;
  return { code, inputs: 1, outputs: 1 };
}

/**
 * Index of the max/min along one axis, `x` viewed as `[outer, N, inner]`; the first index wins ties
 * and a NaN counts as larger (argmax) or smaller (argmin) than everything. Params: `[n, N, inner]`.
 */
export function argReduceKernel(wg: number, op: 'argmax' | 'argmin', dtype: DType): KernelSource {
  const t = wgslType(dtype);
  const cmp = op === 'argmax' ? '>' : '<';
  const better = t === 'f32' ? `(v ${cmp} best) || (is_nan(v) && !is_nan(best))` : `v ${cmp} best`;
  return elementKernel(
    wg,
    [{ name: 'x', type: t }],
    [{ name: 'y', type: 'i32' }],
    `  if (i >= prm(0u)) { return; }
  let N = prm(1u);
  let inner = prm(2u);
  let q = i % inner;
  let base = (i / inner) * N * inner + q;
  if (N == 0u) { y[i] = 0; return; }
  var best = x[base];
  var bi = 0u;
  for (var j = 1u; j < N; j = j + 1u) {
    let v = x[base + j * inner];
    if (${better}) { best = v; bi = j; }
  }
  y[i] = i32(bi);`,
  );
}

// ------------------------------------------------------------------------------------------------
// Matmul

/**
 * Tiled batched matmul. A workgroup of `ts x ts` invocations computes a `(4 ts) x (4 ts)` output tile
 * (4x4 outputs per invocation), staging `BK`-deep slices of A and B in workgroup memory. The
 * workgroup index (folded 2D) enumerates `(batch, tileM, tileN)`. Params:
 * `[M, K, N, batch, aBatchStride, bBatchStride, transA, transB, tilesM, tilesN]`.
 */
export function matmulKernel(ts: number): KernelSource {
  const bk = 16;
  const code = `${PRELUDE}
${declare(
  [
    { name: 'A', type: 'f32' },
    { name: 'B', type: 'f32' },
  ],
  [{ name: 'y', type: 'f32' }],
)}
const TS: u32 = ${ts}u;
const TM: u32 = 4u;
const BM: u32 = ${ts * 4}u;
const BK: u32 = ${bk}u;
const LOADS: u32 = ${(ts * 4 * bk) / (ts * ts)}u;
var<workgroup> As: array<f32, ${ts * 4 * bk}>;
var<workgroup> Bs: array<f32, ${ts * 4 * bk}>;
@compute @workgroup_size(${ts}, ${ts})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = prm(0u);
  let K = prm(1u);
  let N = prm(2u);
  let tilesM = prm(8u);
  let tilesN = prm(9u);
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= prm(3u) * tilesM * tilesN) { return; }
  let bt = tile / (tilesM * tilesN);
  let rem = tile - bt * tilesM * tilesN;
  let row0 = (rem / tilesN) * BM;
  let col0 = (rem % tilesN) * BM;
  let aBase = bt * prm(4u);
  let bBase = bt * prm(5u);
  let transA = prm(6u) != 0u;
  let transB = prm(7u) != 0u;
  let flat = lid.y * TS + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < K; k0 = k0 + BK) {
    for (var l = 0u; l < LOADS; l = l + 1u) {
      let e = flat + l * TS * TS;
      // Walk the tile along the contiguous direction of the stored operand.
      var m: u32; var k: u32;
      if (transA) { k = e / BM; m = e % BM; } else { m = e / BK; k = e % BK; }
      let gm = row0 + m;
      let gk = k0 + k;
      var av = 0.0;
      if (gm < M && gk < K) {
        av = A[aBase + select(gm * K + gk, gk * M + gm, transA)];
      }
      As[k * BM + m] = av;
      var n: u32; var kb: u32;
      if (transB) { n = e / BK; kb = e % BK; } else { kb = e / BM; n = e % BM; }
      let gn = col0 + n;
      let gkb = k0 + kb;
      var bv = 0.0;
      if (gn < N && gkb < K) {
        bv = B[bBase + select(gkb * N + gn, gn * K + gkb, transB)];
      }
      Bs[kb * BM + n] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk = kk + 1u) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var t = 0u; t < TM; t = t + 1u) {
        ar[t] = As[kk * BM + lid.y + t * TS];
        br[t] = Bs[kk * BM + lid.x + t * TS];
      }
      for (var r = 0u; r < TM; r = r + 1u) {
        for (var c = 0u; c < TM; c = c + 1u) {
          acc[r * TM + c] = acc[r * TM + c] + ar[r] * br[c];
        }
      }
    }
    workgroupBarrier();
  }
  let outBase = bt * M * N;
  for (var r = 0u; r < TM; r = r + 1u) {
    let gm = row0 + lid.y + r * TS;
    if (gm >= M) { continue; }
    for (var c = 0u; c < TM; c = c + 1u) {
      let gn = col0 + lid.x + c * TS;
      if (gn < N) { y[outBase + gm * N + gn] = acc[r * TM + c]; }
    }
  }
}
`;
  return { code, inputs: 2, outputs: 1 };
}

// ------------------------------------------------------------------------------------------------
// Random

/**
 * Philox4x32-10 as specified in core's `random.ts`, in u32 arithmetic (the high half of a 32x32
 * product is assembled from 16-bit halves, like core's reference). One invocation per 4-word block.
 * Params: `[n, offset, key0, key1]`.
 */
export function randomKernel(wg: number, dist: 'uniform' | 'normal' | 'bits'): KernelSource {
  const outT = dist === 'bits' ? 'i32' : 'f32';
  let emit: string;
  if (dist === 'bits') {
    emit = `  for (var l = 0u; l < 4u; l = l + 1u) {
    if (e0 + l < n) { y[e0 + l] = bitcast<i32>(w[l]); }
  }`;
  } else if (dist === 'uniform') {
    emit = `  for (var l = 0u; l < 4u; l = l + 1u) {
    if (e0 + l < n) { y[e0 + l] = uniformOf(w[l]); }
  }`;
  } else {
    emit = `  for (var l = 0u; l < 4u; l = l + 2u) {
    if (e0 + l >= n) { break; }
    // u1 = 1 - uniform(w0) in (0, 1]; -ln(u1) = -log1p(-uniform(w0)) keeps the low bits near u1 = 1.
    let r = sqrt(max(-2.0 * log1p_(-uniformOf(w[l])), 0.0));
    let theta = 6.2831853071795864 * uniformOf(w[l + 1u]);
    y[e0 + l] = r * cos(theta);
    if (e0 + l + 1u < n) { y[e0 + l + 1u] = r * sin(theta); }
  }`;
  }
  const helpers = `${dist === 'normal' ? FLOAT_HELPERS : ''}
fn mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu;
  let aHi = a >> 16u;
  let bLo = b & 0xffffu;
  let bHi = b >> 16u;
  let lolo = aLo * bLo;
  let mid1 = aHi * bLo;
  let mid2 = aLo * bHi;
  let carry = ((lolo >> 16u) + (mid1 & 0xffffu) + (mid2 & 0xffffu)) >> 16u;
  return aHi * bHi + (mid1 >> 16u) + (mid2 >> 16u) + carry;
}
fn philox(ctr: vec4<u32>, key: vec2<u32>) -> array<u32, 4> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r = r + 1u) {
    let hi0 = mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return array<u32, 4>(c.x, c.y, c.z, c.w);
}
fn uniformOf(w: u32) -> f32 { return f32(w >> 8u) * 5.9604644775390625e-8; }
`;
  return elementKernel(
    wg,
    [],
    [{ name: 'y', type: outT }],
    `  let n = prm(0u);
  let e0 = i * 4u;
  if (i >= (n + 3u) / 4u) { return; }
  let w = philox(vec4<u32>(prm(1u) + i, 0u, 0u, 0u), vec2<u32>(prm(2u), prm(3u)));
${emit}`,
    helpers,
  );
}

// ------------------------------------------------------------------------------------------------
// Scan

/**
 * Scan parameters shared by the scan kernels: `[B, T, C, aStrideB, aStrideT, reverse, L, K,
 * hasCarry, shift]`. Time is split into `K` chunks of `L` logical steps (step `s` is time
 * `reverse ? T-1-s : s`); invocation `(b, k, c)` (c fastest) owns chunk `k` of lane `(b, c)`.
 */
const SCAN_INDEX = /* wgsl */ `
  let B = prm(0u);
  let T = prm(1u);
  let C = prm(2u);
  let aSB = prm(3u);
  let aST = prm(4u);
  let rev = prm(5u) != 0u;
  let L = prm(6u);
  let K = prm(7u);
  if (i >= B * K * C) { return; }
  let c = i % C;
  let rk = i / C;
  let k = rk % K;
  let b = rk / K;
  let s0 = k * L;
  let s1 = min(T, s0 + L);`;

/**
 * Float-float ("double-single") arithmetic for the chunk pairs and carries of the parallel scan: a
 * value is an unevaluated sum `hi + lo` of two f32 with `|lo| <= ulp(hi) / 2`, about 48 significant
 * bits, stored as `vec2<f32>(hi, lo)` (a complex value as `vec4<f32>(re.hi, re.lo, im.hi, im.lo)`).
 *
 * Why. Every chunk of a time-invariant `a` (an LRU's lambda) has the same product `A = a^L`, so in
 * float32 every chunk carries the same rounding of it and the carries drift coherently, about
 * `K L eps` over `K` chunks (`K sqrt(L) eps` for the random part of a product's error), where a
 * sequential loop's roundings add up like a random walk (`sqrt(T) eps`). Measured at |a| = 1,
 * T = 10^5, 316 chunks: 10x the sequential loop's error on h and on the gradient of a. Computed in
 * float-float, chunk products, chunk sums and carries are exact to about `T eps^2`; what is left is
 * the float32 re-run of each chunk from its carry (`sqrt(L) eps`, not carried across chunks).
 *
 * The error-free transformations (Knuth's TwoSum, Dekker's split and TwoProduct) need every operation
 * rounded as written, which WGSL does not promise:
 * - WGSL has no `precise`, and SPIR-V drivers simplify algebraically unless an operation is marked
 *   exact: Mesa's NIR (lavapipe, RADV, ANV...) folds `(a + b) - a` to `b`, which zeroes TwoSum's
 *   error term (measured: 3057 of 4096 random pairs wrong on lavapipe). Every `s - a` that recovers a
 *   rounding error therefore subtracts from `s * opaque_one()`, which no simplifier can see through.
 * - `fma` is not guaranteed fused (its accuracy is inherited from `a * b + c`), and on lavapipe and
 *   SwiftShader `fma(a, b, -a * b)` measured 0 instead of the product's rounding error. So products
 *   are split (Veltkamp, 4097 = 2^12 + 1) into 12-bit halves whose partial products are exact.
 *   Contraction of those partial products with the following add into an fma changes nothing (each
 *   product is exact); the split itself subtracts from `c * opaque_one()` so that `4097 a - a` is not
 *   contracted into one exactly rounded `4096 a`.
 * The conformance kit's |a| = 1 cases measure the result, so a driver that defeats these guards fails
 * them.
 */
const FF_HELPERS = /* wgsl */ `
// a + b = s + e exactly (Knuth). The '* opaque_one()' keeps 's - a' from being folded to 'b'.
fn ff_two_sum(a: f32, b: f32) -> vec2<f32> {
  let s = a + b;
  let bv = s * opaque_one() - a;
  return vec2<f32>(s, (a - (s - bv)) + (b - bv));
}
// a = hi + lo with hi holding the top 12 bits of the significand (Veltkamp).
fn ff_split(a: f32) -> vec2<f32> {
  let c = 4097.0 * a;
  let hi = c - (c * opaque_one() - a);
  return vec2<f32>(hi, a - hi);
}
// a * b = p + e exactly (Dekker): the four partial products of the halves are exact.
fn ff_two_prod(a: f32, b: f32) -> vec2<f32> {
  let p = a * b;
  let sa = ff_split(a);
  let sb = ff_split(b);
  return vec2<f32>(p, ((sa.x * sb.x - p) + sa.x * sb.y + sa.y * sb.x) + sa.y * sb.y);
}
// u * v in float-float (the lo * lo term, below 2^-46 of the product, is dropped). The final
// renormalisation may assume |p.x| >= |lo|: lo is below an ulp of p.x.
fn ff_mul(u: vec2<f32>, v: vec2<f32>) -> vec2<f32> {
  let p = ff_two_prod(u.x, v.x);
  let lo = p.y + (u.x * v.y + u.y * v.x);
  let s = p.x + lo;
  return vec2<f32>(s, lo - (s * opaque_one() - p.x));
}
// u * v + c in float-float (the lo * lo term, below 2^-46 of the product, is dropped).
fn ff_mul_add(u: vec2<f32>, v: vec2<f32>, c: vec2<f32>) -> vec2<f32> {
  let p = ff_two_prod(u.x, v.x);
  let s = ff_two_sum(p.x, c.x);
  let lo = (s.y + p.y) + ((u.x * v.y + u.y * v.x) + c.y);
  return ff_two_sum(s.x, lo);
}
// u * v + w * z + c in float-float: one part of a complex product.
fn ff_dot2_add(u: vec2<f32>, v: vec2<f32>, w: vec2<f32>, z: vec2<f32>, c: vec2<f32>) -> vec2<f32> {
  let p = ff_two_prod(u.x, v.x);
  let q = ff_two_prod(w.x, z.x);
  let s = ff_two_sum(p.x, q.x);
  let t = ff_two_sum(s.x, c.x);
  let lo = ((s.y + t.y) + (p.y + q.y)) + (((u.x * v.y + u.y * v.x) + (w.x * z.y + w.y * z.x)) + c.y);
  return ff_two_sum(t.x, lo);
}
// u * v for complex float-float values (re.hi, re.lo, im.hi, im.lo).
fn cff_mul(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(
    ff_dot2_add(u.xy, v.xy, u.zw, -v.zw, vec2<f32>(0.0)),
    ff_dot2_add(u.xy, v.zw, u.zw, v.xy, vec2<f32>(0.0)),
  );
}
// u * v + c for complex float-float values.
fn cff_mul_add(u: vec4<f32>, v: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(ff_dot2_add(u.xy, v.xy, u.zw, -v.zw, c.xy), ff_dot2_add(u.xy, v.zw, u.zw, v.xy, c.zw));
}
`;

/**
 * How a scan kernel reads `a` and `x` as float-float values: from float32 tensors (the top level:
 * `lo = 0`; real and imaginary parts in separate bindings) or from float-float chunk pairs (the levels
 * below, one binding each).
 */
function scanOperands(complex: boolean, ff: boolean) {
  const ffType = complex ? 'vec4<f32>' : 'vec2<f32>';
  if (ff) {
    return {
      ffType,
      ins: [
        { name: 'a', type: ffType },
        { name: 'x', type: ffType },
      ],
      readA: (i: string) => `a[${i}]`,
      readX: (i: string) => `x[${i}]`,
    };
  }
  if (!complex) {
    return {
      ffType,
      ins: [
        { name: 'a', type: 'f32' },
        { name: 'x', type: 'f32' },
      ],
      readA: (i: string) => `vec2<f32>(a[${i}], 0.0)`,
      readX: (i: string) => `vec2<f32>(x[${i}], 0.0)`,
    };
  }
  return {
    ffType,
    ins: [
      { name: 'aRe', type: 'f32' },
      { name: 'aIm', type: 'f32' },
      { name: 'xRe', type: 'f32' },
      { name: 'xIm', type: 'f32' },
    ],
    readA: (i: string) => `vec4<f32>(aRe[${i}], 0.0, aIm[${i}], 0.0)`,
    readX: (i: string) => `vec4<f32>(xRe[${i}], 0.0, xIm[${i}], 0.0)`,
  };
}

/** The float-float constants 0 and 1 and the multiply-add of a scan's element type. */
function ffOps(complex: boolean) {
  return complex
    ? { zero: 'vec4<f32>(0.0)', one: 'vec4<f32>(1.0, 0.0, 0.0, 0.0)', mul: 'cff_mul', mulAdd: 'cff_mul_add' }
    : { zero: 'vec2<f32>(0.0)', one: 'vec2<f32>(1.0, 0.0)', mul: 'ff_mul', mulAdd: 'ff_mul_add' };
}

/**
 * Scan phase 1 (reduce): each invocation composes the pairs `(a_t, x_t)` of its chunk into one pair
 * `(A, Bv)` with `(a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2)`, in float-float, written at
 * `[b, k, c]`. `ff`: the operands are float-float chunk pairs (a level below the top) rather than the
 * float32 tensors.
 */
export function scanReduceKernel(wg: number, complex: boolean, ff: boolean): KernelSource {
  const o = scanOperands(complex, ff);
  const f = ffOps(complex);
  return elementKernel(
    wg,
    o.ins,
    [
      { name: 'outA', type: o.ffType },
      { name: 'outB', type: o.ffType },
    ],
    `${SCAN_INDEX}
  var pa = ${f.one};
  var pb = ${f.zero};
  if (aST == 0u) {
    // Time-invariant a (an LRU's lambda): A = a^L by squaring, ~2 log2(L) products instead of L.
    let av = ${o.readA('b * aSB + c')};
    var base = av;
    var n = s1 - s0;
    loop {
      if ((n & 1u) != 0u) { pa = ${f.mul}(pa, base); }
      n = n >> 1u;
      if (n == 0u) { break; }
      base = ${f.mul}(base, base);
    }
    for (var s = s0; s < s1; s = s + 1u) {
      let t = select(s, T - 1u - s, rev);
      pb = ${f.mulAdd}(av, pb, ${o.readX('(b * T + t) * C + c')});
    }
  } else {
    for (var s = s0; s < s1; s = s + 1u) {
      let t = select(s, T - 1u - s, rev);
      let av = ${o.readA('b * aSB + t * aST + c')};
      pa = ${f.mul}(av, pa);
      pb = ${f.mulAdd}(av, pb, ${o.readX('(b * T + t) * C + c')});
    }
  }
  outA[i] = pa;
  outB[i] = pb;`,
    FF_HELPERS,
  );
}

/**
 * Scan phase 3 at the top level (and the whole sequential scan when `K = 1`): each invocation runs
 * the recurrence in float32 over its chunk of the float32 tensors from its carry-in `carry[b, k, c]`
 * (0 when `hasCarry` is 0) and writes `h`. `ffCarry`: the carries are float-float (from the chunked
 * plan; the chunk starts from the carry rounded to float32) rather than a float32 `h0`.
 */
export function scanChunkKernel(wg: number, complex: boolean, ffCarry: boolean): KernelSource {
  if (!complex) {
    return elementKernel(
      wg,
      [
        { name: 'a', type: 'f32' },
        { name: 'x', type: 'f32' },
        { name: 'carry', type: ffCarry ? 'vec2<f32>' : 'f32' },
      ],
      [{ name: 'h', type: 'f32' }],
      `${SCAN_INDEX}
  var hv = 0.0;
  if (prm(8u) != 0u) { hv = carry[i]${ffCarry ? '.x' : ''}; }
  for (var s = s0; s < s1; s = s + 1u) {
    let t = select(s, T - 1u - s, rev);
    hv = a[b * aSB + t * aST + c] * hv + x[(b * T + t) * C + c];
    h[(b * T + t) * C + c] = hv;
  }`,
    );
  }
  const carries = ffCarry
    ? [{ name: 'carry', type: 'vec4<f32>' }]
    : [
        { name: 'carryRe', type: 'f32' },
        { name: 'carryIm', type: 'f32' },
      ];
  return elementKernel(
    wg,
    [
      { name: 'aRe', type: 'f32' },
      { name: 'aIm', type: 'f32' },
      { name: 'xRe', type: 'f32' },
      { name: 'xIm', type: 'f32' },
      ...carries,
    ],
    [
      { name: 'hRe', type: 'f32' },
      { name: 'hIm', type: 'f32' },
    ],
    `${SCAN_INDEX}
  var hr = 0.0;
  var hi = 0.0;
  if (prm(8u) != 0u) {
${ffCarry ? '    hr = carry[i].x;\n    hi = carry[i].z;' : '    hr = carryRe[i];\n    hi = carryIm[i];'}
  }
  for (var s = s0; s < s1; s = s + 1u) {
    let t = select(s, T - 1u - s, rev);
    let ai = b * aSB + t * aST + c;
    let xi = (b * T + t) * C + c;
    let ar = aRe[ai];
    let aim = aIm[ai];
    let nr = ar * hr - aim * hi + xRe[xi];
    let ni = ar * hi + aim * hr + xIm[xi];
    hr = nr;
    hi = ni;
    hRe[xi] = hr;
    hIm[xi] = hi;
  }`,
  );
}

/**
 * Scan phase 3 below the top level (the scan of chunk pairs into carries), in float-float: each
 * invocation runs the recurrence over its chunk from `carry[b, k, c]` (0 when `hasCarry` is 0). With
 * `shift` (how the levels below the top compute the *exclusive* scan of the chunk pairs, always
 * forward) the state after step `s` goes to position `s + 1` and chunk 0 also writes its carry-in at
 * position 0.
 */
export function scanChunkFFKernel(wg: number, complex: boolean): KernelSource {
  const o = scanOperands(complex, true);
  const f = ffOps(complex);
  return elementKernel(
    wg,
    [...o.ins, { name: 'carry', type: o.ffType }],
    [{ name: 'h', type: o.ffType }],
    `${SCAN_INDEX}
  let shift = prm(9u) != 0u;
  var hv = ${f.zero};
  if (prm(8u) != 0u) { hv = carry[i]; }
  if (shift && k == 0u) { h[b * T * C + c] = hv; }
  for (var s = s0; s < s1; s = s + 1u) {
    let t = select(s, T - 1u - s, rev);
    hv = ${f.mulAdd}(a[b * aSB + t * aST + c], hv, x[(b * T + t) * C + c]);
    if (!shift) {
      h[(b * T + t) * C + c] = hv;
    } else if (t + 1u < T) {
      h[(b * T + t + 1u) * C + c] = hv;
    }
  }`,
    FF_HELPERS,
  );
}

/**
 * Float32 values (one binding, or real and imaginary parts) to float-float (`lo = 0`): how `h0`
 * enters the float-float scan of the carries. Params: `[n]`.
 */
export function scanPackKernel(wg: number, complex: boolean): KernelSource {
  return complex
    ? elementKernel(
        wg,
        [
          { name: 're', type: 'f32' },
          { name: 'im', type: 'f32' },
        ],
        [{ name: 'y', type: 'vec4<f32>' }],
        `  if (i >= prm(0u)) { return; }
  y[i] = vec4<f32>(re[i], 0.0, im[i], 0.0);`,
      )
    : elementKernel(
        wg,
        [{ name: 'x', type: 'f32' }],
        [{ name: 'y', type: 'vec2<f32>' }],
        `  if (i >= prm(0u)) { return; }
  y[i] = vec2<f32>(x[i], 0.0);`,
      );
}

/**
 * A self-test of the float-float building blocks on the device: for each pair `x[i] = (a, b)` writes
 * `(TwoSum(a, b), TwoProduct(a, b))` as `vec4(s, e, p, f)`. Both must be exact (`s + e = a + b`,
 * `p + f = a * b`) whatever the driver's compiler does, or the scan's compensation is lost; the test
 * suite checks them bit for bit. Params: `[n]`.
 */
export function ffSelfTestKernel(wg: number): KernelSource {
  return elementKernel(
    wg,
    [{ name: 'x', type: 'vec2<f32>' }],
    [{ name: 'y', type: 'vec4<f32>' }],
    `  if (i >= prm(0u)) { return; }
  let v = x[i];
  y[i] = vec4<f32>(ff_two_sum(v.x, v.y), ff_two_prod(v.x, v.y));`,
    FF_HELPERS,
  );
}
