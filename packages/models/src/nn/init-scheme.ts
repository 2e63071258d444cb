/**
 * Whole-network initialisation schemes, applied after `Module.init` (`NetworkConfig.init`).
 *
 * `'lecun'` is the recipe issue 14 reports from the BMRU authors' group: every Linear weight drawn from
 * `N(0, 1 / fan_in)` and every Linear bias set to 0, except the biases that carry meaning (the BMRU
 * threshold bias `b_β = 1` and the output-gate bias 4), which keep their own initialisation. Layers
 * whose initialisation is part of a cell's specification (the FQ-BMRU's non-negative maps) are left
 * alone. The scheme is a pure function of the seed and the parameter names, like `Module.init`.
 */
import { dispose, randn, type Tensor, ValueError, zeros } from '@mru/core';
import { deriveSeed, flattenTree, type ParamTree, unflattenTree } from '../tree.js';

/** Initialisation schemes of a whole network. */
export type InitScheme = 'default' | 'lecun';

/** Names of the schemes, for validation. */
export const INIT_SCHEMES: readonly InitScheme[] = ['default', 'lecun'];

/**
 * Re-draws the Linear layers of `params` under a scheme.
 *
 * @param params - Fresh parameters from `Module.init` (consumed: replaced tensors are disposed).
 * @param linears - Dotted paths of the Linear layers to re-draw (e.g. `'layers.0.cell.wc'`), each with
 *   whether its bias keeps its own initialisation.
 * @param scheme - The scheme.
 * @param seed - The root seed.
 * @returns The new tree (tensors not re-drawn are passed through).
 */
export function applyInitScheme(
  params: ParamTree,
  linears: readonly { readonly path: string; readonly keepBias: boolean }[],
  scheme: InitScheme,
  seed: number,
): ParamTree {
  if (!INIT_SCHEMES.includes(scheme))
    throw new ValueError('applyInitScheme', `unknown scheme '${scheme}' (known: ${INIT_SCHEMES.join(', ')})`);
  if (scheme === 'default') return params;
  const flat: Record<string, Tensor> = { ...flattenTree(params) };
  for (const { path, keepBias } of linears) {
    const w = flat[`${path}.weight`];
    if (w?.rank !== 2) throw new ValueError('applyInitScheme', `no Linear weight at '${path}'`);
    flat[`${path}.weight`] = randn(w.shape, 0, 1 / Math.sqrt(w.shape[0]), {
      seed: deriveSeed(seed, `${scheme}/${path}.weight`),
    });
    dispose(w);
    const b = flat[`${path}.bias`];
    if (b && !keepBias) {
      flat[`${path}.bias`] = zeros(b.shape);
      dispose(b);
    }
  }
  return unflattenTree(flat);
}
