/**
 * Float64 host references of the primitives, written for clarity rather than speed: every output
 * element is computed from its multi-index, independently of how a backend walks memory. The kit
 * compares backends against these.
 */
import type { MatmulSpec } from '../backend.js';
import { sizeOf, stridesOf } from '../shape.js';
import type { HostTensor } from './context.js';

/** A host tensor from values and a shape (values copied to float64). */
export function host(values: ArrayLike<number>, shape: readonly number[]): HostTensor {
  if (values.length !== sizeOf(shape)) throw new Error(`host: ${values.length} values for shape [${shape}]`);
  return { values: Float64Array.from(values), shape: [...shape] };
}

/** The multi-index of flat index `i` in a row-major `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d];
    idx[d] = n === 0 ? 0 : i % n;
    i = n === 0 ? 0 : Math.floor(i / n);
  }
  return idx;
}

/** The flat index of a multi-index in a row-major `shape`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let d = 0; d < shape.length; d++) f = f * shape[d] + idx[d];
  return f;
}

/** NumPy broadcast of several shapes (assumed compatible). */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = s[i];
      const o = rank - s.length + i;
      if (d !== 1) out[o] = d;
    }
  }
  return out;
}

/** The value of `x` at output multi-index `idx` of a broadcast of `x`. */
function at(x: HostTensor, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  let f = 0;
  for (let d = 0; d < x.shape.length; d++) f = f * x.shape[d] + (x.shape[d] === 1 ? 0 : idx[off + d]);
  return x.values[f];
}

/** Elementwise map of one tensor. */
export function map1(x: HostTensor, f: (v: number) => number): HostTensor {
  return { values: x.values.map(f), shape: x.shape };
}

/** Elementwise map of broadcast operands. */
export function mapN(xs: readonly HostTensor[], f: (...v: number[]) => number): HostTensor {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(...xs.map((x) => at(x, idx)));
  }
  return { values: out, shape };
}

/** Reduction over `axes` (sorted) with an initial value and combiner; `keepDims` keeps size-1 axes. */
export function reduceRef(
  x: HostTensor,
  axes: readonly number[],
  init: number,
  f: (acc: number, v: number) => number,
  keepDims = false,
): HostTensor {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(kept)).fill(init);
  for (let i = 0; i < x.values.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const o = ravel(idx, kept);
    out[o] = f(out[o], x.values[i]);
  }
  return { values: out, shape: keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i)) };
}

/** Index of the first maximum (or minimum) along `axis`. */
export function argRef(x: HostTensor, axis: number, pickMax: boolean): HostTensor {
  const outShape = x.shape.filter((_, i) => i !== axis);
  const out = new Float64Array(sizeOf(outShape));
  const best = new Float64Array(out.length).fill(pickMax ? -Infinity : Infinity);
  const seen = new Uint8Array(out.length);
  for (let i = 0; i < x.values.length; i++) {
    const idx = unravel(i, x.shape);
    const k = idx[axis];
    const o = ravel(
      idx.filter((_, d) => d !== axis),
      outShape,
    );
    const v = x.values[i];
    // Row-major order visits k in increasing order for a fixed output, so strict comparison keeps the first.
    if (!seen[o] || (pickMax ? v > best[o] : v < best[o])) {
      best[o] = v;
      out[o] = k;
      seen[o] = 1;
    }
  }
  return { values: out, shape: outShape };
}

/** NumPy `matmul` of host tensors (1-D operands are vectors). */
export function matmulRef(a: HostTensor, b: HostTensor): HostTensor {
  const a2 = a.shape.length === 1 ? { values: a.values, shape: [1, a.shape[0]] } : a;
  const b2 = b.shape.length === 1 ? { values: b.values, shape: [b.shape[0], 1] } : b;
  const [m, k] = a2.shape.slice(-2);
  const n = b2.shape[b2.shape.length - 1];
  const batch = broadcastShape(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const bi = idx.slice(0, -2);
    const r = idx[idx.length - 2];
    const c = idx[idx.length - 1];
    let s = 0;
    for (let q = 0; q < k; q++) s += at(a2, [...bi, r, q]) * at(b2, [...bi, q, c]);
    out[i] = s;
  }
  let finalShape = shape;
  if (a.shape.length === 1) finalShape = [...finalShape.slice(0, -2), n];
  if (b.shape.length === 1) finalShape = finalShape.slice(0, -1);
  return { values: out, shape: finalShape };
}

/** Permutes dimensions. */
export function transposeRef(x: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]);
  const out = new Float64Array(x.values.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, d) => {
      src[p] = idx[d];
    });
    out[i] = x.values[ravel(src, x.shape)];
  }
  return { values: out, shape };
}

/** `x[b0:e0:s0, ...]` with non-negative, in-range bounds. */
export function sliceRef(
  x: HostTensor,
  begin: readonly number[],
  end: readonly number[],
  step: readonly number[],
): HostTensor {
  const shape = x.shape.map((_, d) => Math.max(0, Math.ceil((end[d] - begin[d]) / step[d])));
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape).map((v, d) => begin[d] + v * step[d]);
    out[i] = x.values[ravel(idx, x.shape)];
  }
  return { values: out, shape };
}

