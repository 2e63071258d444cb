/**
 * The model names of the command line and the network configs they stand for.
 *
 * Design: the command speaks in short names (`bmru`, `fq-bmru`, `hybrid`...) and one set of sizes
 * (`--d-model`, `--d-state`, `--layers`); `networkConfig` turns them plus the task's facts into the
 * plain JSON `NetworkConfig` of @mru/models, which is what checkpoints store and what rebuilds the
 * network on resume. A hybrid is one BMRU and one LRU per layer, combined by concatenation (the
 * models package's default).
 */
import type { Task } from '@mru/datasets';
import type { LayerConfig, NetworkConfig } from '@mru/models';

/** Model names the command accepts. */
export const MODEL_NAMES = [
  'bmru',
  'cmru',
  'fq-bmru',
  'lru',
  'mingru',
  'gru',
  'brc',
  'nbrc',
  'hybrid',
] as const;

/** A model name. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** One line per model, for `--help`. */
export const MODEL_HELP: Readonly<Record<ModelName, string>> = {
  bmru: 'bistable memory recurrent unit (persistent memory, parallel scan)',
  cmru: 'cumulative memory recurrent unit (the BMRU with epsilon = 1)',
  'fq-bmru': 'first-quadrant BMRU with fixed thresholds (analog hardware)',
  lru: 'linear recurrent unit, the monostable SSM baseline',
  mingru: 'minGRU, a gated parallel baseline',
  gru: 'GRU, the sequential baseline (no parallel scan)',
  brc: 'bistable recurrent cell (BRC), sequential (no parallel scan)',
  nbrc: 'neuromodulated bistable recurrent cell (nBRC), sequential (no parallel scan)',
  hybrid: 'a BMRU and an LRU side by side in every layer',
};

/** Sizes and regularisation of a network, as given on the command line. */
export interface NetworkOptions {
  /** Residual stream width. */
  readonly dModel: number;
  /** Recurrent units per cell. */
  readonly dState: number;
  /** Number of blocks. */
  readonly layers: number;
  /** Dropout rate. */
  readonly dropout: number;
  /** GLU MLP expansion (0: no MLP). */
  readonly mlp: number;
}

/**
 * The layer config of a model name.
 *
 * @param model - A command-line model name.
 * @param dState - Recurrent units per cell.
 * @returns The @mru/models layer config.
 */
export function layerConfig(model: ModelName, dState: number): LayerConfig {
  switch (model) {
    case 'bmru':
    case 'cmru':
    case 'lru':
    case 'mingru':
    case 'gru':
    case 'brc':
    case 'nbrc':
      return { type: model, dState };
    case 'fq-bmru':
      return { type: 'fqbmru', dState };
    case 'hybrid':
      return {
        type: 'hybrid',
        cells: [
          { type: 'bmru', dState },
          { type: 'lru', dState },
        ],
      };
    default: {
      const never: never = model;
      throw new Error(`unknown model ${String(never)}`);
    }
  }
}

/**
 * The network config for a model on a task: input and output sizes and the readout come from the
 * task (per-step targets read every step, the others the last step).
 *
 * @param model - A command-line model name.
 * @param task - The task the network is for.
 * @param options - Sizes, dropout and MLP expansion.
 * @returns A `NetworkConfig` for `createNetwork`.
 */
export function networkConfig(model: ModelName, task: Task, options: NetworkOptions): NetworkConfig {
  return {
    dIn: task.inputFeatures,
    dModel: options.dModel,
    dOut: task.outputSize,
    nLayers: options.layers,
    cell: layerConfig(model, options.dState),
    readout: task.readout === 'every' ? 'all' : 'last',
    dropout: options.dropout,
    mlpExpansion: options.mlp,
  };
}
