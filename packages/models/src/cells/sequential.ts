/**
 * The sequential baselines: GRU, and the bistable cells that preceded the MRU, BRC and nBRC
 * (the models guide, "GRU, BRC and nBRC"). Their state feeds back through a nonlinearity, so there is no
 * scan form: `parallel` projects the inputs of every step at once (one matmul) and then loops over
 * `step`. They show what parallelism buys and what it costs.
 *
 * GRU (PyTorch's convention): `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
 * `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`, `h' = (1 - z) n + z h`; all weights uniform in
 * `±1/sqrt(d_state)`.
 * BRC: `a = 1 + tanh(U_a x + w_a h)`, `c = σ(U_c x + w_c h)`, `h' = c h + (1 - c) tanh(U x + a h)` with
 * per-unit `w_a = w_c = 1` at init; nBRC replaces `w_a h`, `w_c h` by full matrices `h W_a`, `h W_c`
 * (uniform fan-in, our choice). Initial states are zero.
 */
import {
  add,
  matmul,
  mul,
  reshape,
  sigmoid,
  slice,
  split,
  stack,
  sub,
  type Tensor,
  tanh,
  zeros,
} from '@mru/core';
import { onesInit, uniformFanIn } from '../nn/init.js';
import { Linear } from '../nn/layers.js';
import { getSubtree, getTensor, type ParamTree } from '../tree.js';
import { checkSequence, checkStepInput } from './bmru.js';
import { Cell, type CellOutput, type CellRunOptions, type CellState, type CellStepOutput } from './cell.js';

/**
 * A cell whose recurrence has no scan form: a loop over steps of input projections.
 *
 * @category Cells
 */
export abstract class SequentialCell extends Cell {
  readonly parallelizable = false;

  /**
   * Projects inputs `[..., d_in]` to the per-step drive `[..., k]` (no recurrence involved).
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]`.
   */
  protected abstract project(params: ParamTree, x: Tensor): Tensor;
  /**
   * One step from a projected input `[B, k]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param p - The input projection of this step (from `project`).
   * @param state - The state after the previous step.
   */
  protected abstract stepProjected(params: ParamTree, p: Tensor, state: CellState): CellStepOutput;

  initialState(_params: ParamTree, batch: number): CellState {
    return { h: zeros([batch, this.dState]) };
  }

  parallel(params: ParamTree, x: Tensor, options: CellRunOptions = {}): CellOutput {
    checkSequence(this.constructor.name, x, this.dIn);
    const [B, T] = x.shape;
    const p = this.project(params, x);
    const k = p.shape[2];
    let state = options.state ?? this.initialState(params, B);
    const ys: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const pt = reshape(slice(p, [0, t], [null, t + 1]), [B, k]);
      const out = this.stepProjected(params, pt, state);
      ys.push(out.y);
      state = out.state;
    }
    return { y: stack(ys, 1), state };
  }

  step(params: ParamTree, x: Tensor, state: CellState): CellStepOutput {
    checkStepInput(this.constructor.name, x, this.dIn);
    return this.stepProjected(params, this.project(params, x), state);
  }
}

/**
 * The standard GRU. Parameters: `wi` (`d_in -> 3 d_state`), `wh` (`d_state -> 3 d_state`).
 *
 * @category Cells
 */
export class Gru extends SequentialCell {
  readonly type = 'gru' as const;
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  /** Input projection `[W_ir, W_iz, W_in]` with biases. */
  readonly wi: Linear;
  /** State projection `[W_hr, W_hz, W_hn]` with biases. */
  readonly wh: Linear;

  /**
   * A GRU from `dIn` inputs to `dState` units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   */
  constructor(dIn: number, dState: number) {
    super();
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dState;
    const init = uniformFanIn(dState);
    this.wi = this.addModule('wi', new Linear(dIn, 3 * dState, { weightInit: init, biasInit: init }));
    this.wh = this.addModule('wh', new Linear(dState, 3 * dState, { weightInit: init, biasInit: init }));
  }

  protected project(params: ParamTree, x: Tensor): Tensor {
    return this.wi.apply(getSubtree(params, 'wi', 'Gru'), x);
  }

  protected stepProjected(params: ParamTree, p: Tensor, state: CellState): CellStepOutput {
    const H = this.dState;
    const q = this.wh.apply(getSubtree(params, 'wh', 'Gru'), state.h);
    const [pr, pz, pn] = split(p, [H, H, H], -1);
    const [qr, qz, qn] = split(q, [H, H, H], -1);
    const r = sigmoid(add(pr, qr));
    const z = sigmoid(add(pz, qz));
    const n = tanh(add(pn, mul(r, qn)));
    // (1 - z) n + z h = n + z (h - n)
    const h = add(n, mul(z, sub(state.h, n)));
    return { y: h, state: { h } };
  }
}

/**
 * BRC, or nBRC with `neuromodulated: true`. Parameters: `u` (Linear `d_in -> 3 d_state`: `[U_a, U_c, U]`
 * with biases), and `wa`, `wc`: vectors `[d_state]` (BRC, init 1) or matrices `[d_state, d_state]` (nBRC).
 *
 * @category Cells
 */
export class Brc extends SequentialCell {
  readonly type: 'brc' | 'nbrc';
  readonly dIn: number;
  readonly dState: number;
  readonly dOut: number;
  /** True for the nBRC (full recurrent matrices). */
  readonly neuromodulated: boolean;
  /** Joint input projection `[U_a, U_c, U]`. */
  readonly u: Linear;

  /**
   * A BRC (or nBRC) from `dIn` inputs to `dState` units.
   *
   * @param dIn - Input features.
   * @param dState - Recurrent units.
   * @param options - The cell options (see `CellConfig`).
   */
  constructor(dIn: number, dState: number, options: { readonly neuromodulated?: boolean } = {}) {
    super();
    this.dIn = dIn;
    this.dState = dState;
    this.dOut = dState;
    this.neuromodulated = options.neuromodulated ?? false;
    this.type = this.neuromodulated ? 'nbrc' : 'brc';
    this.u = this.addModule('u', new Linear(dIn, 3 * dState));
    if (this.neuromodulated) {
      this.addParam('wa', [dState, dState], uniformFanIn(dState));
      this.addParam('wc', [dState, dState], uniformFanIn(dState));
    } else {
      this.addParam('wa', [dState], onesInit(), { decay: false });
      this.addParam('wc', [dState], onesInit(), { decay: false });
    }
  }

  protected project(params: ParamTree, x: Tensor): Tensor {
    return this.u.apply(getSubtree(params, 'u', 'Brc'), x);
  }

  #recurrent(params: ParamTree, name: 'wa' | 'wc', h: Tensor): Tensor {
    const w = getTensor(params, name, 'Brc');
    return this.neuromodulated ? matmul(h, w) : mul(h, w);
  }

  protected stepProjected(params: ParamTree, p: Tensor, state: CellState): CellStepOutput {
    const H = this.dState;
    const h = state.h;
    const [pa, pc, pu] = split(p, [H, H, H], -1);
    const a = add(tanh(add(pa, this.#recurrent(params, 'wa', h))), 1);
    const c = sigmoid(add(pc, this.#recurrent(params, 'wc', h)));
    const candidate = tanh(add(pu, mul(a, h)));
    // c h + (1 - c) candidate = candidate + c (h - candidate)
    const next = add(candidate, mul(c, sub(h, candidate)));
    return { y: next, state: { h: next } };
  }
}
