/** Checkpoints in the safetensors format (browser-safe part). */
export * from './checkpoint.js';
export * from './safetensors.js';
