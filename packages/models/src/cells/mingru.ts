/**
 * minGRU (Feng et al. 2024), a gated parallel baseline (the models guide, "minGRU").
 *
 * `[k_h, k_z] = split(W x + b)`, `z = σ(k_z)`, `h̃ = g(k_h)` with `g(x) = x + 0.5` for `x >= 0` and
 * `σ(x)` otherwise, and `h_t = (1 - z_t) h_{t-1} + z_t h̃_t`: scan form `a = 1 - z`, `b = z h̃`.
 *
 * Two ways to compute the coefficients: the linear form above, and the log-space form
 * (`logSpace: true`): `log a = -softplus(k_z)`, `log b = -softplus(-k_z) + log g(k_h)`, exponentiated
 * before the same linear scan. The log-space form keeps `a` accurate where `z` saturates to 1 (`1 - σ`
 * rounds to 0 in float32, `exp(-softplus)` does not). A fully log-space scan (a log-cumsum-exp along
 * time, Heinsen 2023) is not offered: the primitive set has only the linear scan, which is already
 * stable here because `0 <= a <= 1` (products of `a` underflow to 0 harmlessly instead of overflowing).
 * The initial state is zero, as in the paper.
 */
import {
  add,
  concat,
  exp,
  full,
  ge,
  log,
  mul,
  neg,
  relu,
  scan,
  sigmoid,
  softplus,
  split,
  sub,
  type Tensor,
  ValueError,
  where,
  zeros,
} from '@mru/core';
import { type Initializer, uniformFanIn } from '../nn/init.js';
import { Linear } from '../nn/layers.js';
import { getSubtree, type ParamTree } from '../tree.js';
import { checkSequence, checkStepInput, lastStep } from './bmru.js';
import { Cell, type CellOutput, type CellRunOptions, type CellState, type CellStepOutput } from './cell.js';

/**
 * The coefficients of the scan `h_t = a_t h_{t-1} + b_t`.
 *
 * @category Cells
 */
export interface ScanCoefficients {
  /** `1 - z`. */
  readonly a: Tensor;
  /** `z h̃`. */
  readonly b: Tensor;
}

/**
 * Options of `MinGru`.
 *
 * @category Cells
 */
export interface MinGruOptions {
  /** Compute the gate coefficients in log space (default false: the linear form). */
  readonly logSpace?: boolean;
  /**
   * Initial bias of the gate pre-activation `k_z` (default: uniform fan-in like the rest). A negative
   * value (e.g. -5, `z ≈ 0.007`) starts every unit holding its state, which long-memory tasks need.
   */
  readonly gateBias?: number;
}

/** Bias init of `[k_h, k_z]`: uniform fan-in for the candidate half, `gateBias` for the gate half. */
function splitBias(dIn: number, dState: number, gateBias: number): Initializer {
  return (shape, seed) => concat([uniformFanIn(dIn)([dState], seed), full([shape[0] - dState], gateBias)], 0);
}

/**
 * The minimal GRU. Parameters: `w` (Linear `d_in -> 2 d_state`, candidate then gate).
 *
 * @category Cells
 */
export class MinGru extends Cell {
  readonly type = 'mingru' as const;
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  readonly parallelizable = true;
  /** Whether the coefficients are computed in log space. */
  readonly logSpace: boolean;
  /** The joint projection to `[k_h, k_z]`. */
  readonly w: Linear;

  /**
   * A minGRU from `dIn` inputs to `dState` units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   * @param options - The cell options (see `CellConfig`).
   */
  constructor(dIn: number, dState: number, options: MinGruOptions = {}) {
    super();
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dState;
    this.logSpace = options.logSpace ?? false;
    if (options.gateBias !== undefined && !Number.isFinite(options.gateBias))
      throw new ValueError('MinGru', `gateBias must be a finite number, got ${options.gateBias}`);
    this.w = this.addModule(
      'w',
      new Linear(
        dIn,
        2 * dState,
        options.gateBias === undefined ? {} : { biasInit: splitBias(dIn, dState, options.gateBias) },
      ),
    );
  }

  /**
   * The scan coefficients `(a, b)` for inputs `[..., d_in]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (or one step, `[batch, dIn]`).
   */
  coefficients(params: ParamTree, x: Tensor): ScanCoefficients {
    const k = this.w.apply(getSubtree(params, 'w', 'MinGru'), x);
    const [kh, kz] = split(k, [this.dState, this.dState], -1);
    if (this.logSpace) {
      // log g(k) = log(k + 0.5) for k >= 0, log σ(k) = -softplus(-k) otherwise; relu keeps the
      // unselected branch finite so that its (masked) gradient is not NaN.
      const logG = where(ge(kh, 0), log(add(relu(kh), 0.5)), neg(softplus(neg(kh))));
      const logA = neg(softplus(kz));
      const logB = add(neg(softplus(neg(kz))), logG);
      return { a: exp(logA), b: exp(logB) };
    }
    const z = sigmoid(kz);
    const candidate = where(ge(kh, 0), add(kh, 0.5), sigmoid(kh));
    return { a: sub(1, z), b: mul(z, candidate) };
  }

  initialState(_params: ParamTree, batch: number): CellState {
    return { h: zeros([batch, this.dState]) };
  }

  parallel(params: ParamTree, x: Tensor, options: CellRunOptions = {}): CellOutput {
    checkSequence('MinGru', x, this.dIn);
    const { a, b } = this.coefficients(params, x);
    const h = scan(a, b, options.state ? { h0: options.state.h } : {});
    return { y: h, state: { h: lastStep(h) } };
  }

  step(params: ParamTree, x: Tensor, state: CellState): CellStepOutput {
    checkStepInput('MinGru', x, this.dIn);
    const { a, b } = this.coefficients(params, x);
    const h = add(mul(a, state.h), b);
    return { y: h, state: { h } };
  }
}
