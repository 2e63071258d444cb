/**
 * `@mru/core/testing`: the conformance kit. A backend that passes it is a backend.
 *
 * ```ts
 * // my-backend/test/conformance.test.ts
 * import { runConformance } from '@mru/core/testing';
 * import { cpuBackend } from '@mru/backend-cpu';
 * import { myBackend } from '../src/index.js';
 *
 * runConformance({ name: 'mine', factory: myBackend, reference: cpuBackend });
 * ```
 *
 * Beside the kit, the helpers every package's tests share: the seeded host generator
 * (`mulberry32`, `uniformArray`), the tolerance checks (`expectClose`, `expectWithinBound`,
 * `maxAbsDiff`) and the float64 references of the scan (`sequentialScan64`, `parallelScanReference`,
 * ...), which are test oracles, not part of the library, so the main entry does not carry them.
 *
 * Design: `runConformance` declares vitest `describe`/`it` blocks, one test case per primitive, per
 * differentiable op's gradient, per autograd feature, edge shape, error and memory property, plus the
 * scan suite. Every expected value comes from a float64 host reference or from core's specification
 * (Philox for random numbers), never from another backend, except the optional `reference` backend
 * whose random streams must match bit for bit, and the fused programs, whose reference is the same
 * program run one primitive per node on the backend under test. Every read is `await t.data()`, so asynchronous
 * (GPU) backends run the same cases as the CPU. Test names are stable and self-explanatory
 * (`primitive unary exp`, `grad matmul 2-D`), so a failure report reads as a to-do list.
 *
 * @packageDocumentation
 */
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import type { Backend } from '../backend.js';
import { setBackend } from '../engine.js';
import { autogradSuite } from './autograd-api.js';
import { boundarySuite } from './boundary-cases.js';
import { compositeSuite } from './composites.js';
import { createContext } from './context.js';

export { kernelMatmulRef } from './reference.js';

import { creationSuite } from './creation.js';
import { edgeSuite } from './edge-cases.js';
import { errorSuite } from './error-cases.js';
import { fusedSuite } from './fused-cases.js';
import { gradientSuite } from './gradients.js';
import { memorySuite } from './memory-cases.js';
import { primitiveSuite } from './primitives.js';
import { scanSuite } from './scan-suite.js';

export {
  type CheckOptions,
  type ConformanceContext,
  type ContextSources,
  createContext,
  type GradCheckOptions,
  type HostTensor,
} from './context.js';
export {
  expectClose,
  expectWithinBound,
  maxAbsDiff,
  mulberry32,
  type Tolerance,
  typedArrayOf,
  uniformArray,
  worstRatio,
} from './host.js';
export * from './scan-reference.js';

/** Options of `runConformance`. */
export interface ConformanceOptions {
  /** Name shown in the test tree, e.g. `'cpu'`. */
  readonly name: string;
  /**
   * Makes a new backend instance. Called once before the suite (that instance is tested and made
   * current for every test) and once more by the two-backend error case, which needs a second,
   * distinct instance. The kit disposes both.
   */
  readonly factory: () => Backend | Promise<Backend>;
  /**
   * A trusted backend (usually `cpuBackend`) whose random streams this backend must reproduce: bits
   * and uniform exactly, normal to 1e-5. Without it, core's `philoxFill` is the reference.
   */
  readonly reference?: () => Backend | Promise<Backend>;
  /** Also run the large cases: 2^24-element tensors, scans of 10^6 steps. Default false. */
  readonly large?: boolean;
}

/**
 * Declares the whole conformance suite for one backend in the calling vitest file: primitives,
 * creation functions, composites, gradients, the autograd API, edge shapes, errors, memory, the
 * scan suite and fused programs (`fuse` against the primitives), under
 * `describe('conformance: <name>')`.
 *
 * @param options - The backend factory, its name, an optional reference backend and whether to run the large cases.
 */
export function runConformance(options: ConformanceOptions): void {
  let backend: Backend | null = null;
  let reference: Backend | null = null;
  const ctx = createContext({
    name: options.name,
    large: options.large ?? false,
    backend: () => backend,
    reference: () => reference,
  });

  describe(`conformance: ${options.name}`, () => {
    // A backend that cannot be created must fail every case, not skip them (which is what a throwing
    // beforeAll does): keep the error and rethrow it before each test.
    let creationError: unknown = null;
    beforeAll(async () => {
      try {
        backend = await options.factory();
        if (options.reference) reference = await options.reference();
        await setBackend(backend);
      } catch (error) {
        creationError = error;
      }
    });
    beforeEach(async () => {
      if (creationError) throw creationError;
      if (backend) await setBackend(backend);
    });
    afterAll(() => {
      backend?.dispose();
      reference?.dispose();
      backend = null;
      reference = null;
    });

    describe('primitives', () => primitiveSuite(ctx));
    describe('creation', () => creationSuite(ctx));
    describe('composites', () => compositeSuite(ctx));
    describe('gradients', () => gradientSuite(ctx));
    describe('autograd', () => autogradSuite(ctx));
    describe('edge shapes', () => edgeSuite(ctx));
    describe('errors', () => errorSuite(ctx, options.factory));
    describe('boundary', () => boundarySuite(ctx));
    describe('memory', () => memorySuite(ctx));
    describe('scan', () => scanSuite(ctx));
    describe('fused programs (fuse vs primitives)', () => fusedSuite(ctx));
  });
}
