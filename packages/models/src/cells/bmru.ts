/**
 * The BMRU and its ε family (CMRU at ε = 1), as in the models guide, "BMRU" and "CMRU and the ε family".
 *
 * Per unit: `c = W_c x + b_c`, `β = W_β x + b_β`, `z = H(|c| - |β|)`, `v = sign(c)`, and the state
 * update `s_t = a_t s_{t-1} + b_t` with `a_t = 1 - z_t + ε z_t`, `b_t = z_t v_t`; the output is
 * `y_t = α s_t`. `ε = 0` is the BMRU (switch to ±1, or hold), `ε = 1` the CMRU (`s_t = s_{t-1} + z_t v_t`,
 * an integer ladder). The whole sequence is one call of the scan primitive; the step form applies the
 * same affine map once. `H` and `sign` are hard in the forward pass with surrogate derivatives in the
 * backward pass, and the gradient flows through both `a_t` (the state path, `∂s_t/∂s_{t-1} = a_t`, cut
 * by every switch when ε = 0) and `b_t`, exactly as the equations are written.
 *
 * `ε` is fixed at construction; a call may override it through its context (`ctx.epsilon`), which is
 * how the training step anneals it (`epsilonSchedule`) without changing the module.
 *
 * Speed: the gates and the coefficients `(a, b)` run as one fused kernel (`mruCoefficients`), bias
 * adds included, whose backward is the surrogate derivative written out as one more fused kernel; the
 * tape keeps only the two projections. `gates` keeps the composite form, the reference the fused
 * kernel is tested against.
 */
import {
  abs,
  add,
  broadcastTo,
  type Expr,
  type ExprLike,
  type FuseBuilder,
  fuse,
  lt,
  matmul,
  mean,
  mul,
  rand,
  reshape,
  ShapeError,
  scan,
  slice,
  sub,
  type Tensor,
  ValueError,
  where,
} from '@mru/core';
import type { Initializer } from '../nn/init.js';
import { constant, onesInit } from '../nn/init.js';
import { Linear } from '../nn/layers.js';
import type { ApplyContext } from '../nn/module.js';
import { getSubtree, getTensor, type ParamTree } from '../tree.js';
import { Cell, type CellOutput, type CellRunOptions, type CellState, type CellStepOutput } from './cell.js';
import { heaviside, signSte } from './surrogate.js';

/**
 * Options of `Bmru`.
 *
 * @category Cells
 */
export interface BmruOptions {
  /** ε of the update `a = 1 - z + ε z`: 0 is the BMRU (default), 1 the CMRU. */
  readonly epsilon?: number;
  /** Sharpness `k` of the surrogate derivative `k / (1 + (π k x)^2)` (default 1). */
  readonly surrogateK?: number;
  /**
   * Initial threshold bias `b_β` (default 1, the specified value). A larger one starts more units
   * holding: a unit whose drive `|c|` exceeds `|β|` on the background input switches at every step,
   * which for a CMRU (ε = 1) makes its state count the steps.
   */
  readonly betaBias?: number;
}

/**
 * The gates of a BMRU step: `z` (1 = switch) and `v` (the ±1 target), each `[..., d_state]`.
 *
 * @category Cells
 */
export interface MruGates {
  /** `H(|c| - |β|)`: 1 where the unit switches. */
  readonly z: Tensor;
  /** `sign(c)`: the attractor it switches to. */
  readonly v: Tensor;
}

/** The surrogate derivative `k / (1 + (π k x)^2)` of the Heaviside step, inside a fused program. */
function surrogate(e: FuseBuilder, x: ExprLike, k: number): ExprLike {
  return e.div(k, e.add(e.square(e.mul(x, Math.PI * k)), 1));
}

/**
 * The BMRU step in one fused kernel: from the projections `cm = x W_c`, `βm = x W_β` and their biases,
 * `c = cm + b_c`, `β = βm + b_β`, `z = H(|c| - |β|)`, `v = sign(c)` (sign(0) = +1), and the scan
 * coefficients `a = 1 - (1 - ε) z`, `b = z v`; also returns `z` (for the switching rate). The VJP is
 * the surrogate one of `heaviside` and `signSte`: `∂z/∂d ≈ S(d)`, `∂v/∂c ≈ 2 S(c)` with
 * `S(x) = k / (1 + (π k x)^2)`, and `∂|x|/∂x = sign(x)`.
 *
 * @param epsilon - ε of the update (0: BMRU, 1: CMRU).
 * @param k - Surrogate sharpness.
 * @returns A function `(cm, bc, βm, bβ) => [a, b, z]`.
 * @category Cells
 */
