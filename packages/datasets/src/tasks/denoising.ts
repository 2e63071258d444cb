/**
 * denoising: recall a few marked values out of a long noisy stream, in order, after the stream ends.
 * With `noEnd > 0` the marked values all lie early, so they must be held through a long tail of
 * noise; that is the variant that separates persistent memory from fading memory.
 */

import { OptionError } from '../errors.js';
import { MAX_LENGTH, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { generatedTask } from '../task.js';
import type { Task } from '../types.js';

/** Options of {@link denoising}. */
export interface DenoisingOptions {
  /** Noise steps `T` before the final query step, an integer in `[1, 1000000]` (default 400). */
  readonly length?: number;
  /** Steps at the end of the noise that hold no relevant value, an integer in `[0, length - relevant]` (default 0; the standard variants use 0 and 200). */
  readonly noEnd?: number;
  /** How many relevant (marked) values, an integer in `[1, length - noEnd]` (default 5). */
  readonly relevant?: number;
  /** Seed, a non-negative safe integer (default 0). */
  readonly seed?: number;
}

/** The options of denoising, with ranges and defaults. */
export const denoisingOptions: readonly OptionSpec[] = [
  {
    name: 'length',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 400,
    description: 'noise steps T before the final query step',
  },
  {
    name: 'noEnd',
    kind: 'integer',
    min: 0,
    max: MAX_LENGTH,
    default: 0,
    description: 'final noise steps that hold no relevant value (at most length - relevant)',
  },
  {
    name: 'relevant',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 5,
    description: 'number of marked values to recall (at most length - noEnd)',
  },
  seedOption(),
];

/**
 * Creates the denoising task.
 *
 * - inputs `[batch, T + 1, 2]`: for `t < T`, `[d_t, m_t]` with `d_t ~ N(0, 1)`, `m_t = 0` at the
 *   `relevant` marked positions (distinct, uniform among the first `T - noEnd` steps) and `-1`
 *   elsewhere; then one query step `[0, 1]`;
 * - targets `[batch, relevant]`: the marked `d_t` in order of position, read at the last step;
 * - loss MSE, metric MSE (chance about 1).
 *
 * @param options - Length, noEnd, relevant count and seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option, including `noEnd + relevant > length`.
 */
export function denoising(options?: DenoisingOptions): Task {
  const resolved = resolveOptions('denoising', denoisingOptions, options);
  const length = resolved.length as number;
  const noEnd = resolved.noEnd as number;
  const relevant = resolved.relevant as number;
  if (noEnd > length - relevant) {
    throw new OptionError(
      'denoising',
      'noEnd',
      `option "noEnd" must be an integer in [0, ${length - relevant}] (length - relevant = ${length} - ${relevant}), got ${noEnd}`,
    );
  }
  return generatedTask({
    name: 'denoising',
    description: `Recall, in order, the ${relevant} marked values of a ${length}-step noise stream at a final query step.`,
    options: resolved,
    seed: resolved.seed as number,
    inputFeatures: 2,
    outputSize: relevant,
    sequenceLength: length + 1,
    loss: 'mse',
    metric: 'mse',
    readout: 'last',
    fill(rng, { inputs, targets }) {
      const positions = rng.sortedSample(length - noEnd, relevant);
      for (let t = 0; t < length; t++) {
        inputs[2 * t] = rng.normal();
        inputs[2 * t + 1] = -1;
      }
      for (let k = 0; k < relevant; k++) {
        const t = positions[k];
        inputs[2 * t + 1] = 0;
        targets[k] = inputs[2 * t];
      }
      inputs[2 * length] = 0;
      inputs[2 * length + 1] = 1;
    },
  });
}
