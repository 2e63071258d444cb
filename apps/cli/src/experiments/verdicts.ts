/**
 * The verdicts of the presets: what the numbers of a finished experiment say about the claim it
 * tests, in a sentence computed from the outcomes (never written by hand), with the thresholds that
 * decide it. Kept apart from the presets' runs so a threshold is read and changed in one place.
 */
import type { ModelName } from '../models.js';
import type { RunOutcome } from '../runs.js';
import { fmt, pct } from '../table.js';

/** A copy-first-input run counts as solved below this test MSE (chance is about 1). */
export const SOLVED_MSE = 0.2;

/** The outcome of the run named `name`. */
export function find(outcomes: readonly RunOutcome[], name: string): RunOutcome | undefined {
  return outcomes.find((o) => o.spec.name === name);
}

/** quick: the BMRU solves copy-first-input at `T` and the LRU stays well above solved. */
export function quickVerdict(T: number): (outcomes: readonly RunOutcome[]) => string {
  return (outcomes) => {
    const b = find(outcomes, `bmru-T${T}`)?.test.mse ?? Number.NaN;
    const l = find(outcomes, `lru-T${T}`)?.test.mse ?? Number.NaN;
    const holds = b < SOLVED_MSE && l > 2.5 * SOLVED_MSE;
    return `BMRU test MSE ${fmt(b)}, LRU ${fmt(l)} (chance about 1; solved means below ${SOLVED_MSE}): the claim ${holds ? 'holds' : 'does not hold'} in this run.`;
  };
}

/** persistent-memory: which models solve copy-first-input at each length. */
export function solvedByLength(
  models: readonly ModelName[],
  lengths: readonly number[],
): (outcomes: readonly RunOutcome[]) => string {
  return (outcomes) =>
    lengths
      .map((T) => {
        const solved = models.filter(
          (m) => (find(outcomes, `${m}-T${T}`)?.test.mse ?? Number.POSITIVE_INFINITY) < SOLVED_MSE,
        );
        return `T = ${T}: ${solved.length ? solved.join(', ') : 'no model'} below MSE ${SOLVED_MSE}`;
      })
      .join('; ')
      .concat('.');
}

/** horizon: how much accuracy each model loses from T to 100 T. */
export function horizonVerdict(outcomes: readonly RunOutcome[]): string {
  return `accuracy at 100 T minus accuracy at T: ${outcomes
    .map(
      (o) =>
        `${o.spec.model} ${(((o.extra['100T']?.accuracy ?? Number.NaN) - (o.test.accuracy ?? Number.NaN)) * 100).toFixed(1)} points`,
    )
    .join(', ')}.`;
}

/** smnist: the hybrid is within one point of the better single cell, or above it. */
export function hybridVerdict(outcomes: readonly RunOutcome[]): string {
  const acc = (m: string) => outcomes.find((o) => o.spec.model === m)?.test.accuracy ?? Number.NaN;
  const best = Math.max(acc('bmru'), acc('lru'));
  return `hybrid ${pct(acc('hybrid'))} vs the better single cell ${pct(best)}: the claim ${acc('hybrid') >= best - 0.01 ? 'holds' : 'does not hold'} in this run (within one point).`;
}
