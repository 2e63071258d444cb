/**
 * Gradient norms per layer and per cell, for training metrics (`trainStep`'s `gradMetrics`).
 *
 * Why: the global norm hides which part of a network dominates it. Issue 14 reports BMRU gradient
 * norms near 1e4 against 6 for the LRU: in a hybrid, clipping by the global norm then scales the LRU's
 * update down by the BMRU's surrogate, which only per-cell norms show.
 *
 * Groups are prefixes of the dotted parameter names: every top-level module (`input`, `readout`,
 * `time`, ...), every block (`layers.0`), and every cell inside a block (`layers.0.cell`,
 * `layers.0.cell0`, `layers.0.cell1`).
 */
import { concat, reshape, sqrt, square, sum, type Tensor } from '@mru/core';
import { flattenTree, type ParamTree } from '../tree.js';

/**
 * The group names of a dotted parameter name: its top-level module, and for a parameter inside a
 * block (`layers.<i>.…`) the block and, under a cell, the cell.
 *
 * @param name - A dotted parameter name, e.g. `layers.0.cell1.B_re`.
 * @returns The groups it belongs to, e.g. `['layers.0', 'layers.0.cell1']`.
 */
export function gradGroups(name: string): string[] {
  const parts = name.split('.');
  if (parts[0] !== 'layers' || parts.length < 3) return [parts[0]];
  const block = `layers.${parts[1]}`;
  return /^cell\d*$/.test(parts[2]) && parts.length > 3 ? [block, `${block}.${parts[2]}`] : [block];
}

/**
 * The L2 norm of the gradients of each group (see `gradGroups`), as scalar tensors.
 *
 * @param grads - Gradients, a tree shaped like the parameters.
 * @returns One scalar per group, keyed by group name.
 */
export function gradNormsByGroup(grads: ParamTree): Record<string, Tensor> {
  const squares = new Map<string, Tensor[]>();
  for (const [name, g] of Object.entries(flattenTree(grads))) {
    const s = reshape(sum(square(g)), [1]);
    for (const group of gradGroups(name)) {
      const list = squares.get(group) ?? [];
      list.push(s);
      squares.set(group, list);
    }
  }
  const out: Record<string, Tensor> = {};
  for (const [group, parts] of squares) {
    const total = parts.length === 1 ? parts[0] : sum(concat(parts, 0));
    out[group] = sqrt(reshape(total, []));
  }
  return out;
}
