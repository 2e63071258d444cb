/**
 * Networks built from a plain JSON config (the models guide, "Networks").
 *
 * ```
 * x = Linear(d_in -> d_model)(input)                  (or an Embedding for token inputs)
 * repeat L times:
 *   x̂ = Norm(x)
 *   x = x + γ1 * Dropout(OutGate(Proj(Cell(x̂))))     OutGate(y) = σ(W_g x̂ + b_g) * y, b_g = 4 at init
 *   x = x + γ2 * Dropout(GluMlp(Norm(x)))            4x expansion
 * readout: last step, mean over time, or every step -> Linear(d_model -> d_out)
 * ```
 *
 * Choices of ours where the published recipes leave room: the gate reads the normalised block input `x̂`; `γ1`,
 * `γ2` are per-channel vectors (init 1, no decay); `Proj` is the cell's output projection
 * `d_out(cell) -> d_model` (ReLU with non-negative init for the FQ-BMRU); there is no final norm before
 * the readout. A **hybrid** layer runs several cells (e.g. BMRU + LRU) on the same `x̂` and combines their
 * outputs by concatenation then one projection (`combine: 'concat'`, default) or by summing the raw
 * outputs (which must then have one width) then one projection (`'sum'`). Layers may also alternate
 * cell types: `cell` may be a list, cycled over the layers.
 *
 * Options for long classification tasks (issue 14; see nn/time-features.ts, nn/residual-mlp.ts,
 * nn/init-scheme.ts): `timeFeatures` concatenates a code of the step index to the embedded input and
 * projects back to `dModel` (and with `perBlock`, concatenates it again to each block's normalised cell
 * input); `stemMlp` adds a residual MLP stage after the embedding and one before the readout;
 * `branchNorm` normalises the recurrent branch (after the projection, before the gate) of every block
 * but the last; `dropoutPlacement: 'mlp'` keeps dropout off the recurrent branch; `init: 'lecun'`
 * re-draws Linear weights from N(0, 1/fan_in) with zero biases. With time features the streaming
 * state holds one more entry after the layers, `[{ t }]`: the int32 step index of each sequence.
 *
 * The network is a stateless `Module` (see module.ts): `init(seed)` returns the parameter tree and
 * `apply(params, x, { train, seed })` the outputs. `step` runs one time step with an explicit state,
 * for streaming and generation; it equals `apply` with readout `'all'` step by step.
 */
import {
  add,
  arange,
  concat,
  fuse,
  matmul,
  mean,
  mul,
  relu,
  reshape,
  sigmoid,
  slice,
  type Tensor,
  ValueError,
  zeros,
} from '@mru/core';
import type { Cell, CellState } from './cells/cell.js';
import { FqBmru } from './cells/fqbmru.js';
import { type CellConfig, createCell } from './cells/index.js';
import { constant, nonNegative, onesInit, uniformFanIn } from './nn/init.js';
import { applyInitScheme, INIT_SCHEMES, type InitScheme } from './nn/init-scheme.js';
import { Dropout, Embedding, GluMlp, LayerNorm, Linear, RMSNorm } from './nn/layers.js';
import { type ApplyContext, type Layer, Module } from './nn/module.js';
import { ResidualMlp } from './nn/residual-mlp.js';
import { resolveTimeFeatures, TimeFeatures, type TimeFeaturesConfig } from './nn/time-features.js';
import { addSwitchPenalty, outputLoss } from './train/loss.js';
import { getSubtree, getTensor, type ParamTree } from './tree.js';

/**
 * A hybrid layer: several cells on the same input, combined.
 *
 * @category Networks
 */
export interface HybridConfig {
  /** Marks a hybrid layer. */
  readonly type: 'hybrid';
  /** The cells, e.g. `[{ type: 'bmru', dState: 64 }, { type: 'lru', dState: 64 }]`. */
  readonly cells: readonly CellConfig[];
  /** `'concat'` (default): concatenate then project; `'sum'`: sum the outputs then project. */
  readonly combine?: 'concat' | 'sum';
}

/**
 * What one layer holds: one cell, or a hybrid of several.
 *
 * @category Networks
 */
export type LayerConfig = CellConfig | HybridConfig;

/**
 * How the sequence of final hidden states becomes the output. `'mean'` is also the mean of the
 * per-step logits (the readout is affine, so both orders give one result; tests check it).
 *
 * @category Networks
 */
export type ReadoutMode = 'last' | 'mean' | 'all';

/**
 * A whole network as plain JSON; it is stored in checkpoints and rebuilds the same network.
 *
 * @category Networks
 */
