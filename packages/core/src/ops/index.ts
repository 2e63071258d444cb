/** All tensor ops of @mru/core, as plain functions. */
export * from './creation.js';
export * from './elementwise.js';
export * from './fuse.js';
export * from './linalg.js';
export * from './movement.js';
export * from './nn.js';
export * from './reduce.js';
export * from './scan.js';
export type { TensorLike } from './util.js';
