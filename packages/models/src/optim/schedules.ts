/**
 * Schedules: pure functions from the optimizer step (0-based count of updates already applied) to a
 * value, used for the learning rate and for ε annealing. They are plain numbers on the host, so a
 * schedule costs nothing on the device and a resumed run recomputes them from the step count alone.
 */
import { ValueError } from '@mru/core';

/**
 * A value as a function of the step (0 for the first update).
 *
 * @category Schedules
 */
export type Schedule = (step: number) => number;

function nonNegInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0)
    throw new ValueError(op, `${name} must be a non-negative integer, got ${v}`);
}

/** Linear warmup factor: `(step + 1) / warmupSteps` during warmup, then 1. */
function warmupFactor(step: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

/**
 * Options shared by the decaying learning-rate schedules.
 *
 * @category Schedules
 */
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

/**
 * A constant value, optionally after a linear warmup.
 *
 * @param value - The learning rate.
 * @param warmupSteps - Steps of linear warm-up from 0 (default 0).
 * @category Schedules
 */
export function constantSchedule(value: number, warmupSteps = 0): Schedule {
  nonNegInt('constantSchedule', 'warmupSteps', warmupSteps);
  return (step) => value * warmupFactor(step, warmupSteps);
}

/**
 * Linear warmup, then cosine decay from `peak` to `finalRatio * peak` (default 1%, the training
 * training default) at `totalSteps`.
 *
 * @param options - Peak rate, total and warm-up steps, and the final rate as a fraction of the peak.
 * @category Schedules
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

/**
 * Linear warmup, then linear decay from `peak` to `finalRatio * peak` (default 0) at `totalSteps`.
 *
 * @param options - Peak rate, total and warm-up steps, and the final rate as a fraction of the peak.
 * @category Schedules
 */
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

/**
 * Options of `epsilonAnnealing`.
 *
 * @category Schedules
 */
export interface EpsilonAnnealingOptions {
  /** K1: steps at ε = 1 (default 1000). */
  readonly hold?: number;
  /** K2: steps of linear decay from 1 to 0 (default 5000). */
  readonly decay?: number;
}

/**
 * ε annealing (the models guide, "CMRU and the ε family"): ε = 1 for the first K1 steps, then a linear decay to 0 over K2 steps, then 0.
 * Train a BMRU as a CMRU first: call `network.setEpsilon(schedule(step))` before each step.
 *
 * @param options - `hold` (K1, steps at ε = 1) and `decay` (K2, steps of the linear decay to 0).
 * @category Schedules
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
 *
 * @param totalSteps - The length of the run.
 * @param referenceSteps - The run length the default K1 and K2 are given for.
 * @category Schedules
 */
export function epsilonAnnealingFor(totalSteps: number, referenceSteps = 10_000): Schedule {
  nonNegInt('epsilonAnnealingFor', 'totalSteps', totalSteps);
  if (!(referenceSteps > 0)) throw new ValueError('epsilonAnnealingFor', `referenceSteps must be positive`);
  const f = totalSteps / referenceSteps;
  return epsilonAnnealing({ hold: Math.round(1000 * f), decay: Math.round(5000 * f) });
}
