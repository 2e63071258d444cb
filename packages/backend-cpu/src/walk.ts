/**
 * The N-d index walk every strided CPU kernel is built on.
 *
 * Design: a kernel describes each operand by a stride per output dimension (0 where the operand is
 * broadcast) and an offset. `coalesce` first drops size-1 dimensions and merges neighbours that are
 * contiguous in every operand, so the common cases collapse to one long row: same-shape contiguous
 * operands become a single dimension, a scalar operand a single dimension of stride 0. `forEachRow`
 * then walks the outer dimensions with an odometer (one add per operand per step, no division or
 * modulo per element) and hands each innermost row to a callback, whose tight loop is where the time
 * goes. The per-row callback cost is amortised over the row length.
 */

/** Dimensions and per-operand strides after `coalesce`. Always rank >= 1. */
export interface Layout {
  /** Extents, outermost first; the last one is the row length. */
  readonly shape: number[];
  /** `strides[k][d]`: elements operand `k` advances per step of dimension `d`. */
  readonly strides: number[][];
}

/**
 * Simplifies a walk of `shape` over operands with the given strides: drops extent-1 dimensions and
 * merges dimension `d` into `d + 1` whenever every operand satisfies
 * `stride[d] === stride[d + 1] * shape[d + 1]` (true for contiguous runs and for runs broadcast in
 * both). Visiting order and addresses are unchanged. A walk of one element yields shape `[1]`.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Layout {
  const k = strides.length;
  // Built innermost first, reversed at the end.
  const outShape: number[] = [];
  const outStrides: number[][] = Array.from({ length: k }, () => []);
  for (let d = shape.length - 1; d >= 0; d--) {
    const extent = shape[d];
    if (extent === 1) continue;
    const last = outShape.length - 1;
    let mergeable = last >= 0;
    for (let q = 0; q < k && mergeable; q++) {
      if (strides[q][d] !== outStrides[q][last] * outShape[last]) mergeable = false;
    }
    if (mergeable) {
      outShape[last] *= extent;
    } else {
      outShape.push(extent);
      for (let q = 0; q < k; q++) outStrides[q].push(strides[q][d]);
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (let q = 0; q < k; q++) outStrides[q].push(0);
  }
  outShape.reverse();
  for (const s of outStrides) s.reverse();
  return { shape: outShape, strides: outStrides };
}

/** Called once per innermost row with the start offset of each operand (unused operands get 0). */
export type RowCallback = (o0: number, o1: number, o2: number, o3: number) => void;

const NO_STRIDES: number[] = [];

/**
 * Visits every innermost row of `layout` (up to four operands) in row-major order. The row length and
 * the innermost strides are `layout.shape.at(-1)` and `layout.strides[k].at(-1)`; the callback reads
 * them from its closure because they are the same for every row. At least one operand is required.
 */
export function forEachRow(layout: Layout, offsets: readonly number[], row: RowCallback): void {
  const { shape, strides } = layout;
  const outer = shape.length - 1;
  let rows = 1;
  for (let d = 0; d < outer; d++) rows *= shape[d];
  if (rows === 0 || shape[outer] === 0) return;
  const s0 = strides[0];
  const s1 = strides[1] ?? NO_STRIDES;
  const s2 = strides[2] ?? NO_STRIDES;
  const s3 = strides[3] ?? NO_STRIDES;
  let o0 = offsets[0] ?? 0;
  let o1 = offsets[1] ?? 0;
  let o2 = offsets[2] ?? 0;
  let o3 = offsets[3] ?? 0;
  if (outer === 0) {
    row(o0, o1, o2, o3);
    return;
  }
  const n = strides.length;
  const index = new Array<number>(outer).fill(0);
  for (let r = 0; r < rows; r++) {
    row(o0, o1, o2, o3);
    for (let d = outer - 1; d >= 0; d--) {
      const extent = shape[d];
      if (++index[d] < extent) {
        o0 += s0[d];
        if (n > 1) o1 += s1[d];
        if (n > 2) o2 += s2[d];
        if (n > 3) o3 += s3[d];
        break;
      }
      index[d] = 0;
      const back = extent - 1;
      o0 -= s0[d] * back;
      if (n > 1) o1 -= s1[d] * back;
      if (n > 2) o2 -= s2[d] * back;
      if (n > 3) o3 -= s3[d] * back;
    }
  }
}

/**
 * Strides to read a contiguous operand of `shape` broadcast to `outShape`, or null when `shape` is
 * not a valid broadcast source for `outShape` (so the caller can raise a `ShapeError` naming the op).
 */
export function broadcastStridesOrNull(
  shape: readonly number[],
  outShape: readonly number[],
): number[] | null {
  const off = outShape.length - shape.length;
  if (off < 0) return null;
  const s = new Array<number>(outShape.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    if (d !== 1 && d !== outShape[off + i]) return null;
    s[off + i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return s;
}
