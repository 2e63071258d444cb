/**
 * selective copy: content tokens scattered among blanks must be reproduced, in order, once the
 * prediction markers arrive. Unlike plain copying, where the tokens are is random, so a model must
 * select by content, not by a fixed delay.
 *
 * Our choices: the vocabulary is `vocabSize` content tokens (16 by default); blank and marker are two
 * further input symbols, so inputs are one-hot of width `vocabSize + 2` and the model predicts one of
 * `vocabSize` classes. Tokens are drawn uniformly with repetition; positions are distinct.
 */

import { OptionError } from '../errors.js';
import { MAX_LENGTH, type OptionSpec, resolveOptions, seedOption } from '../options.js';
import { generatedTask } from '../task.js';
import type { Task } from '../types.js';

/** Options of {@link selectiveCopy}. */
export interface SelectiveCopyOptions {
  /** Steps of the content region (tokens among blanks), an integer in `[1, 1000000]` (default 64). */
  readonly length?: number;
  /** Tokens to copy `k`, an integer in `[1, length]` (default 8). */
  readonly tokens?: number;
  /** Content vocabulary size, an integer in `[2, 1024]` (default 16). */
  readonly vocabSize?: number;
  /** Seed, a non-negative safe integer (default 0). */
  readonly seed?: number;
}

/** The options of selective copy, with ranges and defaults. */
export const selectiveCopyOptions: readonly OptionSpec[] = [
  {
    name: 'length',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 64,
    description: 'steps of the content region (tokens among blanks)',
  },
  {
    name: 'tokens',
    kind: 'integer',
    min: 1,
    max: MAX_LENGTH,
    default: 8,
    description: 'number of tokens to copy, k (at most length)',
  },
  {
    name: 'vocabSize',
    kind: 'integer',
    min: 2,
    max: 1024,
    default: 16,
    description: 'number of content tokens (blank and marker are extra input symbols)',
  },
  seedOption(),
];

/**
 * Creates the selective-copy task. With `V = vocabSize`, `L = length` and `k = tokens`:
 *
 * - inputs `[batch, L + k, V + 2]` one-hot: in the first `L` steps, `k` tokens (uniform in
 *   `0..V-1`, feature = token) at distinct uniform positions, blanks (feature `V`) elsewhere; then
 *   `k` marker steps (feature `V + 1`);
 * - targets `[batch, L + k]` class indices: at marker step `j`, the `j`-th token in order of
 *   position; mask 1 on the `k` marker steps only (targets 0 elsewhere);
 * - loss cross-entropy over `V` classes at every step, metric token accuracy over the marker steps
 *   (plus `sequenceAccuracy`, all `k` tokens right).
 *
 * @param options - Content length, token count, vocabulary size and seed.
 * @returns The task.
 * @throws OptionError on an unknown or out-of-range option, including `tokens > length`.
 */
export function selectiveCopy(options?: SelectiveCopyOptions): Task {
  const resolved = resolveOptions('selective-copy', selectiveCopyOptions, options);
  const length = resolved.length as number;
  const tokens = resolved.tokens as number;
  const vocab = resolved.vocabSize as number;
  if (tokens > length) {
    throw new OptionError(
      'selective-copy',
      'tokens',
      `option "tokens" must be an integer in [1, ${length}] (at most length), got ${tokens}`,
    );
  }
  const features = vocab + 2;
  const blank = vocab;
  const marker = vocab + 1;
  return generatedTask({
    name: 'selective-copy',
    description: `Reproduce, in order, ${tokens} tokens scattered among ${length} steps of blanks when ${tokens} markers arrive.`,
    options: resolved,
    seed: resolved.seed as number,
    inputFeatures: features,
    outputSize: vocab,
    sequenceLength: length + tokens,
    loss: 'cross-entropy',
    metric: 'accuracy',
    readout: 'every',
    fill(rng, { inputs, targets, mask }) {
      const positions = rng.sortedSample(length, tokens);
      for (let t = 0; t < length; t++) inputs[t * features + blank] = 1;
      for (let j = 0; j < tokens; j++) {
        const t = positions[j];
        const token = rng.integer(vocab);
        inputs[t * features + blank] = 0;
        inputs[t * features + token] = 1;
        const query = length + j;
        inputs[query * features + marker] = 1;
        targets[query] = token;
        mask[query] = 1;
      }
    },
  });
}
