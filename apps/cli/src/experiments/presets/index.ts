/**
 * The registry of experiment presets: one entry a family. A new family lives in its own file in this
 * folder and is added here with one import and one line; `mru experiment`'s names, help and
 * validation all come from this object.
 */
import type { PresetFamily } from '../preset.js';
import { ablateSmnist } from './ablate-smnist.js';
import { horizon } from './horizon.js';
import { persistentMemory } from './persistent-memory.js';
import { quick } from './quick.js';
import { smnist } from './smnist.js';

/** Every preset family by its name on the command line, in help order. */
export const PRESETS = {
  quick,
  'persistent-memory': persistentMemory,
  horizon,
  smnist,
  'ablate-smnist': ablateSmnist,
} as const satisfies Readonly<Record<string, PresetFamily>>;

/** A preset name. */
export type ExperimentName = keyof typeof PRESETS;

/** The preset names, in help order. */
export const EXPERIMENT_NAMES = Object.keys(PRESETS) as readonly ExperimentName[];

/** One line per preset, for `--help`. */
export const EXPERIMENT_HELP: Readonly<Record<ExperimentName, string>> = Object.fromEntries(
  EXPERIMENT_NAMES.map((name) => [name, PRESETS[name].help]),
) as Record<ExperimentName, string>;
