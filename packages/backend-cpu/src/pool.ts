/**
 * Reuse of large host arrays between kernels.
 *
 * Why: a fresh typed array of a few MiB is zeroed memory the operating system maps page by page on
 * first touch, and measured here allocating and filling a 3.2 MB result cost 5 to 13 ms of CPU time
 * (mostly page faults) against 1.6 ms for the matrix product written into it. A training step makes
 * dozens of results of the same few sizes, so arrays freed by `CpuBackend.free` are kept by dtype and
 * length and handed to the next kernel that asks for that size, already mapped. Small arrays are
 * cheap to allocate from V8's heap and are never pooled. The pool is bounded; it is reported as
 * `pooledBytes` by `memory()` and emptied by `clearHostPool`.
 */
import { allocHost, type DType, dtypeOfArray, type TypedArray } from '@mru/core';

/** Arrays below this many elements are allocated fresh (cheap) and never pooled. */
const MIN_POOLED = 1 << 14;
/** The most bytes the pool keeps (a T = 1,000 step peaks near 360 MiB); beyond it freed arrays go to the GC. */
const MAX_POOL_BYTES = 2 ** 30;

const free = new Map<string, TypedArray[]>();
let pooled = 0;

function key(dtype: DType, size: number): string {
  return `${dtype}:${size}`;
}

/**
 * A host array of `size` elements for `dtype`, from the pool when one of that size is free. Zeroed,
 * like `allocHost`, unless `zero` is false: only for kernels that write every element.
 */
export function hostArray(dtype: DType, size: number, zero = true): TypedArray {
  if (size >= MIN_POOLED) {
    const list = free.get(key(dtype, size));
    const reused = list?.pop();
    if (reused) {
      pooled -= reused.byteLength;
      if (zero) reused.fill(0);
      return reused;
    }
  }
  return allocHost(dtype, size);
}

/** Gives a freed buffer's array back for reuse; nothing may hold it afterwards. */
export function recycle(values: TypedArray): void {
  if (values.length < MIN_POOLED || pooled + values.byteLength > MAX_POOL_BYTES) return;
  const k = key(dtypeOfArray(values), values.length);
  const list = free.get(k);
  if (list) list.push(values);
  else free.set(k, [values]);
  pooled += values.byteLength;
}

/** Bytes held by the pool. */
export function hostPoolBytes(): number {
  return pooled;
}

/** Empties the pool (its arrays go to the garbage collector). */
export function clearHostPool(): void {
  free.clear();
  pooled = 0;
}
