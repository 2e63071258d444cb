/**
 * The conformance kit once more, on gpu.js's WebAssembly mode (the other gpu.js mode that runs in
 * Node 20 here) with every scan forced through the chunked plan in 3-step chunks: the default plan
 * runs the kit's short scans directly, so the chunk and carry passes would otherwise go untested on
 * short sequences, reverse and broadcast cases included.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { runConformance } from '@mru/core/testing';
import { gpujsBackend } from '../src/index.js';

runConformance({
  name: 'gpujs webasm, chunked scans',
  factory: () => gpujsBackend({ mode: 'webasm', scanChunk: 3 }),
  reference: cpuBackend,
});
