/**
 * @mru/core: tensors, reverse-mode autograd, the scan primitive and the backend interface.
 *
 * ```ts
 * import { setBackend, tensor, valueAndGrad, sum, mul } from '@mru/core';
 * import { cpuBackend } from '@mru/backend-cpu';
 * await setBackend(cpuBackend());
 * const { value, grads } = valueAndGrad((w: Tensor) => sum(mul(w, w)))(tensor([1, 2, 3]));
 * ```
 *
 * @packageDocumentation
 */
export * from './autograd.js';
export * from './backend.js';
export * from './dtype.js';
export {
  backendNames,
  dispose,
  getBackend,
  keep,
  type MemoryInfo,
  memory,
  noGrad,
  registerBackend,
  seed,
  seedToKey,
  setBackend,
  type TensorContainer,
  tidy,
} from './engine.js';
export * from './errors.js';
export * from './ops/index.js';
export * from './random.js';
export * from './shape.js';
export { type NestedArray, Tensor } from './tensor.js';
export { VERSION } from './version.js';
