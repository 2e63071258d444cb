/**
 * The recurrent cell contract shared by every unit (BMRU, CMRU, FQ-BMRU, LRU, minGRU, GRU, BRC, nBRC).
 *
 * Design: a cell maps `d_in` input features to `d_state` recurrent units and emits `d_out` features per
 * step (`d_out = d_state` for the memory units, minGRU and the sequential baselines; `d_in` for the LRU,
 * whose own readout `Re(C h) + D x` returns to the input width). Each cell has two forms that compute the
 * same function (tests prove it):
 *
 * - `parallel(params, x)`: the whole sequence `[B, T, d_in] -> [B, T, d_out]` at once, through the
 *   scan primitive for the parallelizable cells, or a loop over `step` for the sequential baselines.
 * - `step(params, x_t, state)`: one time step `[B, d_in] -> [B, d_out]` with the state made explicit,
 *   for generation and streaming.
 *
 * States are plain objects of tensors (`{ s }`, `{ re, im }`, `{ h }`), so they pass through `tidy` and
 * `keep`. `initialState(params, batch)` takes the parameters because the memory units learn `s_0`.
 */
import type { Tensor } from '@mru/core';
import type { ApplyContext } from '../nn/module.js';
import { Module } from '../nn/module.js';
import type { ParamTree } from '../tree.js';

/** The recurrent state of a cell: named tensors, each `[B, ...]`. */
export interface CellState {
  /** One state tensor, e.g. `s`, `h`, or `re` and `im`. */
  readonly [name: string]: Tensor;
}

/** Output of a cell's parallel form. */
export interface CellOutput {
  /** Outputs for every step, `[B, T, d_out]`. */
  readonly y: Tensor;
  /** The state after the last step (to continue a stream). */
  readonly state: CellState;
  /** Mean switching rate `mean(z)` for the memory units (for the optional switching penalty). */
  readonly switchRate?: Tensor;
}

/** Output of a cell's step form. */
export interface CellStepOutput {
  /** Output of this step, `[B, d_out]`. */
  readonly y: Tensor;
  /** The new state. */
  readonly state: CellState;
}

/** Options of a cell's parallel form. */
export interface CellRunOptions extends ApplyContext {
  /** State before the first step (default `initialState(params, B)`). */
  readonly state?: CellState;
}

/** The kinds of cells `createCell` knows. */
export type CellType = 'bmru' | 'cmru' | 'fqbmru' | 'lru' | 'mingru' | 'gru' | 'brc' | 'nbrc';

/** Base class of every recurrent cell. */
export abstract class Cell extends Module {
  /** Which cell this is. */
  abstract readonly type: CellType;
  /** Input features. */
  abstract readonly dIn: number;
  /** Recurrent units. */
  abstract readonly dState: number;
  /** Output features per step. */
  abstract readonly dOut: number;
  /** True when `parallel` runs through the scan (false for GRU, BRC, nBRC). */
  abstract readonly parallelizable: boolean;
  /**
   * How a block should project this cell's output back to the model width: an ordinary Linear, or
   * (FQ-BMRU, for current-mode hardware) `ReLU(Linear)` with non-negative initial weights.
   */
  readonly outputProjection: 'linear' | 'nonnegative-relu' = 'linear';

  /** The state before the first step, for a batch of `batch` sequences. */
  abstract initialState(params: ParamTree, batch: number): CellState;
  /** The whole sequence at once: `x` `[B, T, d_in]` to `y` `[B, T, d_out]`. */
  abstract parallel(params: ParamTree, x: Tensor, options?: CellRunOptions): CellOutput;
  /**
   * One step: `x` `[B, d_in]` and the previous state to `y` `[B, d_out]` and the next state. `ctx`
   * carries per-call overrides (ε, leak); dropout does not apply to cells.
   */
  abstract step(params: ParamTree, x: Tensor, state: CellState, ctx?: ApplyContext): CellStepOutput;
}
