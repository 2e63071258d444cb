/**
 * The CPU backend against the conformance kit of @mru/core/testing, large cases included (2^24-element
 * tensors, scans of 10^6 steps): the reference backend is where they run in CI on every commit.
 */
import { runConformance } from '@mru/core/testing';
import { cpuBackend } from '../src/index.js';

runConformance({ name: 'cpu', factory: cpuBackend, large: true });
