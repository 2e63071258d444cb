/** Modules, layers and initialisers. */

export * from './grad-norms.js';
export * from './init.js';
export * from './init-scheme.js';
export * from './layers.js';
export * from './module.js';
export * from './residual-mlp.js';
export * from './time-features.js';
