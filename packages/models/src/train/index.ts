/** The training API: `trainStep`, `evaluate`, `fit`, and the objective they share. */
export * from './batch.js';
export * from './evaluate.js';
export * from './fit.js';
export * from './loss.js';
export * from './step.js';
