/**
 * The gpu.js kernel sources of the backend and the cache that compiles each once.
 *
 * Design: a gpu.js kernel is a JavaScript function that gpu.js translates (GLSL for WebGL, a JS
 * function for its CPU mode, WebAssembly for `webasm`) and runs once per output element, reading
 * `this.thread.x`. Every kernel here has a 1-D output (the flat row-major index) and takes shapes,
 * strides and sizes as arguments, so a new shape never compiles a new kernel: only the operation and
 * the rank, which bounds the loop that turns the flat index into coordinates, are baked in (as
 * `this.constants.rank`). The sources are strings rather than TypeScript functions because gpu.js
 * parses `fn.toString()`, and a transpiler or minifier rewriting a function body (helpers, renamed
 * variables) would break the translation in ways no type checker sees.
 *
 * Integer arithmetic on floats: WebGL computes in float32, where integers are exact up to 2^24.
 * The backend sends no index, size or offset at or above 2^24 to a kernel (such work runs on the host,
 * see backend.ts), and every integer division is corrected by one step either way (`DIV`), because
 * `floor(r / s)` of float32 operands may land one off when `r / s` rounds up to an integer.
 *
 * Transcendental functions are written from `exp` and `log` in forms that stay accurate in float32:
 * `log1p` and `expm1` use Kahan's correction `log(u) * x / (u - 1)`, `tanh` is built on that `expm1`
 * (the textbook `(1 - e) / (1 + e)` loses every digit near 0), and `sigmoid` never exponentiates a
 * positive number, so it saturates to 0 or 1 instead of giving NaN.
 */
import type { BinaryOp, ReduceOp, UnaryOp } from '@mru/core';

/**
 * `q = floor(r / s)` for non-negative integers `r < 2^24`, `s >= 1`, exact on float32 GPUs: the
 * quotient is computed in floating point and corrected by one in either direction (products of
 * integers below 2^24 are exact).
 */
function DIV(q: string, r: string, s: string): string {
  return `let ${q} = Math.floor(${r} / ${s});
    if (${q} * ${s} > ${r}) { ${q} = ${q} - 1; }
    if ((${q} + 1) * ${s} <= ${r}) { ${q} = ${q} + 1; }`;
}

/**
 * The loop that walks the coordinates of output element `this.thread.x` over `shape` (innermost
 * first) and accumulates `off_k += coord * strides_k[d]` for each named stride array.
 */
function WALK(shape: string, strideArrays: readonly string[], offsets: readonly string[]): string {
  return `let rem = this.thread.x;
    for (let d = this.constants.rank - 1; d >= 0; d--) {
      const dim = ${shape}[d];
      ${DIV('quot', 'rem', 'dim')}
      const coord = rem - quot * dim;
      ${strideArrays.map((s, i) => `${offsets[i]} = ${offsets[i]} + coord * ${s}[d];`).join('\n      ')}
      rem = quot;
    }`;
}

/**
 * `sin` and `cos` of the reduced argument: `v = k pi/2 + r` with `|r| <= pi/4` (Cody-Waite: pi/2 in
 * three parts, the first with few enough bits that `k * part` is exact), `q = k mod 4` the quadrant,
 * and Cephes' float32 polynomials for `sin r` (`sr`) and `cos r` (`cr`). GLSL's built-in `sin`/`cos`
 * may be far less accurate (SwiftShader's err by 2e-4 on [-3, 3]; the contract asks for 1e-5).
 */
const SINCOS = `const k = Math.floor(v * 0.6366197723675814 + 0.5);
    const r = ((v - k * 1.5703125) - k * 0.0004837512969970703) - k * 0.00000007549789954891882;
    const z = r * r;
    const sr = r + r * z * (-0.16666654611 + z * (0.0083321608736 + z * -0.00019515295891));
    const cr = 1 - 0.5 * z + z * z * (0.04166664568298827 + z * (-0.001388731625493765 + z * 0.00002443315711809948));
    const q = k - 4 * Math.floor(k / 4);`;

