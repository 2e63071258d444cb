/** Optimizers, gradient clipping and schedules. */
export * from './optimizers.js';
export * from './schedules.js';
