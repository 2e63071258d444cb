/**
 * Optimizers: SGD (momentum, Nesterov), Adam and AdamW, with parameter groups and gradient clipping.
 *
 * Design: an optimizer maps `(params, grads)` to new params, `params = opt.step(params, grads)`. Its
 * moments are tensors it owns, keyed by the parameters' dotted names. Each update runs inside `tidy`
 * and then disposes the replaced parameters and moments, so a loop of `valueAndGrad` + `step` holds a
 * constant number of tensors (tested with `memory()`). The new parameters and moments are `keep`-ed:
 * a `tidy` the caller wraps around a step cannot free them; the optimizer frees them when it replaces
 * them (or in `dispose`).
 *
 * Parameter groups come from `module.paramSpecs()` (`meta` option): each parameter's learning rate is
 * `lr(step) * lrScale` and weight decay applies only where `decay` is true. Names without metadata get
 * `decay: rank >= 2, lrScale: 1`. Gradient clipping (`clipNorm`) rescales all gradients together when
 * their global L2 norm exceeds the limit; the norm stays a tensor (no device sync) and is exposed as
 * `lastGradNorm`.
 */
import {
  add,
  concat,
  dispose,
  type Expr,
  type ExprLike,
  fmtShape,
  fuse,
  keep,
  mul,
  reshape,
  ShapeError,
  shapesEqual,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
  ValueError,
} from '@mru/core';
import type { ParamMeta } from '../nn/module.js';
import { flattenTree, type ParamTree, unflattenTree } from '../tree.js';
import type { Schedule } from './schedules.js';

/**
 * An optimizer's moments by `'<slot>.<param name>'`, and its step count (for checkpoints).
 *
 * @category Optimizers
 */
export interface OptimizerState {
  /** Updates applied. */
  readonly step: number;
  /** Moment tensors, e.g. `'m.layers.0.cell.wc.weight'`. */
  readonly tensors: Readonly<Record<string, Tensor>>;
}

/**
 * Gradients after clipping, with the norm before.
 *
 * @category Optimizers
 */
export interface ClippedGradients {
  /** The rescaled gradients. */
  readonly grads: ParamTree;
  /** Global L2 norm before clipping (scalar). */
  readonly norm: Tensor;
}

/**
 * Options shared by every optimizer.
 *
 * @category Optimizers
 */
export interface OptimizerOptions {
  /** Learning rate: a number or a schedule of the step. */
  readonly lr: number | Schedule;
  /** Weight decay coefficient (L2 for SGD and Adam, decoupled for AdamW). */
  readonly weightDecay?: number;
  /** Parameter groups by dotted name, e.g. `network.paramSpecs()`. */
  readonly meta?: Readonly<Record<string, ParamMeta>>;
  /** Clip gradients to this global L2 norm before each update (default: no clipping). */
  readonly clipNorm?: number;
  /** Dispose the parameters passed to `step` once replaced (default true). */
  readonly disposeOld?: boolean;
}

/**
 * What one parameter's update returns: the new value and the new state slots.
 *
 * @category Optimizers
 */
export interface UpdateResult {
  /** The updated parameter. */
  readonly param: Tensor;
  /** The new state slots (e.g. `{ m, v }`). */
  readonly state: Record<string, Tensor>;
}

/**
 * What one parameter's update receives.
 *
 * @category Optimizers
 */
export interface UpdateArgs {
  /** The learning rate of this parameter at this step (schedule times `lrScale`). */
  readonly lr: number;
  /** The weight decay of this parameter (0 when its group has decay off). */
  readonly weightDecay: number;
  /** 1-based index of this update. */
  readonly t: number;
  /**
   * The global-norm clipping factor (a scalar tensor) the gradient must be multiplied by, when
   * `clipNorm` is set: folded into the update rather than applied as a separate pass.
   */
  readonly gradScale?: Tensor;
}

