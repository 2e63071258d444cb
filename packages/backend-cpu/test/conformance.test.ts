/** The CPU backend against the conformance kit of @mru/core/testing. */
import { runConformance } from '@mru/core/testing';
import { cpuBackend } from '../src/index.js';

runConformance({ name: 'cpu', factory: cpuBackend });
