/**
 * What a preset is: data. A preset family (`quick`, `horizon`, ...) builds, from the command's
 * options, a list of runs given as `mru train` values, the tables that summarise their outcomes and
 * a verdict on the claim it tests. Families are registered in `presets.ts`; the command, the worker
 * pool and the reports know nothing about any one of them.
 */
import type { ModelName } from '../models.js';
import type { RunOutcome, RunSpec } from '../runs.js';
import type { Table } from '../table.js';

/** The command-line choices a preset family is built from. */
export interface PresetOptions {
  /** `--quick`: the variant sized for a 2-core machine. */
  readonly quick: boolean;
  /** `--seed`, as a `mru train` value. */
  readonly seed: string;
  /** `--steps`, as a `mru train` value, when given (each family has its own default). */
  readonly steps: string | undefined;
}

/** A captioned table of a report. */
export interface CaptionedTable {
  /** One line above the table. */
  readonly caption: string;
  /** The table. */
  readonly table: Table;
}

/** A built preset: its runs and how to read their outcomes. */
export interface Preset {
  /** Title of the report. */
  readonly title: string;
  /** The claim of the MRU papers the preset tests, in one sentence. */
  readonly claim: string;
  /** The runs, in report order. */
  readonly runs: RunSpec[];
  /** The report's tables. */
  readonly tables: (outcomes: readonly RunOutcome[]) => CaptionedTable[];
  /** What the numbers say about the claim, in one or two sentences computed from the outcomes. */
  readonly verdict: (outcomes: readonly RunOutcome[]) => string;
}

/** A preset family: one registry entry. */
export interface PresetFamily {
  /** One line for `mru experiment --help`. */
  readonly help: string;
  /** Builds the preset for the given options. */
  readonly build: (options: PresetOptions) => Preset;
}

/**
 * Sizes shared by the synthetic presets: small two-layer networks without MLP or dropout, peak
 * learning rate 2e-3 (measured on copy-first-input: 1e-3 learns more slowly, 3e-3 makes the CMRU's
 * integer states diverge).
 */
export const SMALL = { 'd-model': '16', 'd-state': '32', layers: '2', mlp: '0', dropout: '0', batch: '64' };

/** `--steps` when given, else the family's default. */
export function stepsOr(options: PresetOptions, def: number): string {
  return options.steps ?? String(def);
}

/**
 * Network options per model on copy-first-input (issue 14; measurements in docs/ablations.md). Both
 * cells must start holding and must tell the first step from the others. minGRU starts with its gates
 * closed (`gateBias = -5`) and reads the step index (time features with a learned per-position
 * offset, at the input and every block): test MSE 0.054 at T = 100 against 1.13 (chance) without;
 * gate bias and plain time features at the input only also stayed at chance. FQ-BMRU starts with
 * `W_x = 0` and `b_x` mid-band (`fqInit=midband`: every unit holds whatever the input) and reads a
 * sinusoidal time code through a residual MLP stage after the embedding (`stemMlp`), whose gated
 * units can pass the input at the first step only: 0.14 at T = 100 against 1.13 with the specified
 * initialisation, learned on 2 of 5 seeds.
 */
const COPY_RECIPE: Readonly<Partial<Record<ModelName, readonly string[]>>> = {
  mingru: ['gateBias=-5', 'time=16', 'timeMax=128', 'timeBlocks=true'],
  'fq-bmru': ['fqInit=midband', 'time=16', 'stemMlp=true'],
};

/** copy-first-input runs named `<model>-T<length>`, for every length and model. */
export function copyRuns(
  models: readonly ModelName[],
  lengths: readonly number[],
  common: Record<string, string>,
): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const T of lengths) {
    for (const model of models) {
      runs.push({
        name: `${model}-T${T}`,
        model,
        values: {
          ...common,
          task: 'copy-first-input',
          model,
          'seq-len': String(T),
          ...(COPY_RECIPE[model] ? { 'net-opt': COPY_RECIPE[model] } : {}),
        },
      });
    }
  }
  return runs;
}