export interface NetworkConfig {
  /** Input features per step (ignored when `vocabSize` is set). */
  readonly dIn: number;
  /** Model width. */
  readonly dModel: number;
  /** Output features (or classes). */
  readonly dOut: number;
  /** Number of blocks L. */
  readonly nLayers: number;
  /** The layer kind, or a list cycled over the layers (alternating cell types). */
  readonly cell: LayerConfig | readonly LayerConfig[];
  /** Readout (default `'last'`). */
  readonly readout?: ReadoutMode;
  /** Normalisation in the blocks (default `'layer'`). */
  readonly norm?: 'layer' | 'rms';
  /** Dropout rate (default 0.1). */
  readonly dropout?: number;
  /** Hidden width of the GLU MLP as a multiple of `dModel` (default 4; 0 removes the MLP). */
  readonly mlpExpansion?: number;
  /** Use the output gate (default true). */
  readonly outGate?: boolean;
  /** Coefficient of the L2 penalty on the mean switching rate of the memory cells (default 0). */
  readonly switchPenalty?: number;
  /** Token inputs: int32 `[B, T]` embedded to `dModel` (default: dense float inputs). */
  readonly vocabSize?: number;
  /**
   * ε of every BMRU/CMRU cell over the cells' own, when a call's context sets none: a checkpoint
   * taken during ε annealing stores the ε it was trained at here, so it reloads and evaluates with it.
   */
  readonly epsilon?: number;
  /** The leak of every FQ-BMRU cell when a call's context sets none (see `epsilon`). */
  readonly leak?: number;
  /** Time features at the input (default none); see `TimeFeaturesConfig`. */
  readonly timeFeatures?: TimeFeaturesConfig;
  /** A residual GLU MLP stage after the embedding and one before the readout (default false). */
  readonly stemMlp?: boolean;
  /** Normalise the recurrent branch of every block but the last (default false). */
  readonly branchNorm?: boolean;
  /** Where dropout applies: `'all'` branches (default) or only the `'mlp'` branches. */
  readonly dropoutPlacement?: 'all' | 'mlp';
  /** Initialisation scheme (default `'default'`: each layer's own); see `applyInitScheme`. */
  readonly init?: InitScheme;
}

/**
 * The options of `NetworkConfig` that are stored only when set (older checkpoints lack them).
 *
 * @category Networks
 */
export type OptionalNetworkKeys =
  | 'vocabSize'
  | 'cell'
  | 'epsilon'
  | 'leak'
  | 'timeFeatures'
  | 'stemMlp'
  | 'branchNorm'
  | 'dropoutPlacement'
  | 'init';

/**
 * A `NetworkConfig` with every default filled in.
 *
 * @category Networks
 */
export type ResolvedNetworkConfig = Required<Omit<NetworkConfig, OptionalNetworkKeys>> &
  Pick<NetworkConfig, 'stemMlp' | 'branchNorm' | 'dropoutPlacement' | 'init' | 'timeFeatures'> & {
    /** As in `NetworkConfig`. */
    readonly cell: LayerConfig | readonly LayerConfig[];
    /** As in `NetworkConfig`; absent for dense inputs. */
    readonly vocabSize?: number;
    /** As in `NetworkConfig`; absent unless set. */
    readonly epsilon?: number;
    /** As in `NetworkConfig`; absent unless set. */
    readonly leak?: number;
  };

