/**
 * copy-first-input: the plainest test of memory. A scalar Gaussian stream; at the last step the
 * model must output the first value, which nothing in between helps to recall. A model with no
 * memory of step 1 can do no better than predicting 0, an MSE of 1.
 */

import { MAX_LENGTH, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { generatedTask } from '../task.js';
import type { Task } from '../types.js';

/** Options of {@link copyFirstInput}. */
export interface CopyFirstInputOptions {
  /** Sequence length `T`, an integer in `[1, 1000000]` (default 100). */
  readonly length?: number;
  /** Seed, a non-negative safe integer (default 0). */
  readonly seed?: number;
}

/** The options of copy-first-input, with ranges and defaults. */
export const copyFirstInputOptions: readonly OptionSpec[] = [
  {
    name: 'length',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 100,
    description: 'sequence length T',
  },
  seedOption(),
];

/**
 * Creates the copy-first-input task.
 *
 * - inputs `[batch, T, 1]`: `x_t ~ N(0, 1)`;
 * - targets `[batch, 1]`: `x_1` (the first input, as stored in float32), read at the last step;
 * - loss MSE, metric MSE (chance about 1).
 *
 * @param options - Length and seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option.
 */
export function copyFirstInput(options?: CopyFirstInputOptions): Task {
  const resolved = resolveOptions('copy-first-input', copyFirstInputOptions, options);
  const length = resolved.length as number;
  return generatedTask({
    name: 'copy-first-input',
    description: 'Output the first value of a Gaussian stream at its last step.',
    options: resolved,
    seed: resolved.seed as number,
    inputFeatures: 1,
    outputSize: 1,
    sequenceLength: length,
    loss: 'mse',
    metric: 'mse',
    readout: 'last',
    fill(rng, { inputs, targets }) {
      for (let t = 0; t < length; t++) inputs[t] = rng.normal();
      targets[0] = inputs[0];
    },
  });
}
