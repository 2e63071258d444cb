/**
 * `@mru/models`: modules and layers, optimizers and schedules, the memory recurrent cells (BMRU, CMRU
 * and the ε family, FQ-BMRU), the baselines (LRU, minGRU, GRU, BRC, nBRC), networks and hybrids built
 * from a JSON config, and safetensors checkpoints. Browser-safe; file I/O lives in `@mru/models/node`.
 *
 * ```ts
 * import { setBackend, valueAndGrad, randn, dispose } from '@mru/core';
 * import { cpuBackend } from '@mru/backend-cpu';
 * import { createNetwork, AdamW } from '@mru/models';
 * await setBackend(cpuBackend());
 * const net = createNetwork({ dIn: 1, dModel: 32, dOut: 1, nLayers: 2, cell: { type: 'bmru', dState: 32 } });
 * let params = net.init(0);
 * const opt = new AdamW({ lr: 1e-3, meta: net.paramSpecs(), clipNorm: 1 });
 * const { value, grads } = valueAndGrad((p) => net.loss(p, x, y, { train: true, seed: 1 }))(params);
 * params = opt.step(params, grads);
 * dispose([value, grads]);
 * ```
 *
 * @packageDocumentation
 */
export * from './cells/index.js';
export * from './checkpoint/index.js';
export * from './network.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './train/index.js';
export * from './tree.js';
