/**
 * Schedules: pure functions from the optimizer step (0-based count of updates already applied) to a
 * value, used for the learning rate and for ε annealing. They are plain numbers on the host, so a
 * schedule costs nothing on the device and a resumed run recomputes them from the step count alone.
 */
import { ValueError } from '@mru/core';

/** A value as a function of the step (0 for the first update). */
export type Schedule = (step: number) => number;

function nonNegInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0)
    throw new ValueError(op, `${name} must be a non-negative integer, got ${v}`);
}

/** Linear warmup factor: `(step + 1) / warmupSteps` during warmup, then 1. */
function warmupFactor(step: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

/** Options shared by the decaying learning-rate schedules. */
export interface DecayScheduleOptions {
  /** The learning rate reached at the end of warmup. */
  readonly peak: number;
  /** Step at which the decay ends (the value stays at its final level afterwards). */
  readonly totalSteps: number;
  /** Steps of linear warmup from `peak / warmupSteps` to `peak` (default 0). */
  readonly warmupSteps?: number;
  /** Final value as a fraction of `peak`. */
  readonly finalRatio?: number;
}

function checkDecay(op: string, o: DecayScheduleOptions): { warmup: number; final: number } {
  const warmup = o.warmupSteps ?? 0;
  nonNegInt(op, 'warmupSteps', warmup);
  nonNegInt(op, 'totalSteps', o.totalSteps);
  if (!(o.peak >= 0)) throw new ValueError(op, `peak must be >= 0, got ${o.peak}`);
  return { warmup, final: o.peak * (o.finalRatio ?? (op === 'cosineSchedule' ? 0.01 : 0)) };
}

/** A constant value, optionally after a linear warmup. */
export function constantSchedule(value: number, warmupSteps = 0): Schedule {
  nonNegInt('constantSchedule', 'warmupSteps', warmupSteps);
  return (step) => value * warmupFactor(step, warmupSteps);
}

/**
 * Linear warmup, then cosine decay from `peak` to `finalRatio * peak` (default 1%, the training
 * default of MODELS.md) at `totalSteps`.
 */
export function cosineSchedule(options: DecayScheduleOptions): Schedule {
  const { warmup, final } = checkDecay('cosineSchedule', options);
  const { peak, totalSteps } = options;
  return (step) => {
    if (step < warmup) return peak * warmupFactor(step, warmup);
    const span = Math.max(1, totalSteps - warmup);
    const p = Math.min(1, Math.max(0, (step - warmup) / span));
    return final + (peak - final) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}

/** Linear warmup, then linear decay from `peak` to `finalRatio * peak` (default 0) at `totalSteps`. */
export function linearSchedule(options: DecayScheduleOptions): Schedule {
  const { warmup, final } = checkDecay('linearSchedule', options);
  const { peak, totalSteps } = options;
  return (step) => {
    if (step < warmup) return peak * warmupFactor(step, warmup);
    const span = Math.max(1, totalSteps - warmup);
    const p = Math.min(1, Math.max(0, (step - warmup) / span));
    return peak + (final - peak) * p;
  };
}

/** Options of `epsilonAnnealing`. */
export interface EpsilonAnnealingOptions {
  /** K1: steps at ε = 1 (default 1000). */
  readonly hold?: number;
  /** K2: steps of linear decay from 1 to 0 (default 5000). */
  readonly decay?: number;
}

/**
 * ε annealing (MODELS.md) in absolute steps: ε = 1 for the first K1 steps, then a linear decay to 0
 * over K2 steps, then 0. Pass the value as `epsilon` of the apply context (`trainStep` does this from
 * an `EpsilonScheduleOptions`, which also travels in checkpoints).
 */
export function epsilonAnnealing(options: EpsilonAnnealingOptions = {}): Schedule {
  const hold = options.hold ?? 1000;
  const decay = options.decay ?? 5000;
  nonNegInt('epsilonAnnealing', 'hold', hold);
  nonNegInt('epsilonAnnealing', 'decay', decay);
  return (step) => {
    if (step < hold) return 1;
    if (decay === 0 || step >= hold + decay) return 0;
    return 1 - (step - hold) / decay;
  };
}

/**
 * The default K1 = 1000, K2 = 5000 scaled to a run of `totalSteps` (our choice of reference: a
 * 10,000-step run, so K1 = 10% and K2 = 50% of the run, leaving the last 40% at ε = 0).
 */
export function epsilonAnnealingFor(totalSteps: number, referenceSteps = 10_000): Schedule {
  nonNegInt('epsilonAnnealingFor', 'totalSteps', totalSteps);
  if (!(referenceSteps > 0)) throw new ValueError('epsilonAnnealingFor', `referenceSteps must be positive`);
  const f = totalSteps / referenceSteps;
  return epsilonAnnealing({ hold: Math.round(1000 * f), decay: Math.round(5000 * f) });
}

/** What an annealed value drives: ε of the BMRU/CMRU cells, the FQ-BMRU leak, or both. */
export type AnnealTarget = 'epsilon' | 'leak' | 'both';

/**
 * An annealing schedule as plain JSON (it is stored in checkpoints, so a resumed run anneals exactly
 * as an uninterrupted one): hold `start` for a fraction `hold` of the run, move linearly to `end` over
 * a fraction `ramp`, then hold `end`.
 */
export interface EpsilonScheduleOptions {
  /** Length of the run the fractions refer to (the learning-rate schedule's length). */
  readonly totalSteps: number;
  /** Value at the start (default 1: train a BMRU as a CMRU first). */
  readonly start?: number;
  /** Value at the end (default 0: the plain BMRU). */
  readonly end?: number;
  /** Fraction of `totalSteps` held at `start` (default 0.1). */
  readonly hold?: number;
  /** Fraction of `totalSteps` of the linear move to `end` (default 0.5). */
  readonly ramp?: number;
  /** What the value drives (default `'epsilon'`). */
  readonly target?: AnnealTarget;
}

/** An `EpsilonScheduleOptions` with every default filled in and checked. */
export type ResolvedEpsilonSchedule = Required<EpsilonScheduleOptions>;

/**
 * Checks a schedule and fills in its defaults (start 1, end 0, hold 0.1, ramp 0.5: the `mru train
 * --anneal` default of MODELS.md's K1 = 1000, K2 = 5000 on a 10,000-step run).
 *
 * @param options - The schedule.
 * @returns The complete schedule.
 * @throws ValueError when a value is out of range.
 */
export function resolveEpsilonSchedule(options: EpsilonScheduleOptions): ResolvedEpsilonSchedule {
  const op = 'epsilonSchedule';
  if (!options || typeof options !== 'object') throw new ValueError(op, 'expected a schedule object');
  const r: ResolvedEpsilonSchedule = {
    totalSteps: options.totalSteps,
    start: options.start ?? 1,
    end: options.end ?? 0,
    hold: options.hold ?? 0.1,
    ramp: options.ramp ?? 0.5,
    target: options.target ?? 'epsilon',
  };
  nonNegInt(op, 'totalSteps', r.totalSteps);
  for (const name of ['start', 'end', 'hold', 'ramp'] as const) {
    if (!(r[name] >= 0 && r[name] <= 1))
      throw new ValueError(op, `${name} must be in [0, 1], got ${r[name]}`);
  }
  if (r.hold + r.ramp > 1 + 1e-12)
    throw new ValueError(op, `hold + ramp must be at most 1 (the whole run), got ${r.hold} + ${r.ramp}`);
  if (!['epsilon', 'leak', 'both'].includes(r.target))
    throw new ValueError(op, `target must be 'epsilon', 'leak' or 'both', got '${r.target}'`);
  return r;
}

/**
 * The annealing schedule of `options` as a function of the step (0 for the first update): `start`
 * for the first `round(hold * totalSteps)` steps, then linear to `end` over `round(ramp * totalSteps)`
 * steps, then `end`. For sequential MNIST's "hold 1 for 5%, then to 0 over 70%":
 * `epsilonSchedule({ totalSteps, hold: 0.05, ramp: 0.7 })`.
 *
 * @param options - The schedule.
 * @returns The schedule function.
 */
export function epsilonSchedule(options: EpsilonScheduleOptions): Schedule {
  const { totalSteps, start, end, hold, ramp } = resolveEpsilonSchedule(options);
  const holdSteps = Math.round(hold * totalSteps);
  const rampSteps = Math.round(ramp * totalSteps);
  return (step) => {
    if (step < holdSteps) return start;
    if (rampSteps === 0 || step >= holdSteps + rampSteps) return end;
    return start + (end - start) * ((step - holdSteps) / rampSteps);
  };
}
