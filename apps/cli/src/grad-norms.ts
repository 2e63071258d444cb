/**
 * Per-block and per-cell gradient norms in the run directory: carried through `trainStep`'s metrics
 * under a key prefix, written on each metrics line as `gradNorms`, and drawn as `grad-norms.svg/png`
 * (log scale: issue 14 reports a BMRU near 1e4 beside an LRU near 6).
 */
import type { Tensor } from '@mru/core';
import type { ChartSpec } from './chart.js';

/** The prefix of the per-group gradient norms among a step's metrics. */
export const GRAD_NORM_PREFIX = 'gradNorm/';

/**
 * The same entries under prefixed keys.
 *
 * @param values - Named tensors.
 * @param prefix - Prepended to each key.
 * @returns The prefixed record.
 */
export function prefixKeys(values: Readonly<Record<string, Tensor>>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${prefix}${k}`, v]));
}

/**
 * The numeric entries whose key starts with `prefix`, with the prefix removed.
 *
 * @param values - A step's metrics.
 * @param prefix - The prefix to select and strip.
 * @returns The selected entries.
 */
export function unprefixKeys(
  values: Readonly<Record<string, number | undefined>>,
  prefix: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k.startsWith(prefix) && typeof v === 'number') out[k.slice(prefix.length)] = v;
  }
  return out;
}

/**
 * The chart of per-group gradient norms over the steps (blocks and cells; null without any).
 *
 * @param train - The training metrics lines, in order.
 * @param title - The run's title.
 * @returns The chart spec, or null when no line carries norms.
 */
export function gradNormChart(
  train: readonly { readonly step: number; readonly gradNorms?: Readonly<Record<string, number>> }[],
  title: string,
): ChartSpec | null {
  const groups = new Set<string>();
  for (const r of train) for (const g of Object.keys(r.gradNorms ?? {})) groups.add(g);
  // Blocks and cells: the parts whose balance matters (input and readout are one layer each).
  const shown = [...groups].filter((g) => g.startsWith('layers.')).sort();
  if (shown.length === 0) return null;
  return {
    title: `gradient norms (before clipping): ${title}`,
    xLabel: 'step',
    yLabel: 'L2 norm',
    yScale: 'log',
    series: shown.map((g) => ({
      label: g,
      points: train.flatMap((r) => {
        const v = r.gradNorms?.[g];
        return v !== undefined && v > 0 ? [[r.step, v] as const] : [];
      }),
    })),
  };
}