/** Strided gather: `out[idx] = x.flat[offset + sum idx[d] * strides[d]]`. */
export function stridedRef(
  x: HostTensor,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): HostTensor {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let f = offset;
    for (let d = 0; d < shape.length; d++) f += idx[d] * strides[d];
    out[i] = x.values[f];
  }
  return { values: out, shape: [...shape] };
}

/** Constant padding. */
export function padRef(
  x: HostTensor,
  widths: readonly (readonly [number, number])[],
  value: number,
): HostTensor {
  const shape = x.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  const out = new Float64Array(sizeOf(shape)).fill(value);
  for (let i = 0; i < x.values.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => v + widths[d][0]);
    out[ravel(idx, shape)] = x.values[i];
  }
  return { values: out, shape };
}

/** Concatenation along `axis`. */
export function concatRef(xs: readonly HostTensor[], axis: number): HostTensor {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const out = new Float64Array(sizeOf(shape));
  let at0 = 0;
  for (const x of xs) {
    for (let i = 0; i < x.values.length; i++) {
      const idx = unravel(i, x.shape);
      idx[axis] += at0;
      out[ravel(idx, shape)] = x.values[i];
    }
    at0 += x.shape[axis];
  }
  return { values: out, shape };
}

/** `take(x, indices, axis)`. */
export function takeRef(x: HostTensor, indices: HostTensor, axis: number): HostTensor {
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = new Float64Array(sizeOf(shape));
  const r = indices.shape.length;
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const j = ravel(idx.slice(axis, axis + r), indices.shape);
    const src = [...idx.slice(0, axis), indices.values[j], ...idx.slice(axis + r)];
    out[i] = x.values[ravel(src, x.shape)];
  }
  return { values: out, shape };
}

/** Adjoint of `take`: zeros of `x.shape` with `g` added at the gathered positions. */
export function scatterAddRef(g: HostTensor, indices: HostTensor, axis: number, size: number): HostTensor {
  const r = indices.shape.length;
  const shape = [...g.shape.slice(0, axis), size, ...g.shape.slice(axis + r)];
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < g.values.length; i++) {
    const idx = unravel(i, g.shape);
    const j = ravel(idx.slice(axis, axis + r), indices.shape);
    const dst = [...idx.slice(0, axis), indices.values[j], ...idx.slice(axis + r)];
    out[ravel(dst, shape)] += g.values[i];
  }
  return { values: out, shape };
}

/** Row-major strides (re-exported for suites that build strided views by hand). */
export const contiguousStrides = stridesOf;

/** Softmax along the last axis. */
export function softmaxRef(x: HostTensor): HostTensor {
  const n = x.shape[x.shape.length - 1];
  const out = new Float64Array(x.values.length);
  for (let r = 0; r < x.values.length / n; r++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x.values[r * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x.values[r * n + j] - m);
    for (let j = 0; j < n; j++) out[r * n + j] = Math.exp(x.values[r * n + j] - m) / s;
  }
  return { values: out, shape: x.shape };
}

/** Log-softmax along the last axis. */
export function logSoftmaxRef(x: HostTensor): HostTensor {
  const n = x.shape[x.shape.length - 1];
  const out = new Float64Array(x.values.length);
  for (let r = 0; r < x.values.length / n; r++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x.values[r * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x.values[r * n + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < n; j++) out[r * n + j] = x.values[r * n + j] - lse;
  }
  return { values: out, shape: x.shape };
}

/** Per-row statistics over the last axis: mean and population variance. */
export function rowStats(x: HostTensor): { mean: Float64Array; variance: Float64Array; n: number } {
  const n = x.shape[x.shape.length - 1];
  const rows = x.values.length / n;
  const mean = new Float64Array(rows);
  const variance = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += x.values[r * n + j];
    mean[r] = s / n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x.values[r * n + j] - mean[r]) ** 2;
    variance[r] = v / n;
  }
  return { mean, variance, n };
}

/**
 * The backend `matmul` primitive in float64, read straight off `MatmulSpec`'s storage conventions
 * (batch strides, transposed layouts): a reference for kernel-level tests of a backend.
 *
 * @param a - The left operand values.
 * @param b - The right operand values.
 * @param s - The matmul spec, as the backend receives it.
 */
export function kernelMatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, s: MatmulSpec): Float64Array {
  const out = new Float64Array(s.batch * s.m * s.n);
  let o = 0;
  for (let p = 0; p < s.batch; p++) {
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let acc = 0;
        for (let q = 0; q < s.k; q++) {
          const av = a[p * s.aBatchStride + (s.transposeA ? q * s.m + i : i * s.k + q)];
          const bv = b[p * s.bBatchStride + (s.transposeB ? j * s.k + q : q * s.n + j)];
          acc += av * bv;
        }
        out[o++] = acc;
      }
    }
  }
  return out;
}