/** The value expression of a float32 unary op applied to `v`. */
function unaryExpr(op: UnaryOp): string {
  switch (op) {
    case 'neg':
      return 'return -v;';
    case 'abs':
      return 'return Math.abs(v);';
    case 'sign':
      return 'if (v > 0) { return 1; } if (v < 0) { return -1; } return v;';
    case 'exp':
      return 'return Math.exp(v);';
    case 'log':
      return 'return Math.log(v);';
    case 'log1p':
      // Kahan: u = 1 + v rounded; log(u) * v / (u - 1) cancels the rounding of u.
      return 'const u = 1 + v; if (u == 1) { return v; } return Math.log(u) * v / (u - 1);';
    case 'sqrt':
      return 'return Math.sqrt(v);';
    case 'tanh':
      // tanh|v| = -expm1(-2|v|) / (2 + expm1(-2|v|)), expm1 by Kahan's correction.
      return `const y = -2 * Math.abs(v);
    const u = Math.exp(y);
    let em = y;
    if (u != 1) { em = (u - 1) * y / Math.log(u); }
    if (u == 0) { em = -1; }
    const t = -em / (2 + em);
    if (v < 0) { return -t; }
    if (v > 0) { return t; }
    return v;`;
    case 'sigmoid':
      return `if (v >= 0) { return 1 / (1 + Math.exp(-v)); }
    const e = Math.exp(v);
    return e / (1 + e);`;
    case 'sin':
      return `${SINCOS}
    if (q == 0) { return sr; }
    if (q == 1) { return cr; }
    if (q == 2) { return -sr; }
    return -cr;`;
    case 'cos':
      return `${SINCOS}
    if (q == 0) { return cr; }
    if (q == 1) { return -sr; }
    if (q == 2) { return -cr; }
    return sr;`;
    case 'floor':
      return 'return Math.floor(v);';
    case 'not':
      throw new Error('not is a bool op and runs on the host');
  }
}

/** Source of a flat unary kernel: `out[i] = op(x[i])`. */
export function unarySource(op: UnaryOp): string {
  return `function (x) {
    const v = x[this.thread.x];
    ${unaryExpr(op)}
  }`;
}

/** The value expression of a float32 binary op on `p` and `q` (comparisons give 1 or 0). */
function binaryExpr(op: BinaryOp): string {
  switch (op) {
    case 'add':
      return 'return p + q;';
    case 'sub':
      return 'return p - q;';
    case 'mul':
      return 'return p * q;';
    case 'div':
      return 'return p / q;';
    case 'pow':
      return 'return Math.pow(p, q);';
    case 'maximum':
      // NaN propagates: a NaN operand compares false both ways and is returned as itself.
      return 'if (p != p) { return p; } if (q != q) { return q; } if (p > q) { return p; } return q;';
    case 'minimum':
      return 'if (p != p) { return p; } if (q != q) { return q; } if (p < q) { return p; } return q;';
    case 'eq':
      return 'if (p == q) { return 1; } return 0;';
    case 'ne':
      return 'if (p != q) { return 1; } return 0;';
    case 'lt':
      return 'if (p < q) { return 1; } return 0;';
    case 'le':
      return 'if (p <= q) { return 1; } return 0;';
    case 'gt':
      return 'if (p > q) { return 1; } return 0;';
    case 'ge':
      return 'if (p >= q) { return 1; } return 0;';
    case 'and':
    case 'or':
      throw new Error(`${op} is a bool op and runs on the host`);
  }
}

/** Source of a broadcasting binary kernel of the given rank. */
export function binarySource(op: BinaryOp): string {
  return `function (a, b, shape, sa, sb) {
    let oa = 0;
    let ob = 0;
    ${WALK('shape', ['sa', 'sb'], ['oa', 'ob'])}
    const p = a[oa];
    const q = b[ob];
    ${binaryExpr(op)}
  }`;
}

/** Source of a broadcasting `where` kernel (the condition arrives as 0/1 floats). */
export function whereSource(): string {
  return `function (c, a, b, shape, sc, sa, sb) {
    let oc = 0;
    let oa = 0;
    let ob = 0;
    ${WALK('shape', ['sc', 'sa', 'sb'], ['oc', 'oa', 'ob'])}
    if (c[oc] != 0) { return a[oa]; }
    return b[ob];
  }`;
}

