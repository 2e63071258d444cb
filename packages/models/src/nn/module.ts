/**
 * The `Module` base class: a stateless description of a layer and its parameters.
 *
 * Design (functional modules): a module holds its configuration, the *specification* of its
 * parameters (shape, initialiser, optimizer metadata) and its child modules, but never the parameter
 * values. `init(seed)` makes a fresh `ParamTree`; forward functions take that tree explicitly,
 * `layer.apply(params, x, ctx)`. This fits `valueAndGrad(fn)(params)` exactly (the tree is the
 * differentiated argument), lets one module serve several parameter sets (an optimizer step returns
 * new params; the old ones are disposed), and keeps modules free of tensor lifetimes.
 *
 * Train/eval mode is not module state: it travels in the `ApplyContext` of each call (`{ train: true,
 * seed }`), which is also where dropout takes its randomness from, and where annealed quantities (ε of
 * the BMRU family, the FQ-BMRU leak) come in. Parameter groups are metadata on each
 * spec: `decay` (weight decay on/off) and `lrScale` (learning-rate multiplier), read by the optimizers
 * through `paramSpecs()`, a flat map keyed by the same dotted names as `flattenTree(params)`.
 */
import { fmtShape, ShapeError, shapesEqual, Tensor, tidy, ValueError } from '@mru/core';
import { deriveSeed, flattenTree, type ParamTree } from '../tree.js';
import type { Initializer } from './init.js';

/** Optimizer metadata of one parameter (its parameter group). */
export interface ParamMeta {
  /** Whether weight decay applies (off for norms, biases, gains, the LRU's recurrent parameters). */
  readonly decay: boolean;
  /** Multiplier of the learning rate (0.5 for the LRU's recurrent parameters). */
  readonly lrScale: number;
}

/** The specification of one parameter: shape, initialiser and optimizer metadata. */
export interface ParamSpec extends ParamMeta {
  /** Shape of the tensor. */
  readonly shape: readonly number[];
  /** How `init` makes its value. */
  readonly init: Initializer;
}

/** Per-call options of forward functions. */
export interface ApplyContext {
  /** Training mode: dropout active. Default false (evaluation). */
  readonly train?: boolean;
  /**
   * Seed of this call's randomness (dropout masks), e.g. the step number mixed with a run seed. When
   * absent in training mode, masks draw from core's global random stream (reproducible after `seed()`).
   */
  readonly seed?: number;
  /**
   * ε of every BMRU/CMRU cell for this call, over the cells' own (ε annealing: the training step
   * evaluates its schedule and passes the value here, so no module changes during training).
   */
  readonly epsilon?: number;
  /** The leak of every FQ-BMRU cell for this call, over the cells' own (leak annealing). */
  readonly leak?: number;
}

/**
 * Base class of every layer, cell and network. Subclasses declare parameters with `addParam` and
 * children with `addModule` in their constructor.
 */
export abstract class Module {
  /** Dotted path of this module inside the root that owns it (`''` for a root). */
  #path = '';
  readonly #params = new Map<string, ParamSpec>();
  readonly #children = new Map<string, Module>();

  /** Dotted path of this module inside its root, e.g. `'layers.0.cell'` (empty for the root). */
  get path(): string {
    return this.#path;
  }

