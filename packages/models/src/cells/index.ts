/**
 * Cell configuration and the factory that turns a plain JSON `CellConfig` into a cell.
 *
 * Design: a config is data (it round-trips through checkpoint metadata); every option has a default
 * documented here, and unknown types are rejected with the list of known ones.
 */
import { ValueError } from '@mru/core';
import { Bmru } from './bmru.js';
import type { Cell, CellType } from './cell.js';
import { FqBmru, type FqBmruInit } from './fqbmru.js';
import { Lru } from './lru.js';
import { MinGru } from './mingru.js';
import { Brc, Gru } from './sequential.js';

export * from './bmru.js';
export * from './cell.js';
export * from './fqbmru.js';
export * from './lru.js';
export * from './mingru.js';
export * from './sequential.js';
export * from './surrogate.js';

/**
 * Every cell type `createCell` accepts.
 *
 * @category Cells
 */
export const CELL_TYPES: readonly CellType[] = [
  'bmru',
  'cmru',
  'fqbmru',
  'lru',
  'mingru',
  'gru',
  'brc',
  'nbrc',
];

/**
 * A cell as plain JSON. Options that do not apply to the type are ignored.
 *
 * @category Cells
 */
export interface CellConfig {
  /** Which cell. */
  readonly type: CellType;
  /** Number of recurrent units (complex units for the LRU). */
  readonly dState: number;
  /** bmru/cmru: ε of `a = 1 - z + ε z` (default 0 for bmru, 1 for cmru). */
  readonly epsilon?: number;
  /** fqbmru: leak ε of the leaky variant (default 0). */
  readonly leak?: number;
  /** bmru/cmru/fqbmru: surrogate sharpness k (default 1). */
  readonly surrogateK?: number;
  /** bmru/cmru: initial threshold bias b_β (default 1); larger starts more units holding. */
  readonly betaBias?: number;
  /** lru: smallest initial |λ| (default 0.9). */
  readonly rMin?: number;
  /** lru: largest initial |λ| (default 0.999). */
  readonly rMax?: number;
  /** lru: largest initial phase (default 2π). */
  readonly maxPhase?: number;
  /** mingru: log-space coefficients (default false). */
  readonly logSpace?: boolean;
  /** mingru: initial gate bias (default: uniform fan-in); -5 starts the units holding. */
  readonly gateBias?: number;
  /** fqbmru: initialisation of the input map, `'spec'` (default) or `'midband'` (every unit starts holding). */
  readonly fqInit?: FqBmruInit;
}

/**
 * Builds the cell described by `config` with `dIn` input features.
 *
 * @param config - The cell, as plain JSON.
 * @param dIn - Input features.
 * @category Cells
 */
export function createCell(config: CellConfig, dIn: number): Cell {
  if (!config || typeof config !== 'object')
    throw new ValueError('createCell', `expected a cell config object, got ${config}`);
  const { type, dState } = config;
  if (!Number.isInteger(dState) || dState < 1) {
    throw new ValueError('createCell', `cell '${type}' needs a positive integer dState, got ${dState}`);
  }
  if (!Number.isInteger(dIn) || dIn < 1)
    throw new ValueError('createCell', `dIn must be a positive integer, got ${dIn}`);
  switch (type) {
    case 'bmru':
    case 'cmru':
      return new Bmru(dIn, dState, {
        type,
        epsilon: config.epsilon,
        surrogateK: config.surrogateK,
        betaBias: config.betaBias,
      });
    case 'fqbmru':
      return new FqBmru(dIn, dState, {
        leak: config.leak,
        surrogateK: config.surrogateK,
        init: config.fqInit,
      });
    case 'lru':
      return new Lru(dIn, dState, { rMin: config.rMin, rMax: config.rMax, maxPhase: config.maxPhase });
    case 'mingru':
      return new MinGru(dIn, dState, { logSpace: config.logSpace, gateBias: config.gateBias });
    case 'gru':
      return new Gru(dIn, dState);
    case 'brc':
      return new Brc(dIn, dState);
    case 'nbrc':
      return new Brc(dIn, dState, { neuromodulated: true });
    default:
      throw new ValueError(
        'createCell',
        `unknown cell type '${String(type)}' (known: ${CELL_TYPES.join(', ')})`,
      );
  }
}
