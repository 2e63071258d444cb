/**
 * Batched, broadcasting matrix multiplication with NumPy `matmul` semantics. When the right operand
 * has no batch (the common `activations @ weights` case) the left batch folds into rows, so both the
 * product and its VJP are single 2-D products and the weight gradient never materialises per-batch
 * copies. Transposes in the VJP are passed to the kernel as flags rather than materialised.
 */
import { record, tidy as scoped } from '../engine.js';
import { fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastTo, reshape, unbroadcast } from './movement.js';
import { backendOf, checkDType, wrap } from './util.js';
import { checkSize } from './validate.js';

/** Raw batched product of 3-D operands `[Ba,*,*]` and `[Bb,*,*]` (Ba, Bb in {1, batch}). */
function mm3(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
  const be = backendOf('matmul', a, b);
  const [ba, a1, a2] = a.shape;
  const [bb, b1, b2] = b.shape;
  const m = transposeA ? a2 : a1;
  const k = transposeA ? a1 : a2;
  const n = transposeB ? b1 : b2;
  // Not max(): a zero-size batch against a shared operand is a zero-size batch.
  const batch = ba === 1 ? bb : ba;
  const y = wrap(
    be,
    be.matmul(a, b, {
      batch,
      m,
      k,
      n,
      aBatchStride: ba === 1 ? 0 : m * k,
      bBatchStride: bb === 1 ? 0 : k * n,
      transposeA,
      transposeB,
    }),
    [batch, m, n],
    'float32',
  );
  record('matmul', [a, b], [y], ([g]) => {
    const gg = g as Tensor;
    // d(opA(a)) = g @ opB(b)^T, d(opB(b)) = opA(a)^T @ g; then undo the op and the batch broadcast.
    const ga = transposeA ? mm3(b, gg, transposeB, true) : mm3(gg, b, false, !transposeB);
    const gb = transposeB ? mm3(gg, a, true, transposeA) : mm3(a, gg, !transposeA, false);
    return [sumBatch(ga, ba), sumBatch(gb, bb)];
  });
  return y;
}

function sumBatch(g: Tensor, batch: number): Tensor {
  return batch === g.shape[0] ? g : unbroadcast(g, [1, g.shape[1], g.shape[2]]);
}

/**
 * Matrix product of float32 tensors: `[..., m, k] @ [..., k, n] -> [..., m, n]` with broadcast batch
 * dimensions; a 1-D operand is a vector (its dimension is removed from the result).
 *
 * @param a - The left operand, `[..., m, k]` (a vector is `[k]`).
 * @param b - The right operand, `[..., k, n]` (a vector is `[k]`); batch axes broadcast.
 * @category Linear algebra
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return scoped(() => {
    const op = 'matmul';
    backendOf(op, a, b);
    checkDType(op, ['float32'], a, b);
    if (a.rank === 0 || b.rank === 0) {
      throw new ShapeError(
        op,
        `operands must have rank >= 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      );
    }
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const [m, k] = a2.shape.slice(-2);
    const [k2, n] = b2.shape.slice(-2);
    if (k !== k2) {
      throw new ShapeError(
        op,
        `inner dimensions differ: ${a.dtype}${fmtShape(a.shape)} @ ${b.dtype}${fmtShape(b.shape)} (${k} vs ${k2})`,
      );
    }
    const batchA = a2.shape.slice(0, -2);
    const batchB = b2.shape.slice(0, -2);
    const batch = broadcastShapes(op, batchA, batchB);
    checkSize(op, [...batch, m, n]);
    let out: Tensor;
    if (sizeOf(batchB) === 1 && batchB.length <= batchA.length) {
      // Fold the left batch into rows: one 2-D product.
      out = reshape(mm3(reshape(a2, [1, sizeOf(batchA) * m, k]), reshape(b2, [1, k, n]), false, false), [
        ...batch,
        m,
        n,
      ]);
    } else {
      const lhs = shapesEqual(batchA, batch) || sizeOf(batchA) === 1 ? a2 : broadcastTo(a2, [...batch, m, k]);
      const rhs = shapesEqual(batchB, batch) || sizeOf(batchB) === 1 ? b2 : broadcastTo(b2, [...batch, k, n]);
      const la = reshape(lhs, [sizeOf(lhs.shape.slice(0, -2)), m, k]);
      const rb = reshape(rhs, [sizeOf(rhs.shape.slice(0, -2)), k, n]);
      out = reshape(mm3(la, rb, false, false), [...batch, m, n]);
    }
    if (a.rank === 1) out = reshape(out, [...out.shape.slice(0, -2), n]);
    if (b.rank === 1) out = reshape(out, out.shape.slice(0, -1));
    return out;
  });
}
