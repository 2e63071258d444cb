/**
 * flip-flop: the memory task in its purest form, and the horizon-generalization test. A stream of
 * symbols set-0, set-1 and ignore (ignore most of the time); at every step the model must output the
 * last bit that was set. Nothing decays in the task itself: a unit with a true bistable state solves
 * it at any length, so train at length `T` and evaluate with the same options at `10 T` and `100 T`.
 *
 * Our choices: the target at step `t` includes a set at step `t` itself (the output follows the input
 * at once); steps before the first set have no defined bit, so their target is 0 and their mask 0.
 * The gap between sets is geometric with mean `1 / setProbability` whatever the length, so at longer
 * lengths a model meets the same gaps more often and a few much longer ones; lower `setProbability`
 * to demand longer holds.
 */

import { MAX_LENGTH, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { generatedTask } from '../task.js';
import type { Task } from '../types.js';

/** How flip-flop symbols are fed to the model. */
export type FlipFlopEncoding = 'one-hot' | 'signed';

/** Options of {@link flipFlop}. */
export interface FlipFlopOptions {
  /** Sequence length `T`, an integer in `[1, 1000000]` (default 100). */
  readonly length?: number;
  /** Probability that a step is a set symbol (half set-0, half set-1), a number in `(0, 1]` (default 0.05). */
  readonly setProbability?: number;
  /** `'one-hot'` (3 features: set-0, set-1, ignore) or `'signed'` (1 feature: -1 set-0, +1 set-1, 0 ignore); default `'one-hot'`. */
  readonly encoding?: FlipFlopEncoding;
  /** Seed, a non-negative safe integer (default 0). */
  readonly seed?: number;
}

/** The options of flip-flop, with ranges and defaults. */
export const flipFlopOptions: readonly OptionSpec[] = [
  {
    name: 'length',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 100,
    description: 'sequence length T (train at T, evaluate at 10T and 100T)',
  },
  {
    name: 'setProbability',
    kind: 'number',
    min: 0,
    max: 1,
    minExclusive: true,
    default: 0.05,
    description: 'probability that a step sets a bit (split evenly between set-0 and set-1)',
  },
  {
    name: 'encoding',
    kind: 'enum',
    values: ['one-hot', 'signed'],
    default: 'one-hot',
    description: "'one-hot': 3 features [set-0, set-1, ignore]; 'signed': 1 feature (-1, +1, 0)",
  },
  seedOption(),
];

/**
 * Creates the flip-flop task.
 *
 * - inputs `[batch, T, 3]` one-hot `[set-0, set-1, ignore]`, or `[batch, T, 1]` signed
 *   (`-1` set-0, `+1` set-1, `0` ignore); each step is set-0 with probability `p/2`, set-1 with
 *   probability `p/2`, ignore otherwise (one uniform draw per step);
 * - targets `[batch, T]` class indices: at step `t`, the bit of the last set at or before `t`;
 *   before the first set, 0 with mask 0 (mask 1 everywhere after it);
 * - loss cross-entropy over 2 classes at every step, metric per-step accuracy over the masked steps
 *   (plus `sequenceAccuracy`, the fraction of sequences right at every counted step).
 *
 * @param options - Length, set probability, encoding and seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option.
 */
export function flipFlop(options?: FlipFlopOptions): Task {
  const resolved = resolveOptions('flip-flop', flipFlopOptions, options);
  const length = resolved.length as number;
  const p = resolved.setProbability as number;
  const oneHot = resolved.encoding === 'one-hot';
  return generatedTask({
    name: 'flip-flop',
    description:
      'At every step, output the last bit set by a sparse stream of set-0 / set-1 / ignore symbols.',
    options: resolved,
    seed: resolved.seed as number,
    inputFeatures: oneHot ? 3 : 1,
    outputSize: 2,
    sequenceLength: length,
    loss: 'cross-entropy',
    metric: 'accuracy',
    readout: 'every',
    fill(rng, { inputs, targets, mask }) {
      let bit = -1;
      for (let t = 0; t < length; t++) {
        const u = rng.uniform();
        const symbol = u < p / 2 ? 0 : u < p ? 1 : 2; // 0: set-0, 1: set-1, 2: ignore
        if (oneHot) inputs[3 * t + symbol] = 1;
        else inputs[t] = symbol === 2 ? 0 : 2 * symbol - 1;
        if (symbol !== 2) bit = symbol;
        if (bit >= 0) {
          targets[t] = bit;
          mask[t] = 1;
        }
      }
    },
  });
}
