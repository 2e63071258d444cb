/**
 * The task registry: one name per task, its factory, its options, and `createTask`, the single entry
 * point a command line needs (it takes a name and a plain options object, and is async because MNIST
 * loads its digits on first use).
 */

import { UnknownTaskError } from './errors.js';
import type { OptionSpec } from './options.js';
import { type AddingOptions, adding, addingOptions } from './tasks/adding.js';
import {
  type CopyFirstInputOptions,
  copyFirstInput,
  copyFirstInputOptions,
} from './tasks/copy-first-input.js';
import { type DenoisingOptions, denoising, denoisingOptions } from './tasks/denoising.js';
import { type FlipFlopOptions, flipFlop, flipFlopOptions } from './tasks/flip-flop.js';
// Through the task module, whose loader bundlers do not follow (tasks/mnist-source.ts).
import {
  type PermutedMnistOptions,
  permutedMnist,
  permutedMnistOptions,
  type SequentialMnistOptions,
  sequentialMnist,
  sequentialMnistOptions,
} from './tasks/mnist.js';
import { type SelectiveCopyOptions, selectiveCopy, selectiveCopyOptions } from './tasks/selective-copy.js';
import type { Task } from './types.js';

/** The options object of each registered task, by name. */
export interface TaskOptionsByName {
  /** See {@link copyFirstInput}. */
  'copy-first-input': CopyFirstInputOptions;
  /** See {@link denoising}. */
  denoising: DenoisingOptions;
  /** See {@link sequentialMnist}. */
  'sequential-mnist': SequentialMnistOptions;
  /** See {@link permutedMnist}. */
  'permuted-mnist': PermutedMnistOptions;
  /** See {@link adding}. */
  adding: AddingOptions;
  /** See {@link flipFlop}. */
  'flip-flop': FlipFlopOptions;
  /** See {@link selectiveCopy}. */
  'selective-copy': SelectiveCopyOptions;
}

/** The name of a registered task. */
export type TaskName = keyof TaskOptionsByName;

/** A registry entry: the factory of a task and the specs of its options. */
export interface TaskEntry<Options> {
  /** Creates the task; synchronous for generated tasks, a promise for MNIST. */
  readonly create: (options?: Options) => Task | Promise<Task>;
  /** The task's options: names, kinds, ranges, defaults, descriptions. */
  readonly options: readonly OptionSpec[];
  /** Whether `create` returns a promise. */
  readonly async: boolean;
}

/** Every registered task, by name. */
export const tasks: { readonly [Name in TaskName]: TaskEntry<TaskOptionsByName[Name]> } = Object.freeze({
  'copy-first-input': { create: copyFirstInput, options: copyFirstInputOptions, async: false },
  denoising: { create: denoising, options: denoisingOptions, async: false },
  'sequential-mnist': { create: sequentialMnist, options: sequentialMnistOptions, async: true },
  'permuted-mnist': { create: permutedMnist, options: permutedMnistOptions, async: true },
  adding: { create: adding, options: addingOptions, async: false },
  'flip-flop': { create: flipFlop, options: flipFlopOptions, async: false },
  'selective-copy': { create: selectiveCopy, options: selectiveCopyOptions, async: false },
});

/** The registered task names, in registry order. */
export const taskNames: readonly TaskName[] = Object.freeze(Object.keys(tasks) as TaskName[]);

/**
 * Whether a string names a registered task.
 *
 * @param name - Any string.
 * @returns `true` when `name` is a {@link TaskName}.
 */
export function isTaskName(name: string): name is TaskName {
  return Object.hasOwn(tasks, name);
}

/**
 * Creates a registered task by name.
 *
 * @example
 * ```ts
 * const task = await createTask('denoising', { noEnd: 200, seed: 1 });
 * ```
 *
 * @param name - A task name (see {@link taskNames}).
 * @param options - The task's options; unknown keys are rejected.
 * @returns The task (a promise, since MNIST loads its digits first).
 * @throws UnknownTaskError (as a rejected promise) for an unknown name, listing the valid ones;
 * OptionError for bad options.
 */
export async function createTask<Name extends TaskName>(
  name: Name,
  options?: TaskOptionsByName[Name],
): Promise<Task>;
/**
 * Creates a registered task from an untyped name and options, e.g. parsed from a command line.
 *
 * @param name - A task name (see {@link taskNames}).
 * @param options - The task's options; unknown keys are rejected.
 * @returns The task.
 * @throws UnknownTaskError (as a rejected promise) for an unknown name, listing the valid ones;
 * OptionError for bad options.
 */
export async function createTask(name: string, options?: Record<string, unknown>): Promise<Task>;
export async function createTask(name: string, options?: Record<string, unknown>): Promise<Task> {
  if (!isTaskName(name)) throw new UnknownTaskError(name, taskNames);
  const entry = tasks[name] as TaskEntry<Record<string, unknown>>;
  return entry.create(options);
}