function unitInterval(name: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(v >= 0 && v <= 1)) {
    throw new ValueError('NetworkConfig', `${name} must be in [0, 1], got ${v}`);
  }
  return v;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValueError('NetworkConfig', `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Validates a config and fills in defaults (the result is what checkpoints store).
 *
 * @param config - The network, as plain JSON.
 * @category Networks
 */
export function resolveNetworkConfig(config: NetworkConfig): ResolvedNetworkConfig {
  if (!config || typeof config !== 'object')
    throw new ValueError('NetworkConfig', 'expected a config object');
  const readout = config.readout ?? 'last';
  if (!['last', 'mean', 'all'].includes(readout)) {
    throw new ValueError('NetworkConfig', `readout must be 'last', 'mean' or 'all', got '${readout}'`);
  }
  const norm = config.norm ?? 'layer';
  if (norm !== 'layer' && norm !== 'rms')
    throw new ValueError('NetworkConfig', `norm must be 'layer' or 'rms', got '${norm}'`);
  const dropout = config.dropout ?? 0.1;
  if (!(dropout >= 0 && dropout < 1))
    throw new ValueError('NetworkConfig', `dropout must be in [0, 1), got ${dropout}`);
  const mlpExpansion = config.mlpExpansion ?? 4;
  if (!(mlpExpansion >= 0))
    throw new ValueError('NetworkConfig', `mlpExpansion must be >= 0, got ${mlpExpansion}`);
  const switchPenalty = config.switchPenalty ?? 0;
  if (!(switchPenalty >= 0))
    throw new ValueError('NetworkConfig', `switchPenalty must be >= 0, got ${switchPenalty}`);
  const layers = Array.isArray(config.cell) ? config.cell : [config.cell];
  if (layers.length === 0)
    throw new ValueError('NetworkConfig', 'cell must be a layer config or a non-empty list');
  const out: ResolvedNetworkConfig = {
    dIn: config.vocabSize === undefined ? positiveInt('dIn', config.dIn) : (config.dIn ?? 1),
    dModel: positiveInt('dModel', config.dModel),
    dOut: positiveInt('dOut', config.dOut),
    nLayers: positiveInt('nLayers', config.nLayers),
    cell: config.cell,
    readout,
    norm,
    dropout,
    mlpExpansion,
    outGate: config.outGate ?? true,
    switchPenalty,
    ...(config.vocabSize === undefined ? {} : { vocabSize: positiveInt('vocabSize', config.vocabSize) }),
    ...(config.epsilon === undefined ? {} : { epsilon: unitInterval('epsilon', config.epsilon) }),
    ...(config.leak === undefined ? {} : { leak: unitInterval('leak', config.leak) }),
    ...resolveRecipeOptions(config),
  };
  return out;
}

function resolveRecipeOptions(config: NetworkConfig): Partial<ResolvedNetworkConfig> {
  const out: {
    timeFeatures?: TimeFeaturesConfig;
    stemMlp?: boolean;
    branchNorm?: boolean;
    dropoutPlacement?: 'all' | 'mlp';
    init?: InitScheme;
  } = {};
  if (config.timeFeatures !== undefined) out.timeFeatures = resolveTimeFeatures(config.timeFeatures);
  for (const key of ['stemMlp', 'branchNorm'] as const) {
    const v = config[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean')
      throw new ValueError('NetworkConfig', `${key} must be true or false, got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  if (config.dropoutPlacement !== undefined) {
    if (config.dropoutPlacement !== 'all' && config.dropoutPlacement !== 'mlp')
      throw new ValueError(
        'NetworkConfig',
        `dropoutPlacement must be 'all' or 'mlp', got '${config.dropoutPlacement}'`,
      );
    out.dropoutPlacement = config.dropoutPlacement;
  }
  if (config.init !== undefined) {
    if (!INIT_SCHEMES.includes(config.init))
      throw new ValueError(
        'NetworkConfig',
        `init must be one of ${INIT_SCHEMES.join(', ')}, got '${config.init}'`,
      );
    out.init = config.init;
  }
  return out;
}

/**
 * Holds modules under the names `'0'`, `'1'`, ...
 *
 * @category Networks
 */
export class ModuleList<M extends Module> extends Module {
  /** The modules, in order. */
  readonly items: readonly M[];

  /**
   * A list of modules.
   *
   * @param items - The modules, named `0`, `1`, ... in the parameter tree.
   */
  constructor(items: readonly M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => {
      this.addModule(String(i), m);
    });
  }
}

/**
 * Output of a block.
 *
 * @category Networks
 */
export interface BlockOutput {
  /** The block's output `[B, T, dModel]`. */
  readonly x: Tensor;
  /** Each cell's state after the last step. */
  readonly states: CellState[];
  /** Mean switching rates of the memory cells. */
  readonly switchRates: Tensor[];
}

/**
 * One residual block: norm, cell(s), projection, gate, dropout, γ1; then norm, GLU MLP, dropout, γ2.
 *
 * @category Networks
 */
export class Block extends Module {
  /** The block's cells (one, or several for a hybrid). */
  readonly cells: readonly Cell[];
  /** How hybrid outputs combine (`'single'` for one cell). */
  readonly combine: 'single' | 'concat' | 'sum';
  readonly #cellNames: string[];
  readonly #norm1: Layer;
  readonly #proj: Linear;
  readonly #projRelu: boolean;
  readonly #gate: Linear | null;
  readonly #drop1: Dropout;
  readonly #drop2: Dropout;
  readonly #norm2: Layer | null;
  readonly #mlp: GluMlp | null;
  readonly #branchNorm: Layer | null;
  /** Width of the time code concatenated to the cell input (0: none). */
  readonly dTime: number;

