/**
 * A residual MLP stage, `x + γ ⊙ Dropout(GluMlp(Norm(x)))`, for use outside the recurrent blocks:
 * after the input embedding and before the readout head (`NetworkConfig.stemMlp`). It works on the
 * last axis only, so the streaming step form of a network applies it unchanged.
 */
import { add, mul, type Tensor } from '@mru/core';
import { getSubtree, getTensor, type ParamTree } from '../tree.js';
import { onesInit } from './init.js';
import { Dropout, GluMlp, LayerNorm, RMSNorm } from './layers.js';
import { type ApplyContext, Layer } from './module.js';

/** Options of `ResidualMlp`. */
export interface ResidualMlpOptions {
  /** Hidden width of the GLU MLP as a multiple of `dim` (default 4). */
  readonly expansion?: number;
  /** Dropout rate on the MLP branch (default 0). */
  readonly dropout?: number;
  /** Normalisation before the MLP (default `'layer'`). */
  readonly norm?: 'layer' | 'rms';
}

/** `x + γ ⊙ Dropout(GluMlp(Norm(x)))`; parameters `norm`, `mlp`, `gamma` (init 1, no decay). */
export class ResidualMlp extends Layer {
  /** Model width. */
  readonly dim: number;
  readonly #norm: LayerNorm | RMSNorm;
  readonly #mlp: GluMlp;
  readonly #drop: Dropout;

  /**
   * A residual MLP stage on `dim` features.
   *
   * @param dim - The feature width, in and out.
   * @param options - The norm, the MLP's expansion and the dropout rate.
   */
  constructor(dim: number, options: ResidualMlpOptions = {}) {
    super();
    this.dim = dim;
    this.#norm = this.addModule('norm', options.norm === 'rms' ? new RMSNorm(dim) : new LayerNorm(dim));
    this.#mlp = this.addModule('mlp', new GluMlp(dim, options.expansion ?? 4));
    this.#drop = this.addModule('drop', new Dropout(options.dropout ?? 0));
    this.addParam('gamma', [dim], onesInit(), { decay: false });
  }

  /**
   * The stage on `x` `[..., dim]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The input, `[..., dim]`.
   * @param ctx - The per-call context: train mode and dropout seed.
   */
  apply(params: ParamTree, x: Tensor, ctx: ApplyContext = {}): Tensor {
    const h = this.#mlp.apply(
      getSubtree(params, 'mlp', 'ResidualMlp'),
      this.#norm.apply(getSubtree(params, 'norm', 'ResidualMlp'), x),
    );
    return add(x, mul(this.#drop.apply(params, h, ctx), getTensor(params, 'gamma', 'ResidualMlp')));
  }
}
