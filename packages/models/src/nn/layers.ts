/**
 * The basic layers: Linear, LayerNorm, RMSNorm, Embedding, Dropout, the GLU MLP and a causal
 * depthwise convolution.
 *
 * Conventions: features are the last axis and every layer accepts any number of leading axes
 * (`[B, d]` for one step, `[B, T, d]` for a sequence), so the step and parallel forms of a network
 * share their layers. A Linear stores its weight as `[in, out]` (`y = x @ W + b`), so no transpose
 * is needed in the forward pass; its default initialisation is PyTorch's (uniform fan-in, bias too).
 */
import {
  add,
  concat,
  div,
  ge,
  layerNorm,
  matmul,
  mul,
  pad,
  rand,
  reshape,
  rmsNorm,
  sigmoid,
  slice,
  split,
  type Tensor,
  take,
  ValueError,
  where,
} from '@mru/core';
import { deriveSeed, getSubtree, getTensor, type ParamTree } from '../tree.js';
import { type Initializer, normal, onesInit, uniformFanIn, zerosInit } from './init.js';
import { type ApplyContext, Layer, type ParamMeta } from './module.js';

function checkDim(owner: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new ValueError(owner, `${name} must be a positive integer, got ${v}`);
}

/**
 * Options of `Linear`.
 *
 * @category Layers
 */
export interface LinearOptions {
  /** Add a bias (default true). */
  readonly bias?: boolean;
  /** Weight initialiser (default uniform fan-in). */
  readonly weightInit?: Initializer;
  /** Bias initialiser (default uniform fan-in). */
  readonly biasInit?: Initializer;
  /** Parameter group of the weight (default decay on, lr x1). */
  readonly weightMeta?: Partial<ParamMeta>;
  /** Parameter group of the bias (default decay off, lr x1). */
  readonly biasMeta?: Partial<ParamMeta>;
}

/**
 * Affine map `y = x @ weight + bias` over the last axis; `weight` is `[dIn, dOut]`.
 *
 * @category Layers
 */
export class Linear extends Layer {
  /** Input features. */
  readonly dIn: number;
  /** Output features. */
  readonly dOut: number;
  /** Whether the layer has a bias. */
  readonly hasBias: boolean;

  /**
   * A Linear from `dIn` to `dOut` features.
   *
   * @param dIn - Input features.
   * @param dOut - Output features.
   * @param options - Bias, initialisers and parameter group.
   */
  constructor(dIn: number, dOut: number, options: LinearOptions = {}) {
    super();
    checkDim('Linear', 'dIn', dIn);
    checkDim('Linear', 'dOut', dOut);
    this.dIn = dIn;
    this.dOut = dOut;
    this.hasBias = options.bias ?? true;
    this.addParam('weight', [dIn, dOut], options.weightInit ?? uniformFanIn(dIn), options.weightMeta);
    if (this.hasBias) {
      this.addParam('bias', [dOut], options.biasInit ?? uniformFanIn(dIn), {
        decay: false,
        ...options.biasMeta,
      });
    }
  }

  /**
   * `x @ weight + bias` for `x` of shape `[..., dIn]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[..., dIn]`.
   */
  apply(params: ParamTree, x: Tensor): Tensor {
    const y = matmul(x, getTensor(params, 'weight', 'Linear'));
    return this.hasBias ? add(y, getTensor(params, 'bias', 'Linear')) : y;
  }
}

/**
 * Layer normalisation over the last axis with a learned gain (init 1) and shift (init 0), no decay.
 *
 * @category Layers
 */
export class LayerNorm extends Layer {
  /** Normalised features. */
  readonly dim: number;
  /** Added to the variance. */
  readonly eps: number;

  /**
   * A LayerNorm over `dim` features.
   *
   * @param dim - The size of the normalised (last) axis.
   * @param eps - Added to the variance.
   */
  constructor(dim: number, eps = 1e-5) {
    super();
    checkDim('LayerNorm', 'dim', dim);
    this.dim = dim;
    this.eps = eps;
    this.addParam('weight', [dim], onesInit(), { decay: false });
    this.addParam('bias', [dim], zerosInit(), { decay: false });
  }