  /**
   * A block of width `dModel` holding `layer`; `last` marks the last block (no branch norm there).
   *
   * @param layer - The layer: one cell or a hybrid.
   * @param config - The resolved network config.
   * @param last - Whether this is the network's last block.
   */
  constructor(layer: LayerConfig, config: ResolvedNetworkConfig, last = false) {
    super();
    const d = config.dModel;
    const makeNorm = (width = d): Layer =>
      config.norm === 'rms' ? new RMSNorm(width) : new LayerNorm(width);
    this.dTime = config.timeFeatures?.perBlock ? config.timeFeatures.dim : 0;
    const dCell = d + this.dTime;
    this.#norm1 = this.addModule('norm1', makeNorm(dCell));
    let dCombined: number;
    if (layer.type === 'hybrid') {
      const hybrid = layer as HybridConfig;
      if (!Array.isArray(hybrid.cells) || hybrid.cells.length < 2) {
        throw new ValueError('NetworkConfig', 'a hybrid layer needs at least two cells');
      }
      this.combine = hybrid.combine ?? 'concat';
      if (this.combine !== 'concat' && this.combine !== 'sum') {
        throw new ValueError(
          'NetworkConfig',
          `hybrid combine must be 'concat' or 'sum', got '${this.combine}'`,
        );
      }
      this.cells = hybrid.cells.map((c) => createCell(c, dCell));
      this.#cellNames = this.cells.map((_, i) => `cell${i}`);
      if (this.combine === 'sum') {
        const widths = this.cells.map((c) => c.dOut);
        if (widths.some((w) => w !== widths[0])) {
          throw new ValueError(
            'NetworkConfig',
            `hybrid 'sum' needs cells of one output width, got ${this.cells.map((c) => `${c.type}: ${c.dOut}`).join(', ')} (an LRU outputs dModel; use 'concat' or matching dState)`,
          );
        }
        dCombined = widths[0];
      } else dCombined = this.cells.reduce((s, c) => s + c.dOut, 0);
    } else {
      this.combine = 'single';
      this.cells = [createCell(layer as CellConfig, dCell)];
      this.#cellNames = ['cell'];
      dCombined = this.cells[0].dOut;
    }
    this.cells.forEach((c, i) => {
      this.addModule(this.#cellNames[i], c);
    });
    this.#projRelu = this.cells.every((c) => c.outputProjection === 'nonnegative-relu');
    this.#proj = this.addModule(
      'proj',
      new Linear(dCombined, d, this.#projRelu ? { weightInit: nonNegative(uniformFanIn(dCombined)) } : {}),
    );
    this.#gate = config.outGate
      ? this.addModule('gate', new Linear(dCell, d, { biasInit: constant(4) }))
      : null;
    this.#drop1 = this.addModule(
      'drop1',
      new Dropout(config.dropoutPlacement === 'mlp' ? 0 : config.dropout),
    );
    this.#branchNorm = config.branchNorm && !last ? this.addModule('branchNorm', makeNorm()) : null;
    this.#drop2 = this.addModule('drop2', new Dropout(config.dropout));
    this.addParam('gamma1', [d], onesInit(), { decay: false });
    if (config.mlpExpansion > 0) {
      this.#norm2 = this.addModule('norm2', makeNorm());
      this.#mlp = this.addModule('mlp', new GluMlp(d, config.mlpExpansion));
      this.addParam('gamma2', [d], onesInit(), { decay: false });
    } else {
      this.#norm2 = null;
      this.#mlp = null;
    }
  }

