/**
 * Time features: a code of the step index that a network concatenates to its inputs.
 *
 * Why: a bistable unit driven by sequential MNIST sees mostly background pixels and every digit ends
 * in the same ones, so without a sense of time its final switch is the same for every digit (issue 14
 * measured this lever as the largest). The code is sinusoidal, `[sin(t ω_i), cos(t ω_i)]` for
 * `i < p / 2` with `ω_i = base^(-2i / p)` (the transformer's positional encoding), plus an optional
 * learned offset per position (a table of `maxLength` rows initialised to 0, so training starts from
 * the pure sinusoid; positions at or beyond `maxLength` get no offset, so the code still extends to
 * any length, which horizon generalisation needs).
 *
 * Both forms compute the code with the same float32 ops from the int32 position (an `arange` for a
 * sequence, the step counter of the streaming state for one step), so `step` reproduces `sequence`
 * exactly.
 */
import {
  add,
  arange,
  cast,
  concat,
  cos,
  expandDims,
  maximum,
  minimum,
  mul,
  sin,
  type Tensor,
  take,
  tensor,
  ValueError,
  zeros,
} from '@mru/core';
import { getTensor, type ParamTree } from '../tree.js';
import { zerosInit } from './init.js';
import { Module } from './module.js';

/** Options of the time features of a network (`NetworkConfig.timeFeatures`). */
export interface TimeFeaturesConfig {
  /** Dimensions `p` of the code, an even positive integer (e.g. 16). */
  readonly dim: number;
  /** Rows of the learned per-position offset (default 0: none). */
  readonly maxLength?: number;
  /** Longest period, as in the transformer's `10000` (default 10000). */
  readonly base?: number;
  /** Also concatenate the code to each block's cell input, normalised with it (default false). */
  readonly perBlock?: boolean;
}

/** A `TimeFeaturesConfig` with its defaults filled in. */
export type ResolvedTimeFeaturesConfig = Required<TimeFeaturesConfig>;

/**
 * Validates a time-features config and fills in its defaults.
 *
 * @param config - The config.
 * @returns The config with `maxLength`, `base` and `perBlock` set.
 * @throws ValueError on a bad value, naming it.
 */
export function resolveTimeFeatures(config: TimeFeaturesConfig): ResolvedTimeFeaturesConfig {
  const owner = 'TimeFeatures';
  if (!config || typeof config !== 'object') throw new ValueError(owner, 'expected a config object');
  const { dim } = config;
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0)
    throw new ValueError(owner, `dim must be an even integer >= 2, got ${JSON.stringify(dim)}`);
  const maxLength = config.maxLength ?? 0;
  if (!Number.isInteger(maxLength) || maxLength < 0)
    throw new ValueError(owner, `maxLength must be a non-negative integer, got ${JSON.stringify(maxLength)}`);
  const base = config.base ?? 10000;
  if (!(typeof base === 'number' && base > 1 && Number.isFinite(base)))
    throw new ValueError(owner, `base must be a finite number > 1, got ${JSON.stringify(base)}`);
  return { dim, maxLength, base, perBlock: config.perBlock ?? false };
}

/**
 * The time-feature code. Parameters: `offset` `[maxLength, dim]` (only when `maxLength > 0`; init 0,
 * no weight decay).
 */
export class TimeFeatures extends Module {
  /** The resolved config. */
  readonly config: ResolvedTimeFeaturesConfig;
  /** The angular frequencies `ω_i`, `p / 2` of them. */
  readonly frequencies: Float32Array;

  /**
   * Time features of `config.dim` dimensions.
   *
   * @param config - The code's width, its longest position and the learned offset.
   */
  constructor(config: TimeFeaturesConfig) {
    super();
    this.config = resolveTimeFeatures(config);
    const half = this.config.dim / 2;
    this.frequencies = Float32Array.from(
      { length: half },
      (_, i) => this.config.base ** (-(2 * i) / this.config.dim),
    );
    if (this.config.maxLength > 0)
      this.addParam('offset', [this.config.maxLength, this.config.dim], zerosInit(), { decay: false });
  }

  /** Code dimensions `p`. */
  get dim(): number {
    return this.config.dim;
  }

  /**
   * The codes of int32 step indices of any shape `[...]`: `[..., p]`. A sequence passes `arange(T)`,
   * a streaming step its per-sequence counter `[B]`; both go through these same ops, so the step
   * form reproduces the sequence form exactly.
   *
   * @param params - This module's parameters.
   * @param positions - int32 step indices (negative ones are treated as 0 for the offset table).
   * @returns The codes.
   */
  codes(params: ParamTree, positions: Tensor): Tensor {
    if (positions.dtype !== 'int32')
      throw new ValueError(
        'TimeFeatures.codes',
        `positions must be int32, got ${positions.dtype}[${positions.shape.join(',')}]`,
      );
    const half = this.frequencies.length;
    const angles = mul(
      expandDims(cast(positions, 'float32'), -1),
      tensor(this.frequencies, { shape: [half] }),
    );
    const code = concat([sin(angles), cos(angles)], -1);
    const L = this.config.maxLength;
    if (L === 0) return code;
    // Row L of the padded table is zeros: positions at or beyond maxLength get no offset.
    const table = concat([getTensor(params, 'offset', 'TimeFeatures'), zeros([1, this.config.dim])], 0);
    return add(code, take(table, minimum(maximum(positions, 0), L), 0));
  }

  /**
   * The codes of steps `0 .. length - 1`, `[length, p]`.
   *
   * @param params - This module's parameters.
   * @param length - The sequence length.
   * @returns The codes, one row per step.
   */
  sequence(params: ParamTree, length: number): Tensor {
    if (!Number.isInteger(length) || length < 1)
      throw new ValueError('TimeFeatures.sequence', `length must be a positive integer, got ${length}`);
    return this.codes(params, arange(length));
  }
}
