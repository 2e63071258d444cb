/**
 * Initialisers: functions from a shape and a seed to a fresh tensor.
 *
 * Design: an initialiser is a pure function of `(shape, seed)` built from core's counter-based random
 * ops, so the same seed gives the same weights on every backend and no host-side randomness is used.
 * Modules pick one per parameter when they declare it; `Module.init` supplies the seed, derived from
 * the root seed and the parameter's dotted name.
 */
import { abs, full, rand, randn, type Tensor, ValueError } from '@mru/core';

/**
 * Makes the initial value of one parameter from its shape and a seed.
 *
 * @category Initialisers
 */
export type Initializer = (shape: readonly number[], seed: number) => Tensor;

/**
 * Every element equal to `value`.
 *
 * @param value - The value.
 * @category Initialisers
 */
export function constant(value: number): Initializer {
  return (shape) => full(shape, value);
}

/**
 * Zeros.
 *
 * @category Initialisers
 */
export function zerosInit(): Initializer {
  return constant(0);
}

/**
 * Ones.
 *
 * @category Initialisers
 */
export function onesInit(): Initializer {
  return constant(1);
}

/**
 * Uniform in `[lo, hi)`.
 *
 * @param lo - The lower bound.
 * @param hi - The upper bound.
 * @category Initialisers
 */
export function uniform(lo: number, hi: number): Initializer {
  if (!(lo <= hi)) throw new ValueError('uniform', `needs lo <= hi, got [${lo}, ${hi})`);
  return (shape, seed) => rand(shape, lo, hi, { seed });
}

/**
 * Normal with the given mean and standard deviation.
 *
 * @param mean - The mean.
 * @param std - The standard deviation.
 * @category Initialisers
 */
export function normal(mean = 0, std = 1): Initializer {
  if (!(std >= 0)) throw new ValueError('normal', `std must be non-negative, got ${std}`);
  return (shape, seed) => randn(shape, mean, std, { seed });
}

/**
 * PyTorch's default for `nn.Linear` (weights and biases alike): uniform in
 * `[-1/sqrt(fanIn), 1/sqrt(fanIn))`, where `fanIn` is the number of inputs of each output unit.
 *
 * @param fanIn - The number of inputs of the layer.
 * @category Initialisers
 */
export function uniformFanIn(fanIn: number): Initializer {
  if (!(fanIn > 0)) throw new ValueError('uniformFanIn', `fanIn must be positive, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  return uniform(-bound, bound);
}

/**
 * The absolute value of another initialiser's draw (non-negative weights, e.g. FQ-BMRU).
 *
 * @param inner - The initialiser whose absolute values are taken.
 * @category Initialisers
 */
export function nonNegative(inner: Initializer): Initializer {
  return (shape, seed) => abs(inner(shape, seed));
}