  /**
   * Normalises `x` of shape `[..., dim]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[..., dim]`.
   */
  apply(params: ParamTree, x: Tensor): Tensor {
    return layerNorm(x, {
      eps: this.eps,
      weight: getTensor(params, 'weight', 'LayerNorm'),
      bias: getTensor(params, 'bias', 'LayerNorm'),
    });
  }
}

/**
 * RMS normalisation over the last axis with a learned gain (init 1), no decay.
 *
 * @category Layers
 */
export class RMSNorm extends Layer {
  /** Normalised features. */
  readonly dim: number;
  /** Added to the mean square. */
  readonly eps: number;

  /**
   * An RMSNorm over `dim` features.
   *
   * @param dim - The size of the normalised (last) axis.
   * @param eps - Added to the mean square.
   */
  constructor(dim: number, eps = 1e-5) {
    super();
    checkDim('RMSNorm', 'dim', dim);
    this.dim = dim;
    this.eps = eps;
    this.addParam('weight', [dim], onesInit(), { decay: false });
  }

  /**
   * Normalises `x` of shape `[..., dim]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[..., dim]`.
   */
  apply(params: ParamTree, x: Tensor): Tensor {
    return rmsNorm(x, { eps: this.eps, weight: getTensor(params, 'weight', 'RMSNorm') });
  }
}

/**
 * A lookup table: int32 indices `[...]` to vectors `[..., dim]`; weights init N(0, 1).
 *
 * @category Layers
 */
export class Embedding extends Layer {
  /** Number of rows (vocabulary size). */
  readonly count: number;
  /** Vector size. */
  readonly dim: number;

  /**
   * A table of `count` vectors of size `dim`.
   *
   * @param count - The vocabulary size.
   * @param dim - The embedding width.
   */
  constructor(count: number, dim: number) {
    super();
    checkDim('Embedding', 'count', count);
    checkDim('Embedding', 'dim', dim);
    this.count = count;
    this.dim = dim;
    this.addParam('weight', [count, dim], normal(0, 1));
  }

  /**
   * The rows at `indices` (int32).
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param indices - int32 token ids.
   */
  apply(params: ParamTree, indices: Tensor): Tensor {
    if (indices.dtype !== 'int32')
      throw new ValueError('Embedding', `indices must be int32, got ${indices.dtype}`);
    return take(getTensor(params, 'weight', 'Embedding'), indices, 0);
  }
}

/**
 * Inverted dropout: in training mode each element is zeroed with probability `rate` and the rest
 * scaled by `1 / (1 - rate)`; identity in evaluation mode. The mask is drawn with a seed derived from
 * `ctx.seed` and this module's path, so two dropout layers never share a mask and a run replays exactly.
 *
 * @category Layers
 */
export class Dropout extends Layer {
  /** Probability of zeroing an element. */
  readonly rate: number;

  /**
   * Dropout with the given rate in `[0, 1)`.
   *
   * @param rate - The probability of zeroing an element, in [0, 1).
   */
  constructor(rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new ValueError('Dropout', `rate must be in [0, 1), got ${rate}`);
    this.rate = rate;
  }

  /** Applies the mask in training mode. */
  /**
   * Whether `apply` changes its input in this context (training with a positive rate).
   *
   * @param ctx - The per-call context.
   */
  active(ctx: ApplyContext = {}): boolean {
    return Boolean(ctx.train) && this.rate > 0;
  }

  apply(_params: ParamTree, x: Tensor, ctx: ApplyContext = {}): Tensor {
    if (!this.active(ctx)) return x;
    const opts = ctx.seed === undefined ? {} : { seed: deriveSeed(ctx.seed, this.path || 'dropout') };
    const keepMask = ge(rand(x.shape, 0, 1, opts), this.rate);
    return where(keepMask, div(x, 1 - this.rate), 0);
  }
}

/**
 * The GLU MLP of a block: `Linear(hidden -> dim)(a * σ(g))` with `[a, g] = Linear(dim -> 2 hidden)(x)`
 * and `hidden = expansion * dim` (default 4).
 *
 * @category Layers
 */
export class GluMlp extends Layer {
  /** Model width. */
  readonly dim: number;
  /** Width of the gated hidden layer. */
  readonly hidden: number;
  /** `dim -> 2 hidden` (value and gate). */
  readonly up: Linear;
  /** `hidden -> dim`. */
  readonly down: Linear;

