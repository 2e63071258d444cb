/**
 * adding: the classic long-range arithmetic task (Hochreiter and Schmidhuber). Two channels: a
 * uniform value and a marker; exactly two steps are marked, one in each half of the sequence, and the
 * target is the sum of the two marked values. Predicting the mean, 1, scores an MSE of 1/6.
 */

import { MAX_LENGTH, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { generatedTask } from '../task.js';
import type { Task } from '../types.js';

/** Options of {@link adding}. */
export interface AddingOptions {
  /** Sequence length `T`, an integer in `[2, 1000000]` (default 100). */
  readonly length?: number;
  /** Seed, a non-negative safe integer (default 0). */
  readonly seed?: number;
}

/** The options of adding, with ranges and defaults. */
export const addingOptions: readonly OptionSpec[] = [
  {
    name: 'length',
    kind: 'integer',
    min: 2,
    max: MAX_LENGTH,
    default: 100,
    description: 'sequence length T',
  },
  seedOption(),
];

/**
 * Creates the adding task.
 *
 * - inputs `[batch, T, 2]`: `[v_t, m_t]` with `v_t ~ U(0, 1)`; `m_t = 1` at one uniform step of the
 *   first half (`t < floor(T / 2)`) and one of the second half, `0` elsewhere;
 * - targets `[batch, 1]`: the sum of the two marked values (as stored in float32), read at the last step;
 * - loss MSE, metric MSE (chance 1/6).
 *
 * @param options - Length and seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option.
 */
export function adding(options?: AddingOptions): Task {
  const resolved = resolveOptions('adding', addingOptions, options);
  const length = resolved.length as number;
  const half = Math.floor(length / 2);
  return generatedTask({
    name: 'adding',
    description: 'Output the sum of the two marked values of a uniform stream at its last step.',
    options: resolved,
    seed: resolved.seed as number,
    inputFeatures: 2,
    outputSize: 1,
    sequenceLength: length,
    loss: 'mse',
    metric: 'mse',
    readout: 'last',
    fill(rng, { inputs, targets }) {
      for (let t = 0; t < length; t++) inputs[2 * t] = rng.uniform();
      const first = rng.integer(half);
      const second = half + rng.integer(length - half);
      inputs[2 * first + 1] = 1;
      inputs[2 * second + 1] = 1;
      targets[0] = inputs[2 * first] + inputs[2 * second];
    },
  });
}
