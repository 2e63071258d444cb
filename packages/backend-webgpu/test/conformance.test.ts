/**
 * Core's conformance kit against this backend: every primitive, composite, gradient, edge shape,
 * error, memory property and the scan suite, with core's float64 references and Philox spec.
 */
import { runConformance } from '@mru/core/testing';
import { makeBackend } from './helpers.js';

runConformance({ name: 'webgpu', factory: () => makeBackend() });
