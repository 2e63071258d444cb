import type { Batch } from '../src/index.js';

/** Row `b` of a `[batch, ...rest]` array. */
export function row<T extends Float32Array | Int32Array>(array: T, shape: readonly number[], b: number): T {
  const size = shape.slice(1).reduce((x, y) => x * y, 1);
  return array.subarray(b * size, (b + 1) * size) as T;
}

/** Input value of sequence `b`, step `t`, feature `f`. */
export function input(batch: Batch, b: number, t: number, f: number): number {
  const [, time, features] = batch.inputShape;
  return batch.inputs[(b * time + t) * features + f];
}