/** Source of the strided copy: `out[i] = x[offset + sum_d coord_d * strides[d]]`. */
export function stridedSource(): string {
  return `function (x, shape, strides, offset) {
    let o = offset;
    ${WALK('shape', ['strides'], ['o'])}
    return x[o];
  }`;
}

/** Source of constant padding: coordinates outside `[before, before + inShape)` give `value`. */
export function padSource(): string {
  return `function (x, shape, before, inShape, inStrides, value) {
    let rem = this.thread.x;
    let o = 0;
    let inside = 1;
    for (let d = this.constants.rank - 1; d >= 0; d--) {
      const dim = shape[d];
      ${DIV('quot', 'rem', 'dim')}
      const c = rem - quot * dim - before[d];
      if (c < 0 || c >= inShape[d]) { inside = 0; }
      o = o + c * inStrides[d];
      rem = quot;
    }
    if (inside == 0) { return value; }
    return x[o];
  }`;
}

/**
 * Source of a two-operand concatenation over the geometry `[outer, n0 + n1, inner]`; longer lists
 * are folded pairwise by the backend.
 */
export function concatSource(): string {
  return `function (x0, x1, n0, n1, inner) {
    const i = this.thread.x;
    const row = (n0 + n1) * inner;
    ${DIV('p', 'i', 'row')}
    const r = i - p * row;
    ${DIV('l', 'r', 'inner')}
    const q = r - l * inner;
    if (l < n0) { return x0[(p * n0 + l) * inner + q]; }
    return x1[(p * n1 + l - n0) * inner + q];
  }`;
}

/** Source of gather over `[pre, axisLen, post]` with `nIdx` flat (pre-checked) indices. */
export function gatherSource(): string {
  return `function (x, idx, axisLen, nIdx, post) {
    const i = this.thread.x;
    const row = nIdx * post;
    ${DIV('p', 'i', 'row')}
    const r = i - p * row;
    ${DIV('j', 'r', 'post')}
    const q = r - j * post;
    return x[(p * axisLen + idx[j]) * post + q];
  }`;
}

/**
 * Source of scatter-add over updates `[pre, nIdx, post]` into `[pre, size, post]`: each output slot
 * adds, in index order, the updates whose index names it. Deterministic, and equal to a sequential
 * float32 loop on float32 devices; the loop over indices is bounded by `loopMaxIterations`.
 */
export function scatterAddSource(): string {
  return `function (u, idx, size, nIdx, post) {
    const i = this.thread.x;
    const row = size * post;
    ${DIV('p', 'i', 'row')}
    const r = i - p * row;
    ${DIV('s', 'r', 'post')}
    const q = r - s * post;
    let acc = 0;
    for (let j = 0; j < nIdx; j++) {
      if (idx[j] == s) { acc = acc + u[(p * nIdx + j) * post + q]; }
    }
    return acc;
  }`;
}

/**
 * Source of a row reduction: the input is `[rows, len]` (the backend moves the reduced axes last)
 * and `out[r]` reduces row `r`. Sums are compensated (Kahan), max and min propagate NaN.
 */
export function reduceSource(op: ReduceOp): string {
  if (op === 'sum') {
    return `function (x, len) {
    const base = this.thread.x * len;
    let s = 0;
    let c = 0;
    for (let j = 0; j < len; j++) {
      const y = x[base + j] - c;
      const t = s + y;
      c = (t - s) - y;
      s = t;
    }
    return s;
  }`;
  }
  const better = op === 'max' ? 'v > m' : 'v < m';
  return `function (x, len) {
    const base = this.thread.x * len;
    let m = x[base];
    let nanAt = -1;
    for (let j = 0; j < len; j++) {
      const v = x[base + j];
      if (v != v) { nanAt = j; }
      if (${better}) { m = v; }
    }
    if (nanAt >= 0) { return x[base + nanAt]; }
    return m;
  }`;
}

