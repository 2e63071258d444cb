/**
 * FQ-BMRU: the first-quadrant BMRU with fixed (learned, input-independent) thresholds, for analog
 * current-mode hardware (the models guide, "FQ-BMRU").
 *
 * `ĥ = ReLU(W_x ReLU(x) + b_x)`; `β_lo = |β_1|`, `β_hi = |β_1| + |δ|` (so `β_hi > β_lo` always);
 * `z_hi = H(ĥ - β_hi)` sets the unit, `z_lo = H(β_lo - ĥ)` resets it, and in between it holds:
 * `hold = (1 - z_hi)(1 - z_lo)`, `s_t = z_hi + hold s_{t-1}`, `y = |α| s`, so states live in `{0, |α|}`.
 * Scan form `a = hold` (leaky variant: `hold + (1 - hold) ε`), `b = (1 - hold) z_hi`.
 * Initialisation: `W_x` non-negative (|uniform fan-in|), `b_x = 0.5`, `β_1 = 0.15 U(0.8, 1.2)`,
 * `δ = 0.35 U(0.8, 1.2)`, `s_0` in {0, 1} at random, `α = 1`. The block's output projection for this
 * cell is `ReLU(W_post y + b_post)` with non-negative initial weights (`outputProjection`).
 */
import {
  abs,
  add,
  broadcastTo,
  cast,
  ge,
  mean,
  mul,
  rand,
  relu,
  reshape,
  scan,
  sub,
  type Tensor,
  ValueError,
} from '@mru/core';
import { constant, type Initializer, nonNegative, onesInit, uniformFanIn, zerosInit } from '../nn/init.js';
import { Linear } from '../nn/layers.js';
import type { ApplyContext } from '../nn/module.js';
import { getSubtree, getTensor, type ParamTree } from '../tree.js';
import { checkEpsilon, checkSequence, checkStepInput, lastStep } from './bmru.js';
import { Cell, type CellOutput, type CellRunOptions, type CellState, type CellStepOutput } from './cell.js';
import { heaviside } from './surrogate.js';

/**
 * Options of `FqBmru`.
 *
 * @category Cells
 */
export interface FqBmruOptions {
  /** Leak ε of the leaky variant, `a = hold + (1 - hold) ε` (default 0: the exact FQ-BMRU). */
  readonly leak?: number;
  /** Sharpness `k` of the surrogate derivative (default 1). */
  readonly surrogateK?: number;
  /**
   * `'spec'` (default): the specified initialisation above. `'midband'` (ours, issue 14): `W_x = 0`
   * and `b_x = 0.325`, the centre of the initial hysteresis band `[β_lo, β_hi] ≈ [0.15, 0.5]`, so every
   * unit starts holding whatever the input (a memory must ignore the inputs after the one it stores),
   * and learning grows the signed weights that push it above `β_hi` (set) or below `β_lo` (reset); the
   * gradient to `W_x` is not zero there (`ReLU(x)` times the surrogate). Units differ through `s_0` and
   * the jittered thresholds. With signed weights drawn at a quarter of uniform fan-in instead, `ĥ`
   * moves by about a third of the band (one standard deviation) at every step, so units switch on
   * noise from the start: on copy-first-input at T = 100 that scored test MSE 0.80 where `W_x = 0`
   * scored 0.14 (same options and seed; docs/ablations.md).
   * Under `'spec'`, `ĥ >= b_x = 0.5 > β_lo` for every non-negative input: no unit can reset.
   */
  readonly init?: FqBmruInit;
}

/**
 * Initialisations of the FQ-BMRU input map.
 *
 * @category Cells
 */
export type FqBmruInit = 'spec' | 'midband';

/**
 * The gates of an FQ-BMRU step, each `[..., d_state]`.
 *
 * @category Cells
 */
export interface FqGates {
  /** `(1 - z_hi)(1 - z_lo)`: 1 where the unit holds. */
  readonly hold: Tensor;
  /** `H(ĥ - β_hi)`: 1 where the unit is set. */
  readonly zHi: Tensor;
}

/** `scale * U(0.8, 1.2)`. */
function jittered(scale: number): Initializer {
  return (shape, seed) => rand(shape, 0.8 * scale, 1.2 * scale, { seed });
}

/** 0 or 1 with equal probability. */
function randomBit(): Initializer {
  return (shape, seed) => cast(ge(rand(shape, 0, 1, { seed }), 0.5), 'float32');
}

