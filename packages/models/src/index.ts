/**
 * `@mru/models`: modules and layers, optimizers and schedules, the training API (`trainStep`,
 * `evaluate`, `fit`), the memory recurrent cells (BMRU, CMRU and the ε family, FQ-BMRU), the baselines
 * (LRU, minGRU, GRU, BRC, nBRC), networks and hybrids built from a JSON config, and safetensors
 * checkpoints. Browser-safe; file I/O lives in `@mru/models/node`.
 *
 * ```ts
 * import { setBackend } from '@mru/core';
 * import { cpuBackend } from '@mru/backend-cpu';
 * import { createTask } from '@mru/datasets';
 * import { createNetwork, AdamW, trainStep, evaluate } from '@mru/models';
 * await setBackend(cpuBackend());
 * const task = await createTask('copy-first-input', { length: 50 });
 * const net = createNetwork({ dIn: 1, dModel: 32, dOut: 1, nLayers: 2, cell: { type: 'bmru', dState: 32 } });
 * let params = net.init(0);
 * const optimizer = new AdamW({ lr: 1e-3, meta: net.paramSpecs(), clipNorm: 1 });
 * for (let i = 0; i < 100; i++)
 *   params = (await trainStep({ network: net, optimizer }, params, task.batch('train', i, 32))).params;
 * const metrics = await evaluate(net, params, task.batches('validation', 256, { count: 2 }), task);
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