/** Source of argmax/argmin over rows `[rows, len]`: the first extreme index, the first NaN wins. */
export function argReduceSource(op: 'argmax' | 'argmin'): string {
  const better = op === 'argmax' ? 'v > m' : 'v < m';
  return `function (x, len) {
    const base = this.thread.x * len;
    let m = x[base];
    let best = 0;
    let found = 0;
    if (m != m) { found = 1; }
    for (let j = 1; j < len; j++) {
      const v = x[base + j];
      if (found == 0) {
        if (v != v) { found = 1; best = j; }
        if (${better}) { m = v; best = j; }
      }
    }
    return best;
  }`;
}

/** Source of the batched matmul (see `MatmulSpec`; flags and batch strides are arguments). */
export function matmulSource(): string {
  return `function (a, b, m, k, n, aBatchStride, bBatchStride, transposeA, transposeB) {
    const i = this.thread.x;
    const mat = m * n;
    ${DIV('p', 'i', 'mat')}
    const r = i - p * mat;
    ${DIV('row', 'r', 'n')}
    const col = r - row * n;
    let aOff = p * aBatchStride + row * k;
    let aStep = 1;
    if (transposeA > 0) { aOff = p * aBatchStride + row; aStep = m; }
    let bOff = p * bBatchStride + col;
    let bStep = n;
    if (transposeB > 0) { bOff = p * bBatchStride + col * k; bStep = 1; }
    let acc = 0;
    for (let j = 0; j < k; j++) {
      acc = acc + a[aOff + j * aStep] * b[bOff + j * bStep];
    }
    return acc;
  }`;
}

/**
 * Source of the apply pass of the real scan: element `(b, t, c)` starts from the carry of its chunk
 * (the state before the chunk's first step) and runs the recurrence sequentially up to its step.
 * With one chunk this is the direct plan, each element walking from the first step.
 */
export function scanApplySource(): string {
  return `function (a, x, carry, lanes, channels, time, len, aBs, aTs, reverse) {
    const i = this.thread.x;
    const row = time * channels;
    ${DIV('b', 'i', 'row')}
    const r = i - b * row;
    ${DIV('t', 'r', 'channels')}
    const c = r - t * channels;
    const lane = b * channels + c;
    let s = t;
    if (reverse > 0) { s = time - 1 - t; }
    ${DIV('chunk', 's', 'len')}
    let h = carry[chunk * lanes + lane];
    const first = chunk * len;
    const count = s - first + 1;
    for (let j = 0; j < count; j++) {
      let tt = first + j;
      if (reverse > 0) { tt = time - 1 - tt; }
      h = a[b * aBs + tt * aTs + c] * h + x[(b * time + tt) * channels + c];
    }
    return h;
  }`;
}

/**
 * Complex apply pass: output `[2, B, T, C]`, real parts then imaginary parts; each element runs the
 * complex recurrence from its chunk's carry (`carry` holds `half` real parts, then the imaginary
 * parts).
 */
export function complexScanApplySource(): string {
  return `function (aRe, aIm, xRe, xIm, carry, half, lanes, channels, time, len, aBs, aTs, reverse) {
    const i = this.thread.x;
    const total = lanes * time;
    ${DIV('part', 'i', 'total')}
    const e = i - part * total;
    const row = time * channels;
    ${DIV('b', 'e', 'row')}
    const r = e - b * row;
    ${DIV('t', 'r', 'channels')}
    const c = r - t * channels;
    const lane = b * channels + c;
    let s = t;
    if (reverse > 0) { s = time - 1 - t; }
    ${DIV('chunk', 's', 'len')}
    let hr = carry[chunk * lanes + lane];
    let hi = carry[half + chunk * lanes + lane];
    const first = chunk * len;
    const count = s - first + 1;
    for (let j = 0; j < count; j++) {
      let tt = first + j;
      if (reverse > 0) { tt = time - 1 - tt; }
      const ai = b * aBs + tt * aTs + c;
      const xi = (b * time + tt) * channels + c;
      const ar = aRe[ai];
      const am = aIm[ai];
      const nr = ar * hr - am * hi + xRe[xi];
      const ni = ar * hi + am * hr + xIm[xi];
      hr = nr;
      hi = ni;
    }
    if (part == 0) { return hr; }
    return hi;
  }`;
}
