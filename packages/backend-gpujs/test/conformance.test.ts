/**
 * Core's conformance kit against the gpu.js backend in Node (gpu.js's CPU mode), unchanged: every
 * primitive, composite, gradient, edge shape, error, memory property and the scan suite, with the
 * CPU backend as the reference of the random streams.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { runConformance } from '@mru/core/testing';
import { gpujsBackend } from '../src/index.js';

runConformance({ name: 'gpujs', factory: () => gpujsBackend(), reference: cpuBackend });