/**
 * Scales every gradient by `min(1, maxNorm / (‖g‖ + 1e-6))`, where `‖g‖` is the L2 norm of all the
 * gradients together. Returns the clipped tree and the norm before clipping (a scalar tensor).
 *
 * @param grads - The gradients.
 * @param maxNorm - The largest global L2 norm allowed.
 * @category Optimizers
 */
export function clipGradNorm(grads: ParamTree, maxNorm: number): ClippedGradients {
  return tidy(() => {
    const { scale, norm } = clipScale(grads, maxNorm);
    const flat = flattenTree(grads);
    const out: Record<string, Tensor> = {};
    for (const [n, g] of Object.entries(flat)) out[n] = mul(g, scale);
    return { grads: unflattenTree(out), norm };
  });
}

/**
 * The factor `min(1, maxNorm / (‖g‖ + 1e-6))` of global-norm clipping and the norm `‖g‖`, both scalar
 * tensors. All gradients are gathered into one vector whose squares are summed once, so the cost is a
 * few kernels whatever the number of parameters (a copy of the gradients, tiny next to the step).
 */
function clipScale(grads: ParamTree, maxNorm: number): { scale: Tensor; norm: Tensor } {
  if (!(maxNorm > 0)) throw new ValueError('clipGradNorm', `maxNorm must be positive, got ${maxNorm}`);
  const flat = Object.values(flattenTree(grads));
  if (flat.length === 0) throw new ValueError('clipGradNorm', 'no gradients to clip');
  return tidy(() => {
    const parts = flat.map((g) => reshape(g, [g.size]));
    const norm = sqrt(sum(square(parts.length === 1 ? parts[0] : concat(parts, 0))));
    const scale = fuse((e, n) => e.minimum(e.div(maxNorm, e.add(n, 1e-6)), 1), { name: 'clipGradNorm' })(
      norm,
    );
    return { scale, norm };
  });
}

/**
 * Base class: bookkeeping of steps, groups, state lifetime and clipping.
 *
 * @category Optimizers
 */
export abstract class Optimizer {
  /** Learning rate or schedule. */
  readonly lr: number | Schedule;
  /** Weight decay coefficient. */
  readonly weightDecay: number;
  /** Global-norm clip, if any. */
  readonly clipNorm: number | undefined;
  readonly #meta: Readonly<Record<string, ParamMeta>>;
  readonly #disposeOld: boolean;
  #step = 0;
  #state = new Map<string, Record<string, Tensor>>();
  #lastGradNorm: Tensor | null = null;

