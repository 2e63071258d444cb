/**
 * The LRU (linear recurrent unit, Orvieto et al. 2023), the monostable SSM baseline (the models guide, "LRU").
 *
 * `λ = exp(-exp(ν_log) + i exp(θ_log))` (so `|λ| < 1`), `h_t = λ h_{t-1} + exp(γ_log) (B x_t)` with a
 * complex state of size N, `y_t = Re(C h_t) + D x_t`. The parallel form is one call of the complex
 * scan; its adjoint gives `dL/dλ = Σ_t conj(h_{t-1}) u_t`, chained to `ν_log` and `θ_log` by autograd.
 *
 * Storage: complex matrices are pairs of real parameters; `B` is `[H, N]` (`x @ B`) and `C` is
 * `[N, H]` (`Re(C h) = h_re @ C_re - h_im @ C_im`). Init: `u1, u2 ~ U(0, 1)`,
 * `ν_log = log(-0.5 log(u1 (r_max^2 - r_min^2) + r_min^2))`, `θ_log = log(max_phase u2)`,
 * `γ_log = log sqrt(1 - |λ|^2)` (then trained), `B = (N + iN)/sqrt(2H)`, `C = (N + iN)/sqrt(N)`,
 * `D ~ N(0, 1)`. `ν_log, θ_log, γ_log, B` form a group at half the learning rate without weight decay.
 */
import {
  add,
  type Complex,
  cos,
  exp,
  fuse,
  log,
  matmul,
  maximum,
  mul,
  neg,
  rand,
  scanComplex,
  sin,
  sub,
  type Tensor,
  ValueError,
  zeros,
} from '@mru/core';
import { type Initializer, normal } from '../nn/init.js';
import type { ParamMeta } from '../nn/module.js';
import { getTensor, type ParamTree } from '../tree.js';
import { checkSequence, checkStepInput, lastStep } from './bmru.js';
import { Cell, type CellOutput, type CellRunOptions, type CellState, type CellStepOutput } from './cell.js';

/**
 * Options of `Lru`.
 *
 * @category Cells
 */
export interface LruOptions {
  /** Smallest initial `|λ|` (default 0.9). */
  readonly rMin?: number;
  /** Largest initial `|λ|` (default 0.999). */
  readonly rMax?: number;
  /** Largest initial phase of `λ` (default 2π). */
  readonly maxPhase?: number;
}

const RECURRENT: ParamMeta = { decay: false, lrScale: 0.5 };

/**
 * The linear recurrent unit with a complex diagonal state of size `dState`.
 *
 * @category Cells
 */
export class Lru extends Cell {
  readonly type = 'lru' as const;
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  readonly parallelizable = true;
  /** Smallest initial `|λ|`. */
  readonly rMin: number;
  /** Largest initial `|λ|`. */
  readonly rMax: number;
  /** Largest initial phase. */
  readonly maxPhase: number;

  /**
   * An LRU with `dIn` inputs and outputs and `dState` complex units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   * @param options - The cell options (see `CellConfig`).
   */
  constructor(dIn: number, dState: number, options: LruOptions = {}) {
    super();
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dIn;
    this.rMin = options.rMin ?? 0.9;
    this.rMax = options.rMax ?? 0.999;
    this.maxPhase = options.maxPhase ?? 2 * Math.PI;
    if (!(this.rMin >= 0 && this.rMin <= this.rMax && this.rMax < 1)) {
      throw new ValueError('Lru', `needs 0 <= rMin <= rMax < 1, got rMin ${this.rMin}, rMax ${this.rMax}`);
    }
    if (!(this.maxPhase > 0)) throw new ValueError('Lru', `maxPhase must be positive, got ${this.maxPhase}`);
    const N = dState;
    this.addParam('nu_log', [N], (shape, seed) => this.#nuLog(this.#u1(shape, seed)), RECURRENT);
    this.addParam('theta_log', [N], (shape, seed) => this.#thetaLog(shape, seed), RECURRENT);
    // Drawn jointly with nu_log in initOwn; this initialiser is never used on its own.
    this.addParam('gamma_log', [N], (shape) => zeros(shape), RECURRENT);
    const bInit: Initializer = normal(0, 1 / Math.sqrt(2 * dIn));
    this.addParam('B_re', [dIn, N], bInit, RECURRENT);
    this.addParam('B_im', [dIn, N], bInit, RECURRENT);
    const cInit: Initializer = normal(0, 1 / Math.sqrt(N));
    this.addParam('C_re', [N, dIn], cInit);
    this.addParam('C_im', [N, dIn], cInit);
    this.addParam('D', [dIn], normal(0, 1), { decay: false });
  }

  /** `|λ|^2` drawn uniformly in `[r_min^2, r_max^2]`. */
  #u1(shape: readonly number[], seed: number): Tensor {
    const lo = this.rMin * this.rMin;
    const hi = this.rMax * this.rMax;
    return rand(shape, lo, hi, { seed });
  }

  #nuLog(r2: Tensor): Tensor {
    return log(mul(log(r2), -0.5));
  }