export function mruCoefficients(epsilon: number, k: number): (...xs: Tensor[]) => Tensor[] {
  const forward = (e: FuseBuilder, cm: Expr, bc: Expr, bm: Expr, bb: Expr) => {
    const c = e.add(cm, bc);
    const beta = e.add(bm, bb);
    const d = e.sub(e.abs(c), e.abs(beta));
    const z = e.cast(e.ge(d, 0), 'float32');
    const v = e.where(e.ge(c, 0), 1, -1);
    const a = epsilon === 0 ? e.sub(1, z) : e.sub(1, e.mul(z, 1 - epsilon));
    return { c, beta, d, z, v, a, b: e.mul(z, v) };
  };
  return fuse(
    (e, cm, bc, bm, bb) => {
      const f = forward(e, cm, bc, bm, bb);
      return [f.a, f.b, f.z];
    },
    {
      name: 'mruCoefficients',
      vjp: (e, [cm, bc, bm, bb], [ga, gb, gz]) => {
        const f = forward(e, cm, bc, bm, bb);
        // The cotangent of z gathers what reaches it through a, b and the switching rate.
        const gzAll = e.add(e.add(gz, e.mul(ga, epsilon - 1)), e.mul(gb, f.v));
        const gd = e.mul(gzAll, surrogate(e, f.d, k));
        const gc = e.add(e.mul(gd, e.sign(f.c)), e.mul(e.mul(gb, f.z), e.mul(surrogate(e, f.c, k), 2)));
        const gbeta = e.mul(e.neg(gd), e.sign(f.beta));
        return [gc, gc, gbeta, gbeta];
      },
    },
  ) as (...xs: Tensor[]) => Tensor[];
}

/** Checks an ε (or leak) is in [0, 1] and returns it. @internal */
export function checkEpsilon(owner: string, epsilon: number, name = 'epsilon'): number {
  if (!(epsilon >= 0 && epsilon <= 1))
    throw new ValueError(owner, `${name} must be in [0, 1], got ${epsilon}`);
  return epsilon;
}

/**
 * Random ±1 with equal probability.
 *
 * @category Cells
 */
export function randomSign(): Initializer {
  return (shape, seed) => where(lt(rand(shape, 0, 1, { seed }), 0.5), -1, 1);
}

/** The last time step of `[B, T, C]` as `[B, C]`. @internal */
export function lastStep(x: Tensor): Tensor {
  const [B, T, C] = x.shape;
  return reshape(slice(x, [0, T - 1], [null, T]), [B, C]);
}

/** Checks `x` is `[B, T, dIn]`. @internal */
export function checkSequence(owner: string, x: Tensor, dIn: number): void {
  if (x.rank !== 3 || x.shape[2] !== dIn || x.shape[1] < 1) {
    throw new ShapeError(owner, `expected input [batch, time >= 1, ${dIn}], got [${x.shape.join(',')}]`);
  }
}

/** Checks `x` is `[B, dIn]`. @internal */
export function checkStepInput(owner: string, x: Tensor, dIn: number): void {
  if (x.rank !== 2 || x.shape[1] !== dIn) {
    throw new ShapeError(owner, `expected step input [batch, ${dIn}], got [${x.shape.join(',')}]`);
  }
}

/**
 * The bistable memory recurrent unit, with the ε option that spans BMRU (ε = 0) to CMRU (ε = 1).
 * Parameters: `wc` and `wbeta` (Linear `d_in -> d_state`, `wbeta.bias` initialised to 1), `alpha`
 * (output gain, init 1) and `s0` (initial state, init random ±1).
 *
 * @category Cells
 */
