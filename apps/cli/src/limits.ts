/**
 * Size limits of `mru train`, `mru eval` and stored run configs, and the up-front memory check.
 *
 * Why: a size such as `--d-model 1e9` or `--batch 1e9` is a valid integer, and without a bound it
 * either dies deep inside a typed-array constructor (`RangeError: Invalid typed array length`) or
 * runs silently into many GiB. The same values can come from a checkpoint's stored config, which
 * is a file anyone can edit. Every size is therefore bounded, and before anything is allocated the
 * parameter and activation memory of one training (or evaluation) step is estimated and compared
 * with the machine's memory, so the user gets a message saying which knob to turn.
 */
import { totalmem } from 'node:os';
import type { TaskName } from '@mru/datasets';
import { createNetwork, type NetworkConfig } from '@mru/models';

/** Largest accepted value of each size option (inclusive). */
export const LIMITS = {
  'd-model': 4096,
  'd-state': 4096,
  layers: 64,
  mlp: 16,
  batch: 65_536,
  'seq-len': 1_000_000,
  'eval-batches': 100_000,
  'eval-every': 1_000_000_000,
  'log-every': 1_000_000_000,
  'stop-at': 1_000_000_000,
} as const;

/** What the memory estimate needs to know about a run. */
export interface SizeFacts {
  /** The network config (bounded already). */
  readonly network: NetworkConfig;
  /** Examples per batch (training or evaluation). */
  readonly batch: number;
  /** Time steps per sequence. */
  readonly length: number;
  /** Whether gradients and optimizer moments are held (training) or not (evaluation). */
  readonly training: boolean;
}

/** An estimate of one step's memory, in bytes. */
export interface MemoryEstimate {
  /** Parameters (with gradients and AdamW moments when training). */
  readonly parameters: number;
  /** Activations kept for the backward pass (or alive at once when evaluating). */
  readonly activations: number;
  /** Both. */
  readonly total: number;
  /** Scalar parameters of the network. */
  readonly paramCount: number;
}

/**
 * Estimates the memory of one step. Deliberately generous on activations: per layer and time step a
 * block keeps a few `dModel`-wide tensors (norms, projections, gates), the GLU MLP a few of
 * `mlp x dModel`, and the cell several of `dState` (scan inputs, states, surrogate terms).
 */
export function estimateMemory(facts: SizeFacts): MemoryEstimate {
  const net = createNetwork(facts.network);
  const paramCount = net.paramCount();
  const cfg = net.config;
  const cells = Array.isArray(cfg.cell) ? cfg.cell : [cfg.cell];
  const dState = Math.max(...cells.map(stateWidth));
  const perStep = 8 * cfg.dModel + 4 * (cfg.mlpExpansion ?? 4) * cfg.dModel + 12 * dState;
  const keep = facts.training ? 1 : 0.25;
  const activations = 4 * facts.batch * facts.length * (cfg.nLayers * perStep * keep + cfg.dIn + cfg.dOut);
  const parameters = 4 * paramCount * (facts.training ? 4 : 1);
  return { parameters, activations, total: parameters + activations, paramCount };
}

function stateWidth(cell: unknown): number {
  if (cell === null || typeof cell !== 'object') return 0;
  const c = cell as { dState?: unknown; cells?: unknown };
  const own = typeof c.dState === 'number' ? c.dState : 0;
  const nested = Array.isArray(c.cells) ? c.cells.map(stateWidth).reduce((a, b) => a + b, 0) : 0;
  return Math.max(own, nested);
}

/** Bytes as GiB with one decimal (or MiB below 1 GiB). */
export function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/** The memory a run may plan to use: 3/4 of the machine's, leaving room for the rest. */
export function memoryBudget(): number {
  return Math.floor(totalmem() * 0.75);
}

/**
 * Null when the step fits in `budget` bytes; otherwise a message naming the estimate, the budget
 * and the options that shrink it.
 *
 * @param facts - Sizes of the run.
 * @param budget - Bytes available (default: `memoryBudget()`).
 * @returns The message, or null.
 */
export function memoryProblem(facts: SizeFacts, budget = memoryBudget()): string | null {
  const e = estimateMemory(facts);
  if (e.total <= budget) return null;
  return (
    `this ${facts.training ? 'training' : 'evaluation'} step needs about ${formatBytes(e.total)} ` +
    `(${e.paramCount} parameters: ${formatBytes(e.parameters)}; activations of batch ${facts.batch} x length ${facts.length}: ${formatBytes(e.activations)}), ` +
    `more than the ${formatBytes(budget)} this machine can give; reduce --batch, --seq-len, --d-model, --d-state, --layers or --mlp`
  );
}

/** The sequence length a task's options imply, for tasks whose length is an option. */
export function taskLength(task: TaskName, options: Readonly<Record<string, unknown>>): number | null {
  if (typeof options.length === 'number') return options.length;
  if (typeof options.appendedZeros === 'number') return 784 + options.appendedZeros;
  return task.includes('mnist') ? 784 : null;
}