  #thetaLog(shape: readonly number[], seed: number): Tensor {
    // u2 = 0 would give log(0); the smallest positive uniform is 2^-24.
    return log(mul(maximum(rand(shape, 0, 1, { seed }), 2 ** -24), this.maxPhase));
  }

  protected override initOwn(seed: number, prefix: string): Record<string, Tensor> {
    const out = super.initOwn(seed, prefix);
    // Same seed as nu_log, hence the same |λ|^2: γ = sqrt(1 - |λ|^2), as a log. (init runs in a tidy
    // scope, which frees the placeholder and the intermediates.)
    const r2 = this.#u1([this.dState], this.paramSeed(seed, prefix, 'nu_log'));
    out.gamma_log = mul(log(sub(1, r2)), 0.5);
    return out;
  }

  /**
   * `λ` as `{ re, im }`, each `[N]`.
   *
   * @param params - The LRU's parameters.
   */
  lambda(params: ParamTree): Complex {
    const mag = exp(neg(exp(getTensor(params, 'nu_log', 'Lru'))));
    const phase = exp(getTensor(params, 'theta_log', 'Lru'));
    return { re: mul(mag, cos(phase)), im: mul(mag, sin(phase)) };
  }

  /**
   * The scan input `exp(γ_log) (B x)` as `{ re, im }`, computed as `x (B diag(exp(γ_log)))`: the gain
   * scales the small `[d_in, N]` matrix instead of the `[batch, time, N]` product (same function,
   * one pass over the sequence fewer per part).
   */
  #drive(params: ParamTree, x: Tensor): Complex {
    const gamma = exp(getTensor(params, 'gamma_log', 'Lru'));
    return {
      re: matmul(x, mul(getTensor(params, 'B_re', 'Lru'), gamma)),
      im: matmul(x, mul(getTensor(params, 'B_im', 'Lru'), gamma)),
    };
  }

  /** `Re(C h) + D x`, the difference and the skip in one fused pass. */
  #readout(params: ParamTree, hRe: Tensor, hIm: Tensor, x: Tensor): Tensor {
    return fuse((e, cr, ci, xx, d) => e.add(e.sub(cr, ci), e.mul(xx, d)), { name: 'Lru' })(
      matmul(hRe, getTensor(params, 'C_re', 'Lru')),
      matmul(hIm, getTensor(params, 'C_im', 'Lru')),
      x,
      getTensor(params, 'D', 'Lru'),
    );
  }

  initialState(_params: ParamTree, batch: number): CellState {
    return { re: zeros([batch, this.dState]), im: zeros([batch, this.dState]) };
  }

  parallel(params: ParamTree, x: Tensor, options: CellRunOptions = {}): CellOutput {
    checkSequence('Lru', x, this.dIn);
    const lambda = this.lambda(params);
    const drive = this.#drive(params, x);
    const s = options.state;
    const h = scanComplex(lambda, drive, s ? { h0: { re: s.re, im: s.im } } : {});
    return { y: this.#readout(params, h.re, h.im, x), state: { re: lastStep(h.re), im: lastStep(h.im) } };
  }

  step(params: ParamTree, x: Tensor, state: CellState): CellStepOutput {
    checkStepInput('Lru', x, this.dIn);
    const l = this.lambda(params);
    const d = this.#drive(params, x);
    // (l.re + i l.im)(h.re + i h.im) + drive
    const re = add(sub(mul(l.re, state.re), mul(l.im, state.im)), d.re);
    const im = add(add(mul(l.re, state.im), mul(l.im, state.re)), d.im);
    return { y: this.#readout(params, re, im, x), state: { re, im } };
  }
}