export class Bmru extends Cell {
  /** `'bmru'` or `'cmru'` (the name it was created under; ε decides the dynamics). */
  readonly type: 'bmru' | 'cmru';
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  readonly parallelizable = true;
  /** ε of the update when the call's context sets none. */
  readonly epsilon: number;
  /** Surrogate sharpness `k`. */
  readonly surrogateK: number;
  /** Candidate projection `c = W_c x + b_c`. */
  readonly wc: Linear;
  /** Threshold projection `β = W_β x + b_β`. */
  readonly wbeta: Linear;

  /**
   * A BMRU (or, with `type: 'cmru'` and default ε = 1, a CMRU) from `dIn` inputs to `dState` units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   * @param options - The cell options (see `CellConfig`).
   */
  constructor(dIn: number, dState: number, options: BmruOptions & { readonly type?: 'bmru' | 'cmru' } = {}) {
    super();
    this.type = options.type ?? 'bmru';
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dState;
    this.epsilon = checkEpsilon('Bmru', options.epsilon ?? (this.type === 'cmru' ? 1 : 0));
    this.surrogateK = options.surrogateK ?? 1;
    this.wc = this.addModule('wc', new Linear(dIn, dState));
    const betaBias = options.betaBias ?? 1;
    if (!Number.isFinite(betaBias))
      throw new ValueError('Bmru', `betaBias must be a finite number, got ${String(options.betaBias)}`);
    this.wbeta = this.addModule('wbeta', new Linear(dIn, dState, { biasInit: constant(betaBias) }));
    this.addParam('alpha', [dState], onesInit(), { decay: false });
    this.addParam('s0', [dState], randomSign(), { decay: false });
  }

  /**
   * The gates `z` (switch) and `v` (target) for inputs `[..., d_in]`, as a composite of primitives:
   * the reference of the fused `coefficients`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (or one step, `[batch, dIn]`).
   */
  gates(params: ParamTree, x: Tensor): MruGates {
    const c = this.wc.apply(getSubtree(params, 'wc', 'Bmru'), x);
    const beta = this.wbeta.apply(getSubtree(params, 'wbeta', 'Bmru'), x);
    return { z: heaviside(sub(abs(c), abs(beta)), this.surrogateK), v: signSte(c, this.surrogateK) };
  }

  /**
   * The scan coefficients `(a, b)` and the switches `z` for inputs `[..., d_in]`, in one fused kernel.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (or one step, `[batch, dIn]`).
   * @param epsilon - ε of this call (default: the cell's own); annealing passes it through `apply`.
   */
  coefficients(params: ParamTree, x: Tensor, epsilon = this.epsilon): { a: Tensor; b: Tensor; z: Tensor } {
    const wc = getSubtree(params, 'wc', 'Bmru');
    const wb = getSubtree(params, 'wbeta', 'Bmru');
    const [a, b, z] = mruCoefficients(checkEpsilon('Bmru', epsilon), this.surrogateK)(
      matmul(x, getTensor(wc, 'weight', 'Linear')),
      getTensor(wc, 'bias', 'Linear'),
      matmul(x, getTensor(wb, 'weight', 'Linear')),
      getTensor(wb, 'bias', 'Linear'),
    );
    return { a, b, z };
  }

  initialState(params: ParamTree, batch: number): CellState {
    const s0 = getTensor(params, 's0', 'Bmru');
    return { s: broadcastTo(reshape(s0, [1, this.dState]), [batch, this.dState]) };
  }

  parallel(params: ParamTree, x: Tensor, options: CellRunOptions = {}): CellOutput {
    checkSequence('Bmru', x, this.dIn);
    const { a, b, z } = this.coefficients(params, x, options.epsilon);
    const h0 = options.state?.s ?? getTensor(params, 's0', 'Bmru');
    const s = scan(a, b, { h0 });
    const y = mul(s, getTensor(params, 'alpha', 'Bmru'));
    return { y, state: { s: lastStep(s) }, switchRate: mean(z) };
  }

  step(params: ParamTree, x: Tensor, state: CellState, ctx: ApplyContext = {}): CellStepOutput {
    checkStepInput('Bmru', x, this.dIn);
    const { a, b } = this.coefficients(params, x, ctx.epsilon);
    const s = add(mul(a, state.s), b);
    return { y: mul(s, getTensor(params, 'alpha', 'Bmru')), state: { s } };
  }
}