  /**
   * Shared options.
   *
   * @param options - Learning rate (a number or a schedule), parameter groups and clipping.
   */
  constructor(options: OptimizerOptions) {
    if (typeof options.lr === 'number' && !(options.lr >= 0)) {
      throw new ValueError(this.constructor.name, `lr must be >= 0, got ${options.lr}`);
    }
    this.lr = options.lr;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.weightDecay >= 0)) throw new ValueError(this.constructor.name, `weightDecay must be >= 0`);
    this.clipNorm = options.clipNorm;
    this.#meta = options.meta ?? {};
    this.#disposeOld = options.disposeOld ?? true;
  }

  /** Updates applied so far. */
  get stepCount(): number {
    return this.#step;
  }

  /** The learning rate of the next update (before `lrScale`). */
  currentLr(): number {
    return typeof this.lr === 'number' ? this.lr : this.lr(this.#step);
  }

  /** Global gradient norm of the last step when `clipNorm` is set (owned by the optimizer). */
  get lastGradNorm(): Tensor | null {
    return this.#lastGradNorm;
  }

  /** The names of the per-parameter state slots (e.g. `['m', 'v']`). */
  protected abstract readonly slots: readonly string[];

  /**
   * One parameter's update; runs inside `tidy`. Missing slots are zeros.
   *
   * @param param - The parameter.
   * @param grad - Its gradient.
   * @param state - Its optimizer state (moments), updated in place.
   * @param args - The learning rate, step and group settings of this step.
   */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    state: Record<string, Tensor>,
    args: UpdateArgs,
  ): UpdateResult;

  #metaOf(name: string, p: Tensor): ParamMeta {
    return this.#meta[name] ?? { decay: p.rank >= 2, lrScale: 1 };
  }

  /**
   * Applies one update and returns the new parameters (same structure). The old parameters (unless
   * `disposeOld: false`) and moments are disposed; `grads` are left to the caller.
   *
   * @param params - The current parameters; disposed after the step.
   * @param grads - Their gradients, of the same structure.
   */
  step(params: ParamTree, grads: ParamTree): ParamTree {
    const op = `${this.constructor.name}.step`;
    const flatP = flattenTree(params);
    const flatG = flattenTree(grads);
    for (const [name, p] of Object.entries(flatP)) {
      const g = flatG[name];
      if (!g) throw new ValueError(op, `no gradient for parameter '${name}'`);
      if (!shapesEqual(g.shape, p.shape)) {
        throw new ShapeError(
          op,
          `gradient of '${name}' has shape ${fmtShape(g.shape)}, parameter ${fmtShape(p.shape)}`,
        );
      }
    }
    const lr = this.currentLr();
    const t = this.#step + 1;
    let clippedNorm: Tensor | null = null;
    const result = tidy(() => {
      let gradScale: Tensor | undefined;
      if (this.clipNorm !== undefined) {
        const clipped = clipScale(grads, this.clipNorm);
        gradScale = clipped.scale;
        clippedNorm = clipped.norm;
      }
      const newParams: Record<string, Tensor> = {};
      const newState: Record<string, Record<string, Tensor>> = {};
      for (const [name, p] of Object.entries(flatP)) {
        const meta = this.#metaOf(name, p);
        const out = this.update(p, flatG[name], this.#state.get(name) ?? {}, {
          lr: lr * meta.lrScale,
          weightDecay: meta.decay ? this.weightDecay : 0,
          t,
          gradScale,
        });
        newParams[name] = out.param;
        newState[name] = out.state;
      }
      return { newParams, newState, norm: clippedNorm as Tensor | null };
    });
    for (const t2 of Object.values(result.newParams)) keep(t2);
    for (const s of Object.values(result.newState)) for (const t2 of Object.values(s)) keep(t2);
    if (result.norm) keep(result.norm);
    // Release what was replaced.
    for (const s of this.#state.values()) dispose(s);
    if (this.#disposeOld) {
      for (const [name, p] of Object.entries(flatP)) if (result.newParams[name] !== p) p.dispose();
    }
    this.#lastGradNorm?.dispose();
    this.#lastGradNorm = result.norm;
    this.#state = new Map(Object.entries(result.newState));
    this.#step = t;
    return unflattenTree(result.newParams);
  }

  /** The moments as a flat map `'<slot>.<param name>'` (for checkpoints), plus the step count. */
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    for (const [name, s] of this.#state)
      for (const [slot, t] of Object.entries(s)) tensors[`${slot}.${name}`] = t;
    return { step: this.#step, tensors };
  }

  /**
   * Restores `stateDict()` output; the optimizer takes ownership of the tensors.
   *
   * @param dict - A state from `stateDict` (for example read from a checkpoint).
   */
  loadStateDict(dict: OptimizerState): void {
    if (!Number.isInteger(dict.step) || dict.step < 0) {
      throw new ValueError(
        `${this.constructor.name}.loadStateDict`,
        `step must be a non-negative integer, got ${dict.step}`,
      );
    }
    const next = new Map<string, Record<string, Tensor>>();
    for (const [key, t] of Object.entries(dict.tensors)) {
      const dot = key.indexOf('.');
      const slot = key.slice(0, dot);
      if (dot < 0 || !this.slots.includes(slot)) {
        throw new ValueError(
          `${this.constructor.name}.loadStateDict`,
          `unexpected state tensor '${key}' (slots: ${this.slots.join(', ')})`,
        );
      }
      const name = key.slice(dot + 1);
      // With parameter specs at hand, a moment must belong to a parameter and have its shape: one of
      // shape [1] would otherwise broadcast silently in the update.
      const spec = (Object.hasOwn(this.#meta, name) ? this.#meta[name] : undefined) as
        | { shape?: readonly number[] }
        | undefined;
      if (Object.keys(this.#meta).length > 0 && !spec) {
        throw new ValueError(
          `${this.constructor.name}.loadStateDict`,
          `state tensor '${key}' names no parameter`,
        );
      }
      if (
        spec?.shape &&
        (spec.shape.length !== t.shape.length || spec.shape.some((d, i) => d !== t.shape[i]))
      ) {
        throw new ValueError(
          `${this.constructor.name}.loadStateDict`,
          `state tensor '${key}' has shape [${t.shape.join(',')}], its parameter [${spec.shape.join(',')}]`,
        );
      }
      const entry = next.get(name) ?? {};
      entry[slot] = t;
      next.set(name, entry);
    }
    // All or none: a resume from moments of some parameters only would silently not be exact.
    // Every parameter (all of them when the specs are known) must carry the same slots.
    if (next.size > 0) {
      const op = `${this.constructor.name}.loadStateDict`;
      const slotsSeen = this.slots;
      const names = Object.keys(this.#meta).length > 0 ? Object.keys(this.#meta) : [...next.keys()];
      const missing: string[] = [];
      for (const name of names) {
        const have = next.get(name) ?? {};
        for (const slot of slotsSeen) if (!have[slot]) missing.push(`${slot}.${name}`);
      }
      if (missing.length > 0) {
        const total = names.length * slotsSeen.length;
        throw new ValueError(
          op,
          `the state holds ${total - missing.length} of ${total} moments; missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? `, ... (${missing.length} in all)` : ''}. Load all of them, or none to start from fresh moments`,
        );
      }
    }
    for (const e of next.values()) for (const t of Object.values(e)) keep(t);
    for (const s of this.#state.values()) dispose(s);
    this.#state = next;
    this.#step = dict.step;
  }

  /** Frees the moments (and the last gradient norm). The optimizer can continue from zero moments. */
  dispose(): void {
    for (const s of this.#state.values()) dispose(s);
    this.#state.clear();
    this.#lastGradNorm?.dispose();
    this.#lastGradNorm = null;
  }
}

/**
 * Options of `SGD`.
 *
 * @category Optimizers
 */
export interface SgdOptions extends OptimizerOptions {
  /** Momentum μ (default 0). */
  readonly momentum?: number;
  /** Nesterov momentum (default false). */
  readonly nesterov?: boolean;
}

/**
 * SGD with momentum (PyTorch's form): `g' = g + wd p`, `buf = μ buf + g'`,
 * `p -= lr (nesterov ? g' + μ buf : buf)` (plain `p -= lr g'` when μ = 0).
 *
 * @category Optimizers
 */
export class SGD extends Optimizer {
  /** Momentum μ. */
  readonly momentum: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  protected readonly slots: readonly string[] = ['momentum'];

  /**
   * An SGD optimizer.
   *
   * @param options - Learning rate (a number or a schedule), parameter groups and clipping.
   */
  constructor(options: SgdOptions) {
    super(options);
    this.momentum = options.momentum ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new ValueError('SGD', `momentum must be in [0, 1)`);
  }

  protected update(p: Tensor, grad: Tensor, state: Record<string, Tensor>, args: UpdateArgs): UpdateResult {
    const g = args.gradScale ? mul(grad, args.gradScale) : grad;
    const gd = args.weightDecay > 0 ? add(g, mul(p, args.weightDecay)) : g;
    if (this.momentum === 0) return { param: sub(p, mul(gd, args.lr)), state: {} };
    const buf = state.momentum ? add(mul(state.momentum, this.momentum), gd) : gd;
    const dir = this.nesterov ? add(gd, mul(buf, this.momentum)) : buf;
    // A buffer that aliases the gradient would be freed with it by the caller: copy through an op.
    return { param: sub(p, mul(dir, args.lr)), state: { momentum: buf === g ? mul(g, 1) : buf } };
  }
}

/**
 * Options of `Adam` and `AdamW`.
 *
 * @category Optimizers
 */
export interface AdamOptions extends OptimizerOptions {
  /** β1 (default 0.9). */
  readonly beta1?: number;
  /** β2 (default 0.999 for Adam, 0.99 for AdamW, the training default of the models guide). */
  readonly beta2?: number;
  /** ε of the denominator (default 1e-8). */
  readonly eps?: number;
}

/**
 * Adam with optional L2 weight decay (`g' = g + wd p`), bias-corrected moments.
 *
 * @category Optimizers
 */
export class Adam extends Optimizer {
  /** β1. */
  readonly beta1: number;
  /** β2. */
  readonly beta2: number;
  /** Denominator ε. */
  readonly eps: number;
  protected readonly slots: readonly string[] = ['m', 'v'];
  /** True for AdamW: decay is decoupled from the gradient. */
  protected readonly decoupled: boolean = false;

  /**
   * An Adam optimizer.
   *
   * @param options - Learning rate (a number or a schedule), parameter groups and clipping.
   * @param defaultBeta2 - β2 when `options.betas` is not given.
   */
  constructor(options: AdamOptions, defaultBeta2 = 0.999) {
    super(options);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? defaultBeta2;
    this.eps = options.eps ?? 1e-8;
    for (const [n, b] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw new ValueError(this.constructor.name, `${n} must be in [0, 1), got ${b}`);
    }
  }

  /**
   * One fused kernel per parameter: clipping factor, weight decay, both moments, bias correction and
   * the step, reading `p, g, m, v` once and writing `p, m, v` once. The expression keeps the order of
   * operations of the textbook form (below), so it equals the unfused chain of ops.
   *
   * @param p - The parameter.
   * @param g - Its gradient.
   * @param state - Its optimizer state (moments), updated in place.
   * @param args - The learning rate, step and group settings of this step.
   */
  protected update(p: Tensor, g: Tensor, state: Record<string, Tensor>, args: UpdateArgs): UpdateResult {
    const { lr, weightDecay, t, gradScale } = args;
    const { beta1, beta2, eps, decoupled } = this;
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    const inputs = [
      p,
      g,
      ...(state.m ? [state.m] : []),
      ...(state.v ? [state.v] : []),
      ...(gradScale ? [gradScale] : []),
    ];
    const step = fuse(
      (e, ...xs: Expr[]) => {
        const it = xs[Symbol.iterator]();
        const next = (): Expr => it.next().value as Expr;
        const pp = next();
        let grad: ExprLike = next();
        const m0: ExprLike = state.m ? next() : 0;
        const v0: ExprLike = state.v ? next() : 0;
        if (gradScale) grad = e.mul(grad, next());
        let param: ExprLike = pp;
        if (weightDecay > 0) {
          if (decoupled) param = e.mul(pp, 1 - lr * weightDecay);
          else grad = e.add(grad, e.mul(pp, weightDecay));
        }
        const m = e.add(e.mul(m0, beta1), e.mul(grad, 1 - beta1));
        const v = e.add(e.mul(v0, beta2), e.mul(e.square(grad), 1 - beta2));
        // p -= lr * (m / c1) / (sqrt(v / c2) + eps)
        const dir = e.div(e.div(m, c1), e.add(e.sqrt(e.div(v, c2)), eps));
        return [e.sub(param, e.mul(dir, lr)), m, v];
      },
      { name: `${this.constructor.name}.update` },
    );
    const [param, m, v] = step(...inputs);
    return { param, state: { m, v } };
  }
}

/**
 * AdamW (decoupled weight decay, `p *= 1 - lr wd` before the Adam step). Defaults are the training defaults of the models guide:
 * β = (0.9, 0.99), weight decay 1e-4.
 *
 * @category Optimizers
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  /**
   * An AdamW optimizer.
   *
   * @param options - Learning rate (a number or a schedule), parameter groups and clipping.
   */
  constructor(options: AdamOptions) {
    // `?? 1e-4`, not a spread default: an explicit `weightDecay: undefined` keeps the default.
    super({ ...options, weightDecay: options.weightDecay ?? 1e-4 }, 0.99);
  }
}