  /**
   * Initial states of the block's cells.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param batch - The batch size.
   */
  initialState(params: ParamTree, batch: number): CellState[] {
    return this.cells.map((c, i) => c.initialState(getSubtree(params, this.#cellNames[i], 'Block'), batch));
  }

  #combine(ys: Tensor[]): Tensor {
    if (ys.length === 1) return ys[0];
    if (this.combine === 'sum') return ys.reduce((a, b) => add(a, b));
    return concat(ys, -1);
  }

  #finish(params: ParamTree, x: Tensor, xhat: Tensor, ys: Tensor[], ctx: ApplyContext): Tensor {
    if (this.#gate && !this.#projRelu && !this.#branchNorm && !this.#drop1.active(ctx)) {
      // `x + γ1 ⊙ σ(x̂ W_g + b_g) ⊙ (y W_p + b_p)` after the two products, in one fused pass (the same
      // operations in the same order as the composite below).
      const proj = getSubtree(params, 'proj', 'Block');
      const gate = getSubtree(params, 'gate', 'Block');
      x = fuse(
        (e, xx, py, pb, gy, gb, g1) => e.add(xx, e.mul(e.mul(e.sigmoid(e.add(gy, gb)), e.add(py, pb)), g1)),
        { name: 'Block' },
      )(
        x,
        matmul(this.#combine(ys), getTensor(proj, 'weight', 'Linear')),
        getTensor(proj, 'bias', 'Linear'),
        matmul(xhat, getTensor(gate, 'weight', 'Linear')),
        getTensor(gate, 'bias', 'Linear'),
        getTensor(params, 'gamma1', 'Block'),
      );
      return this.#mlpStage(params, x, ctx);
    }
    let y = this.#proj.apply(getSubtree(params, 'proj', 'Block'), this.#combine(ys));
    if (this.#projRelu) y = relu(y);
    if (this.#branchNorm) y = this.#branchNorm.apply(getSubtree(params, 'branchNorm', 'Block'), y);
    if (this.#gate) y = mul(sigmoid(this.#gate.apply(getSubtree(params, 'gate', 'Block'), xhat)), y);
    x = add(x, mul(this.#drop1.apply(params, y, ctx), getTensor(params, 'gamma1', 'Block')));
    return this.#mlpStage(params, x, ctx);
  }

  #mlpStage(params: ParamTree, x: Tensor, ctx: ApplyContext): Tensor {
    if (this.#mlp && this.#norm2) {
      const h = this.#mlp.apply(
        getSubtree(params, 'mlp', 'Block'),
        this.#norm2.apply(getSubtree(params, 'norm2', 'Block'), x),
      );
      x = add(x, mul(this.#drop2.apply(params, h, ctx), getTensor(params, 'gamma2', 'Block')));
    }
    return x;
  }

  /** `x` with the time code appended when this block takes it (`time` `[B, T, p]` or `[B, p]`). */
  #withTime(x: Tensor, time: Tensor | undefined): Tensor {
    if (this.dTime === 0) return x;
    if (!time) throw new ValueError('Block', 'this block takes time features but none were given');
    return concat([x, time], -1);
  }

  /**
   * The whole sequence `[B, T, dModel]`, from `states` (default the cells' initial states); `time` is
   * the time code `[B, T, p]` when the block takes it.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The block input, `[batch, time, dModel]`.
   * @param ctx - The per-call context: train mode and dropout seed.
   * @param states - Initial states of the cells (default: their own).
   * @param time - The time code `[batch, time, p]`, when the block takes it.
   */
  apply(
    params: ParamTree,
    x: Tensor,
    ctx: ApplyContext = {},
    states?: readonly CellState[],
    time?: Tensor,
  ): BlockOutput {
    const xhat = this.#norm1.apply(getSubtree(params, 'norm1', 'Block'), this.#withTime(x, time));
    const ys: Tensor[] = [];
    const outStates: CellState[] = [];
    const rates: Tensor[] = [];
    this.cells.forEach((cell, i) => {
      const out = cell.parallel(getSubtree(params, this.#cellNames[i], 'Block'), xhat, {
        ...ctx,
        state: states?.[i],
      });
      ys.push(out.y);
      outStates.push(out.state);
      if (out.switchRate) rates.push(out.switchRate);
    });
    return { x: this.#finish(params, x, xhat, ys, ctx), states: outStates, switchRates: rates };
  }

  /**
   * One step `[B, dModel]` (evaluation mode; `ctx` passes ε and leak overrides to the cells); `time`
   * is this step's time code `[B, p]` when the block takes it.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The block input of one step, `[batch, dModel]`.
   * @param states - The states of the block's cells after the previous step.
   * @param ctx - ε and leak overrides passed to the cells.
   * @param time - This step's time code `[batch, p]`, when the block takes it.
   */
  step(
    params: ParamTree,
    x: Tensor,
    states: readonly CellState[],
    ctx: ApplyContext = {},
    time?: Tensor,
  ): BlockStep {
    const xhat = this.#norm1.apply(getSubtree(params, 'norm1', 'Block'), this.#withTime(x, time));
    const ys: Tensor[] = [];
    const outStates: CellState[] = [];
    this.cells.forEach((cell, i) => {
      const out = cell.step(getSubtree(params, this.#cellNames[i], 'Block'), xhat, states[i], ctx);
      ys.push(out.y);
      outStates.push(out.state);
    });
    return { x: this.#finish(params, x, xhat, ys, {}), states: outStates };
  }
}

/**
 * Output of `Block.step`.
 *
 * @category Networks
 */
export interface BlockStep {
  /** The block's output `[B, dModel]`. */
  readonly x: Tensor;
  /** Each cell's new state. */
  readonly states: CellState[];
}

/**
 * Output of `Network.step`.
 *
 * @category Networks
 */
export interface NetworkStep {
  /** The readout of this step, `[B, dOut]`. */
  readonly output: Tensor;
  /** The new state. */
  readonly state: NetworkState;
}

/**
 * The recurrent state of a whole network: per layer, per cell.
 *
 * @category Networks
 */
export type NetworkState = CellState[][];

/**
 * Which loss `Network.loss` computes.
 *
 * @category Networks
 */
export type LossKind = 'mse' | 'crossEntropy';

/**
 * Options of `Network.loss`.
 *
 * @category Networks
 */
export interface LossOptions extends ApplyContext {
  /** `'mse'` (default; float targets of the output's shape) or `'crossEntropy'` (int32 class targets). */
  readonly loss?: LossKind;
}

/**
 * Output of `Network.applyWithStats`.
 *
 * @category Networks
 */
export interface NetworkOutput {
  /** `[B, dOut]` (readout last/mean) or `[B, T, dOut]` (readout all). */
  readonly output: Tensor;
  /** Mean over the memory cells of their mean switching rate (null when there are none). */
  readonly switchRate: Tensor | null;
  /** Every cell's state after the last step. */
  readonly state: NetworkState;
}

/**
 * A network built from a `NetworkConfig`.
 *
 * @category Networks
 */
export class Network extends Module {
  readonly #config: ResolvedNetworkConfig;
  /** The blocks, in order. */
  readonly blocks: readonly Block[];
  readonly #input: Linear | Embedding;
  readonly #readout: Linear;
  readonly #time: TimeFeatures | null;
  readonly #timeProj: Linear | null;
  readonly #stem: ResidualMlp | null;
  readonly #head: ResidualMlp | null;

  /**
   * Builds the network of `config` (validated; defaults filled in).
   *
   * @param config - The network, as plain JSON.
   */
  constructor(config: NetworkConfig) {
    super();
    this.#config = resolveNetworkConfig(config);
    const c = this.#config;
    this.#input = this.addModule(
      'input',
      c.vocabSize === undefined ? new Linear(c.dIn, c.dModel) : new Embedding(c.vocabSize, c.dModel),
    );
    this.#time = c.timeFeatures ? this.addModule('time', new TimeFeatures(c.timeFeatures)) : null;
    this.#timeProj = c.timeFeatures
      ? this.addModule('timeProj', new Linear(c.dModel + c.timeFeatures.dim, c.dModel))
      : null;
    const stage = () =>
      new ResidualMlp(c.dModel, { expansion: c.mlpExpansion || 4, dropout: c.dropout, norm: c.norm });
    this.#stem = c.stemMlp ? this.addModule('stem', stage()) : null;
    const kinds = Array.isArray(c.cell) ? c.cell : [c.cell];
    const blocks = Array.from(
      { length: c.nLayers },
      (_, i) => new Block(kinds[i % kinds.length], c, i === c.nLayers - 1),
    );
    this.addModule('layers', new ModuleList(blocks));
    this.blocks = blocks;
    this.#head = c.stemMlp ? this.addModule('head', stage()) : null;
    this.#readout = this.addModule('readout', new Linear(c.dModel, c.dOut));
  }

  /**
   * Fresh parameters, under the config's initialisation scheme (`init`).
   *
   * @param seed - The seed: the same seed gives the same parameters on every backend.
   */
  override init(seed: number): ParamTree {
    const params = super.init(seed);
    const scheme = this.#config.init ?? 'default';
    if (scheme === 'default') return params;
    return applyInitScheme(params, this.#schemeLinears(), scheme, seed);
  }

  /** The Linear layers an init scheme re-draws: all but those of FQ-BMRU cells and their projections. */
  #schemeLinears(): { path: string; keepBias: boolean }[] {
    const out: { path: string; keepBias: boolean }[] = [];
    const walk = (m: Module) => {
      if (m instanceof FqBmru) return;
      if (m instanceof Block && m.cells.some((cell) => cell instanceof FqBmru)) {
        for (const [name, child] of m.children()) if (name !== 'proj') walk(child);
        return;
      }
      if (m instanceof Linear) {
        const name = m.path.split('.').pop();
        out.push({ path: m.path, keepBias: name === 'wbeta' || name === 'gate' });
        return;
      }
      for (const child of m.children().values()) walk(child);
    };
    walk(this);
    return out;
  }

  /** The config with defaults filled in (what checkpoints store). */
  get config(): ResolvedNetworkConfig {
    return this.#config;
  }

  /** Every cell of every block. */
  cells(): Cell[] {
    return this.blocks.flatMap((b) => [...b.cells]);
  }

  /**
   * The call's context with the config's fixed ε and leak as defaults: a network saved with
   * `epsilon` (e.g. a checkpoint taken during annealing) evaluates at it unless the call says otherwise.
   *
   * @param ctx - The call's context.
   */
  #context(ctx: ApplyContext): ApplyContext {
    const { epsilon, leak } = this.#config;
    if (epsilon === undefined && leak === undefined) return ctx;
    return { ...ctx, epsilon: ctx.epsilon ?? epsilon, leak: ctx.leak ?? leak };
  }

  #embed(params: ParamTree, x: Tensor): Tensor {
    const c = this.config;
    if (c.vocabSize === undefined) {
      if (x.dtype !== 'float32' || x.shape[x.rank - 1] !== c.dIn) {
        throw new ValueError(
          'Network',
          `expected float32 input [..., ${c.dIn}], got ${x.dtype}[${x.shape.join(',')}]`,
        );
      }
    } else if (x.dtype !== 'int32') {
      throw new ValueError('Network', `token inputs must be int32, got ${x.dtype}[${x.shape.join(',')}]`);
    }
    return this.#input.apply(getSubtree(params, 'input', 'Network'), x);
  }

  /** The time code at int32 `positions` `[B]` or `[B, T]` (null without time features). */
  #timeCode(params: ParamTree, positions: Tensor): Tensor | null {
    if (!this.#time) return null;
    // Without an offset table the module has no parameters, and a flattened tree drops its entry.
    const own = this.#time.config.maxLength > 0 ? getSubtree(params, 'time', 'Network') : {};
    return this.#time.codes(own, positions);
  }

  /** Embedded input with the time code concatenated and projected back, then the stem stage. */
  #inputStage(params: ParamTree, h: Tensor, time: Tensor | null, ctx: ApplyContext): Tensor {
    if (time && this.#timeProj) {
      h = this.#timeProj.apply(getSubtree(params, 'timeProj', 'Network'), concat([h, time], -1));
    }
    return this.#stem ? this.#stem.apply(getSubtree(params, 'stem', 'Network'), h, ctx) : h;
  }

  /** The head stage before the readout (identity without `stemMlp`). */
  #headStage(params: ParamTree, h: Tensor, ctx: ApplyContext): Tensor {
    return this.#head ? this.#head.apply(getSubtree(params, 'head', 'Network'), h, ctx) : h;
  }

  /** The step counters `[B]` of a state (zeros when the state is absent or holds none). */
  #startTime(state: NetworkState | undefined, batch: number): Tensor {
    const entry = state?.[this.blocks.length]?.[0]?.t;
    return entry ?? zeros([batch], { dtype: 'int32' });
  }

  /**
   * The forward pass with the switching statistics and the final states.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (int32 `[batch, time]` with `vocabSize`).
   * @param ctx - The per-call context: train mode, dropout seed, ε and leak.
   * @param state - Initial states (default: the cells' own).
   */
  applyWithStats(params: ParamTree, x: Tensor, ctx: ApplyContext = {}, state?: NetworkState): NetworkOutput {
    ctx = this.#context(ctx);
    const expectedRank = this.config.vocabSize === undefined ? 3 : 2;
    if (x.rank !== expectedRank) {
      throw new ValueError(
        'Network',
        `expected a sequence of rank ${expectedRank} ([batch, time${expectedRank === 3 ? ', features' : ''}]), got [${x.shape.join(',')}]`,
      );
    }
    let h = this.#embed(params, x);
    const [B, T] = h.shape;
    let time: Tensor | null = null;
    let t0: Tensor | null = null;
    if (this.#time) {
      t0 = this.#startTime(state, B);
      time = this.#timeCode(params, add(reshape(t0, [B, 1]), reshape(arange(T), [1, T])));
    }
    h = this.#inputStage(params, h, time, ctx);
    const layers = getSubtree(params, 'layers', 'Network');
    const rates: Tensor[] = [];
    const states: NetworkState = [];
    this.blocks.forEach((block, i) => {
      const out = block.apply(
        getSubtree(layers, String(i), 'Network'),
        h,
        ctx,
        state?.[i],
        time ?? undefined,
      );
      h = out.x;
      rates.push(...out.switchRates);
      states.push(out.states);
    });
    if (t0) states.push([{ t: add(t0, T) }]);
    h = this.#headStage(params, h, ctx);
    const D = h.shape[2];
    let pooled: Tensor;
    switch (this.config.readout) {
      case 'last':
        pooled = reshape(slice(h, [0, T - 1], [null, T]), [B, D]);
        break;
      case 'mean':
        pooled = mean(h, 1);
        break;
      case 'all':
        pooled = h;
        break;
    }
    const output = this.#readout.apply(getSubtree(params, 'readout', 'Network'), pooled);
    const switchRate = rates.length === 0 ? null : rates.length === 1 ? rates[0] : mean(concatScalars(rates));
    return { output, switchRate, state: states };
  }

  /**
   * Outputs for inputs `[B, T, dIn]` (or int32 tokens `[B, T]`): `[B, dOut]`, or `[B, T, dOut]` for readout `'all'`.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]` (int32 `[batch, time]` with `vocabSize`).
   * @param ctx - The per-call context: train mode and dropout seed.
   */
  apply(params: ParamTree, x: Tensor, ctx: ApplyContext = {}): Tensor {
    return this.applyWithStats(params, x, ctx).output;
  }

  /**
   * The training objective: MSE (default) or cross-entropy of the outputs against `target`, plus
   * `switchPenalty * switchRate^2` when the config sets a penalty.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs, `[batch, time, dIn]`.
   * @param target - The targets: float32 for `mse`, int32 labels for `crossEntropy`.
   * @param options - The loss, train mode and dropout seed.
   */
  loss(params: ParamTree, x: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
    const { output, switchRate } = this.applyWithStats(params, x, options);
    const kind = options.loss ?? 'mse';
    if (kind !== 'mse' && kind !== 'crossEntropy')
      throw new ValueError('Network.loss', `unknown loss '${String(kind)}' (known: mse, crossEntropy)`);
    const value = outputLoss(output, target, kind === 'mse' ? 'mse' : 'cross-entropy');
    return addSwitchPenalty(value, switchRate, this.config.switchPenalty);
  }

  /**
   * The state before the first step, for `batch` sequences.
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param batch - The batch size.
   */
  initialState(params: ParamTree, batch: number): NetworkState {
    const layers = getSubtree(params, 'layers', 'Network');
    const state = this.blocks.map((b, i) => b.initialState(getSubtree(layers, String(i), 'Network'), batch));
    if (this.#time) state.push([{ t: zeros([batch], { dtype: 'int32' }) }]);
    return state;
  }

  /**
   * One time step in evaluation mode: `x` `[B, dIn]` (or int32 `[B]`) to the readout of this step
   * `[B, dOut]` and the next state. Stepping through a sequence reproduces `apply` with readout
   * `'all'` (for `'last'`, the final step's output equals `apply`'s).
   *
   * @param params - The parameters of this module (its subtree of the model's parameters).
   * @param x - The inputs of one step, `[batch, dIn]`.
   * @param state - The state after the previous step (from `initialState` or the last `step`).
   * @param ctx - ε and the leak for this step (train mode and dropout do not apply here).
   */
  step(params: ParamTree, x: Tensor, state: NetworkState, ctx: ApplyContext = {}): NetworkStep {
    ctx = this.#context({ epsilon: ctx.epsilon, leak: ctx.leak });
    let h = this.#embed(params, x);
    let time: Tensor | null = null;
    let t: Tensor | null = null;
    if (this.#time) {
      t = this.#startTime(state, h.shape[0]);
      time = this.#timeCode(params, t);
    }
    h = this.#inputStage(params, h, time, {});
    const layers = getSubtree(params, 'layers', 'Network');
    const next: NetworkState = [];
    this.blocks.forEach((block, i) => {
      const out = block.step(getSubtree(layers, String(i), 'Network'), h, state[i], ctx, time ?? undefined);
      h = out.x;
      next.push(out.states);
    });
    if (t) next.push([{ t: add(t, 1) }]);
    h = this.#headStage(params, h, {});
    return { output: this.#readout.apply(getSubtree(params, 'readout', 'Network'), h), state: next };
  }
}

function concatScalars(xs: Tensor[]): Tensor {
  return concat(
    xs.map((x) => reshape(x, [1])),
    0,
  );
}

/**
 * Builds a network from a plain JSON config (see `NetworkConfig`).
 *
 * @param config - The network, as plain JSON.
 * @category Networks
 */
export function createNetwork(config: NetworkConfig): Network {
  return new Network(config);
}