  /**
   * A GLU MLP on `dim` features with `expansion * dim` hidden units.
   *
   * @param dim - Input and output width.
   * @param expansion - The hidden width as a multiple of `dim`.
   */
  constructor(dim: number, expansion = 4) {
    super();
    checkDim('GluMlp', 'dim', dim);
    if (!(expansion > 0)) throw new ValueError('GluMlp', `expansion must be positive, got ${expansion}`);
    this.dim = dim;
    this.hidden = Math.max(1, Math.round(expansion * dim));
    this.up = this.addModule('up', new Linear(dim, 2 * this.hidden));
    this.down = this.addModule('down', new Linear(this.hidden, dim));
  }

  /**
   * Forward for `x` of shape `[..., dim]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[..., dim]`.
   */
  apply(params: ParamTree, x: Tensor): Tensor {
    const h = this.up.apply(getSubtree(params, 'up', 'GluMlp'), x);
    const [a, g] = split(h, [this.hidden, this.hidden], -1);
    return this.down.apply(getSubtree(params, 'down', 'GluMlp'), mul(a, sigmoid(g)));
  }
}

/**
 * Output of `CausalConv1d.step`.
 *
 * @category Layers
 */
export interface ConvStep {
  /** This step's output `[B, channels]`. */
  readonly y: Tensor;
  /** The last `kernel - 1` inputs, for the next step. */
  readonly window: Tensor;
}

/**
 * Causal depthwise convolution over time: `y[b,t,c] = bias[c] + Σ_j weight[j,c] x[b, t-k+1+j, c]`
 * with zeros before the start (no output depends on a later input). `weight` is `[kernel, channels]`,
 * initialised uniform fan-in with `fanIn = kernel` like PyTorch's depthwise `Conv1d`.
 *
 * @category Layers
 */
export class CausalConv1d extends Layer {
  /** Channels (input = output). */
  readonly channels: number;
  /** Kernel length in time steps. */
  readonly kernel: number;

  /**
   * A causal depthwise convolution of `channels` channels over `kernel` steps.
   *
   * @param channels - Channels (depthwise).
   * @param kernel - The kernel size.
   */
  constructor(channels: number, kernel: number) {
    super();
    checkDim('CausalConv1d', 'channels', channels);
    checkDim('CausalConv1d', 'kernel', kernel);
    this.channels = channels;
    this.kernel = kernel;
    this.addParam('weight', [kernel, channels], uniformFanIn(kernel), { decay: true });
    this.addParam('bias', [channels], uniformFanIn(kernel), { decay: false });
  }

  /**
   * Convolves `x` of shape `[B, T, channels]`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, channels]`.
   */
  apply(params: ParamTree, x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.channels) {
      throw new ValueError(
        'CausalConv1d',
        `expected [batch, time, ${this.channels}], got [${x.shape.join(',')}]`,
      );
    }
    const w = getTensor(params, 'weight', 'CausalConv1d');
    const T = x.shape[1];
    const k = this.kernel;
    const xp = pad(x, [
      [0, 0],
      [k - 1, 0],
      [0, 0],
    ]);
    let y = getTensor(params, 'bias', 'CausalConv1d');
    for (let j = 0; j < k; j++) {
      const xj = slice(xp, [0, j], [null, j + T]);
      const wj = slice(w, [j], [j + 1]);
      y = add(y, mul(xj, wj));
    }
    return y;
  }

  /**
   * One step: `window` holds the last `kernel - 1` inputs `[B, kernel - 1, channels]` (zeros at the
   * start); returns the output for `x` `[B, channels]` and the shifted window.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs of one step, `[batch, channels]`.
   * @param window - The last `kernel - 1` inputs.
   */
  step(params: ParamTree, x: Tensor, window: Tensor): ConvStep {
    const w = getTensor(params, 'weight', 'CausalConv1d');
    const B = x.shape[0];
    const full = concat([window, reshape(x, [B, 1, this.channels])], 1);
    let y = getTensor(params, 'bias', 'CausalConv1d');
    for (let j = 0; j < this.kernel; j++) {
      const xj = slice(full, [0, j], [null, j + 1]);
      y = add(y, mul(xj, slice(w, [j], [j + 1])));
    }
    return { y: reshape(y, [B, this.channels]), window: slice(full, [0, 1]) };
  }
}