/**
 * The first-quadrant BMRU. Parameters: `wx` (Linear), `beta1`, `delta`, `alpha`, `s0`.
 *
 * @category Cells
 */
export class FqBmru extends Cell {
  readonly type = 'fqbmru' as const;
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  readonly parallelizable = true;
  override readonly outputProjection = 'nonnegative-relu' as const;
  /** Leak ε of the leaky variant (0 = exact) when the call's context sets none (`ctx.leak`). */
  readonly leak: number;
  /** Surrogate sharpness `k`. */
  readonly surrogateK: number;
  /** Input map `W_x`, `b_x`. */
  readonly wx: Linear;

  /**
   * An FQ-BMRU from `dIn` inputs to `dState` units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   * @param options - The cell options (see `CellConfig`).
   */
  constructor(dIn: number, dState: number, options: FqBmruOptions = {}) {
    super();
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dState;
    this.leak = checkEpsilon('FqBmru', options.leak ?? 0, 'leak');
    this.surrogateK = options.surrogateK ?? 1;
    const init = options.init ?? 'spec';
    if (init !== 'spec' && init !== 'midband')
      throw new ValueError('FqBmru', `init must be 'spec' or 'midband', got '${String(init)}'`);
    this.wx = this.addModule(
      'wx',
      new Linear(
        dIn,
        dState,
        init === 'spec'
          ? { weightInit: nonNegative(uniformFanIn(dIn)), biasInit: constant(0.5) }
          : { weightInit: zerosInit(), biasInit: constant(0.15 + 0.35 / 2) },
      ),
    );
    this.addParam('beta1', [dState], jittered(0.15), { decay: false });
    this.addParam('delta', [dState], jittered(0.35), { decay: false });
    this.addParam('alpha', [dState], onesInit(), { decay: false });
    this.addParam('s0', [dState], randomBit(), { decay: false });
  }

  /**
   * `hold` and `z_hi` for inputs `[..., d_in]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (or one step, `[batch, dIn]`).
   */
  gates(params: ParamTree, x: Tensor): FqGates {
    const hhat = relu(this.wx.apply(getSubtree(params, 'wx', 'FqBmru'), relu(x)));
    const lo = abs(getTensor(params, 'beta1', 'FqBmru'));
    const hi = add(lo, abs(getTensor(params, 'delta', 'FqBmru')));
    const zHi = heaviside(sub(hhat, hi), this.surrogateK);
    const zLo = heaviside(sub(lo, hhat), this.surrogateK);
    return { hold: mul(sub(1, zHi), sub(1, zLo)), zHi };
  }

  #coefficients(hold: Tensor, zHi: Tensor, leak = this.leak): { a: Tensor; b: Tensor } {
    checkEpsilon('FqBmru', leak, 'leak');
    const moved = sub(1, hold);
    const a = leak === 0 ? hold : add(hold, mul(moved, leak));
    return { a, b: mul(moved, zHi) };
  }

  #output(params: ParamTree, s: Tensor): Tensor {
    return mul(s, abs(getTensor(params, 'alpha', 'FqBmru')));
  }

  initialState(params: ParamTree, batch: number): CellState {
    const s0 = getTensor(params, 's0', 'FqBmru');
    return { s: broadcastTo(reshape(s0, [1, this.dState]), [batch, this.dState]) };
  }

  parallel(params: ParamTree, x: Tensor, options: CellRunOptions = {}): CellOutput {
    checkSequence('FqBmru', x, this.dIn);
    const { hold, zHi } = this.gates(params, x);
    const { a, b } = this.#coefficients(hold, zHi, options.leak);
    const s = scan(a, b, { h0: options.state?.s ?? getTensor(params, 's0', 'FqBmru') });
    return { y: this.#output(params, s), state: { s: lastStep(s) }, switchRate: mean(sub(1, hold)) };
  }

  step(params: ParamTree, x: Tensor, state: CellState, ctx: ApplyContext = {}): CellStepOutput {
    checkStepInput('FqBmru', x, this.dIn);
    const { hold, zHi } = this.gates(params, x);
    const { a, b } = this.#coefficients(hold, zHi, ctx.leak);
    const s = add(mul(a, state.s), b);
    return { y: this.#output(params, s), state: { s } };
  }
}
