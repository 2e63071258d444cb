/**
 * `--net-opt KEY=VALUE`: the network recipe options of @mru/models (issue 14) on the command line,
 * on top of the sizes `--d-model`, `--d-state`, `--layers`, `--mlp`, `--dropout` set.
 *
 * Design: one table of keys, each with its parser and help, applied to the `NetworkConfig` that
 * `networkConfig` builds, so the resolved config (what config.json and checkpoints store) records
 * every choice and a run is reproducible from its directory. Cell-level keys (`surrogateK`,
 * `gateBias`, `fqInit`) apply to every cell of the kind they concern, hybrids included.
 */
import { type CellConfig, INIT_SCHEMES, type LayerConfig, type NetworkConfig } from '@mru/models';
import { keyValueOptions } from './args.js';
import { UsageError } from './errors.js';

interface NetOptionDef {
  readonly help: string;
  readonly apply: (config: NetworkConfig, value: number | string) => NetworkConfig;
}

function bool(key: string, v: number | string): boolean {
  if (v === 'true' || v === 1) return true;
  if (v === 'false' || v === 0) return false;
  throw new UsageError(`--net-opt ${key} expects true or false, got '${v}'`);
}

function num(key: string, v: number | string): number {
  if (typeof v !== 'number') throw new UsageError(`--net-opt ${key} expects a number, got '${v}'`);
  return v;
}

function choice<T extends string>(key: string, v: number | string, options: readonly T[]): T {
  if (!options.includes(v as T))
    throw new UsageError(`--net-opt ${key} expects one of ${options.join(', ')}, got '${v}'`);
  return v as T;
}

function mapCells(layer: LayerConfig | readonly LayerConfig[], fn: (c: CellConfig) => CellConfig) {
  const one = (l: LayerConfig): LayerConfig =>
    l.type === 'hybrid' ? { ...l, cells: l.cells.map(fn) } : fn(l as CellConfig);
  return Array.isArray(layer) ? layer.map(one) : one(layer as LayerConfig);
}

function time(config: NetworkConfig): NonNullable<NetworkConfig['timeFeatures']> {
  return config.timeFeatures ?? { dim: 16 };
}

/** The keys of `--net-opt`, with their help. */
export const NET_OPTIONS: Readonly<Record<string, NetOptionDef>> = {
  readout: {
    help: 'last or mean (default: last, or every step for per-step targets)',
    apply: (c, v) => ({ ...c, readout: choice('readout', v, ['last', 'mean'] as const) }),
  },
  time: {
    help: 'dimensions p of the sinusoidal time code at the input (0: none, the default)',
    apply: (c, v) => {
      const dim = num('time', v);
      if (dim === 0) {
        const { timeFeatures: _, ...rest } = c;
        return rest;
      }
      return { ...c, timeFeatures: { ...time(c), dim } };
    },
  },
  timeMax: {
    help: 'rows of the learned per-position offset of the time code (default 0)',
    apply: (c, v) => ({ ...c, timeFeatures: { ...time(c), maxLength: num('timeMax', v) } }),
  },
  timeBlocks: {
    help: "also concatenate the time code to each block's cell input (default false)",
    apply: (c, v) => ({ ...c, timeFeatures: { ...time(c), perBlock: bool('timeBlocks', v) } }),
  },
  stemMlp: {
    help: 'residual MLP stages after the embedding and before the head (default false)',
    apply: (c, v) => ({ ...c, stemMlp: bool('stemMlp', v) }),
  },
  branchNorm: {
    help: 'norm on the recurrent branch of every block but the last (default false)',
    apply: (c, v) => ({ ...c, branchNorm: bool('branchNorm', v) }),
  },
  dropoutOn: {
    help: 'all or mlp: the branches dropout applies to (default all)',
    apply: (c, v) => ({ ...c, dropoutPlacement: choice('dropoutOn', v, ['all', 'mlp'] as const) }),
  },
  init: {
    help: 'default or lecun (N(0, 1/fan_in) weights, zero biases but b_beta and the gate)',
    apply: (c, v) => ({ ...c, init: choice('init', v, INIT_SCHEMES) }),
  },
  switchPenalty: {
    help: 'coefficient of the L2 penalty on the mean switching rate of the memory cells (default 0)',
    apply: (c, v) => {
      const coefficient = num('switchPenalty', v);
      if (!(coefficient >= 0))
        throw new UsageError(`--net-opt switchPenalty expects a number >= 0, got '${v}'`);
      return { ...c, switchPenalty: coefficient };
    },
  },
  surrogateK: {
    help: 'surrogate sharpness k of the BMRU/CMRU/FQ-BMRU cells (default 1)',
    apply: (c, v) => ({
      ...c,
      cell: mapCells(c.cell, (cell) =>
        ['bmru', 'cmru', 'fqbmru'].includes(cell.type) ? { ...cell, surrogateK: num('surrogateK', v) } : cell,
      ),
    }),
  },
  betaBias: {
    help: 'initial threshold bias b_beta of BMRU/CMRU cells (default 1; larger starts more units holding)',
    apply: (c, v) => ({
      ...c,
      cell: mapCells(c.cell, (cell) =>
        ['bmru', 'cmru'].includes(cell.type) ? { ...cell, betaBias: num('betaBias', v) } : cell,
      ),
    }),
  },
  gateBias: {
    help: 'initial gate bias of minGRU cells (e.g. -5)',
    apply: (c, v) => ({
      ...c,
      cell: mapCells(c.cell, (cell) =>
        cell.type === 'mingru' ? { ...cell, gateBias: num('gateBias', v) } : cell,
      ),
    }),
  },
  fqInit: {
    help: 'spec or midband: initialisation of FQ-BMRU cells (default spec)',
    apply: (c, v) => ({
      ...c,
      cell: mapCells(c.cell, (cell) =>
        cell.type === 'fqbmru'
          ? { ...cell, fqInit: choice('fqInit', v, ['spec', 'midband'] as const) }
          : cell,
      ),
    }),
  },
};

/**
 * Applies `--net-opt` values to a network config.
 *
 * @param config - The config from the model name and sizes.
 * @param raw - The raw `--net-opt` value(s).
 * @returns The config with the options applied, in the order given.
 * @throws UsageError on an unknown key or a bad value, listing the keys.
 */
export function applyNetOptions(config: NetworkConfig, raw: unknown): NetworkConfig {
  const entries = Object.entries(keyValueOptions(raw, 'net-opt'));
  for (const [key, value] of entries) {
    const def = NET_OPTIONS[key];
    if (!def) {
      throw new UsageError(`unknown --net-opt '${key}' (known: ${Object.keys(NET_OPTIONS).join(', ')})`);
    }
    config = def.apply(config, value);
  }
  return config;
}
