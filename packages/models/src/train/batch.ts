/**
 * What the training API accepts as a batch. `@mru/models` does not depend on `@mru/datasets`: a
 * `HostBatch` is the structural shape of a datasets batch (typed arrays with their shapes and the loss
 * to apply), so `task.batch('train', i, 32)` passes straight in; a `TensorBatch` is the same on the
 * device, for callers that build their own tensors.
 */
import { Tensor, tensor } from '@mru/core';
import type { BatchLossKind } from './loss.js';

/** A batch of typed arrays, as `@mru/datasets` makes it. */
export interface HostBatch {
  /** Inputs, row-major: float `[B, T, features]` (or int32 tokens `[B, T]`). */
  readonly inputs: Float32Array | Int32Array;
  /** Shape of `inputs`. */
  readonly inputShape: readonly number[];
  /** Targets: float (MSE) or int32 classes (cross-entropy). */
  readonly targets: Float32Array | Int32Array;
  /** Shape of `targets`. */
  readonly targetShape: readonly number[];
  /** 1 where a step's target counts, 0 where not (targets' shape); absent when every target counts. */
  readonly mask?: Float32Array;
  /** The loss to apply. */
  readonly loss: BatchLossKind;
}

/** A batch already on the device. */
export interface TensorBatch {
  /** Inputs. */
  readonly inputs: Tensor;
  /** Targets. */
  readonly targets: Tensor;
  /** Mask of counted steps (cross-entropy only). */
  readonly mask?: Tensor;
  /** The loss to apply. */
  readonly loss: BatchLossKind;
}

/** Either kind of batch. */
export type TrainBatch = HostBatch | TensorBatch;

/**
 * The batch's tensors: made from the arrays of a `HostBatch` (owned by the caller's scope), or a
 * `TensorBatch`'s own.
 *
 * @param batch - The batch.
 * @returns Its tensors.
 */
export function batchTensors(batch: TrainBatch): TensorBatch {
  if (batch.inputs instanceof Tensor) return batch as TensorBatch;
  const b = batch as HostBatch;
  return {
    inputs: tensor(b.inputs, { shape: b.inputShape }),
    targets: tensor(b.targets, { shape: b.targetShape }),
    ...(b.mask ? { mask: tensor(b.mask, { shape: b.targetShape }) } : {}),
    loss: b.loss,
  };
}