  /** Declares a parameter. `meta` defaults to `{ decay: shape.length >= 2, lrScale: 1 }`. */
  protected addParam(
    name: string,
    shape: readonly number[],
    init: Initializer,
    meta: Partial<ParamMeta> = {},
  ): void {
    this.#checkName(name);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new ValueError(
          this.constructor.name,
          `parameter '${name}' has invalid shape [${shape.join(',')}]`,
        );
      }
    }
    this.#params.set(name, {
      shape: [...shape],
      init,
      decay: meta.decay ?? shape.length >= 2,
      lrScale: meta.lrScale ?? 1,
    });
  }

  /** Declares a child module; returns it. Its parameters live under `name` in the tree. */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name);
    this.#children.set(name, module);
    module.#setPath(this.#path ? `${this.#path}.${name}` : name);
    return module;
  }

  #checkName(name: string): void {
    if (!name || name.includes('.')) throw new ValueError(this.constructor.name, `invalid name '${name}'`);
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new ValueError(this.constructor.name, `name '${name}' is declared twice`);
    }
  }

  #setPath(path: string): void {
    this.#path = path;
    for (const [name, child] of this.#children) child.#setPath(`${path}.${name}`);
  }

  /** Child modules by name. */
  children(): ReadonlyMap<string, Module> {
    return this.#children;
  }

  /** Specifications of every parameter of this module and its children, keyed by dotted name. */
  paramSpecs(): Record<string, ParamSpec> {
    const out: Record<string, ParamSpec> = {};
    for (const [name, spec] of this.#params) out[name] = spec;
    for (const [childName, child] of this.#children) {
      for (const [name, spec] of Object.entries(child.paramSpecs())) out[`${childName}.${name}`] = spec;
    }
    return out;
  }

  /**
   * Checks a parameter tree against `paramSpecs()`: every parameter present, float32, of the declared
   * shape, and nothing else. Throws a `ShapeError` or `ValueError` naming the parameter.
   */
  checkParams(params: ParamTree): void {
    const owner = `${this.constructor.name}.checkParams`;
    const flat = flattenTree(params);
    const specs = this.paramSpecs();
    for (const [name, spec] of Object.entries(specs)) {
      const t = flat[name];
      if (!(t instanceof Tensor))
        throw new ValueError(owner, `missing parameter '${name}' of shape ${fmtShape(spec.shape)}`);
      if (t.dtype !== 'float32')
        throw new ValueError(owner, `parameter '${name}' is ${t.dtype}, expected float32`);
      if (!shapesEqual(t.shape, spec.shape)) {
        throw new ShapeError(
          owner,
          `parameter '${name}' has shape ${fmtShape(t.shape)}, expected ${fmtShape(spec.shape)}`,
        );
      }
    }
    for (const name of Object.keys(flat)) {
      if (!(name in specs)) throw new ValueError(owner, `unexpected parameter '${name}'`);
    }
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    let n = 0;
    for (const spec of Object.values(this.paramSpecs())) n += spec.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  /**
   * Fresh parameters. Each tensor is drawn with a seed derived from `seed` and its dotted name
   * relative to the module `init` is called on, so results do not depend on construction order.
   * Intermediate tensors of the initialisers are freed.
   */
  init(seed: number): ParamTree {
    return tidy(() => this.initAt(seed, ''));
  }

  /** `init` of a child whose dotted name relative to the root of the `init` call is `prefix`. */
  protected initAt(seed: number, prefix: string): ParamTree {
    const out: Record<string, Tensor | ParamTree> = { ...this.initOwn(seed, prefix) };
    for (const [name, child] of this.#children)
      out[name] = child.initAt(seed, prefix ? `${prefix}.${name}` : name);
    return out;
  }

  /**
   * Initial values of this module's own parameters (not its children's). The default draws each from
   * its spec; override when parameters must be drawn jointly (the LRU's `γ_log` depends on `ν_log`).
   */
  protected initOwn(seed: number, prefix: string): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, spec] of this.#params)
      out[name] = spec.init(spec.shape, deriveSeed(seed, prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** The seed for drawing parameter `name` of this module during `initOwn`. */
  protected paramSeed(seed: number, prefix: string, name: string): number {
    return deriveSeed(seed, prefix ? `${prefix}.${name}` : name);
  }
}

/** A module mapping one tensor to one tensor. */
export abstract class Layer extends Module {
  /** The forward function. */
  abstract apply(params: ParamTree, x: Tensor, ctx?: ApplyContext): Tensor;
}
