/**
 * Core's conformance kit against this backend with the scan plan a hardware GPU gets for few lanes
 * (`targetThreads: 16384`): on a software adapter `'auto'` aims for 16 invocations and cuts time into
 * a few long chunks, so without this run the kit's scans (10^5 steps into about 316 chunks of 317,
 * with two levels of carries below) would never exercise the deep chunked plan, nor its float-float
 * carries at |a| = 1.
 */
import { runConformance } from '@mru/core/testing';
import { makeBackend } from './helpers.js';

runConformance({
  name: 'webgpu (chunked scan plan)',
  factory: () => makeBackend({ scan: { targetThreads: 16384 } }),
});
