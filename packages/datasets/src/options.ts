/**
 * Declarative task options: each task lists its options once (name, kind, range, default,
 * description), and that list drives validation, defaults, error messages and the help a command
 * line can print. Ranges that depend on other options (e.g. denoising's `noEnd <= length - relevant`)
 * are checked by the task itself after this per-option pass.
 */

import { OptionError } from './errors.js';

/** The largest sequence length (and other length-like count) a task option accepts: one million. */
export const MAX_LENGTH = 1_000_000;

/** The largest seed: seeds are non-negative safe integers. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** An integer option with an inclusive range. */
export interface IntegerOptionSpec {
  /** The option's name, as passed in the options object. */
  readonly name: string;
  /** The option's kind. */
  readonly kind: 'integer';
  /** Smallest valid value (inclusive). */
  readonly min: number;
  /** Largest valid value (inclusive). */
  readonly max: number;
  /** The value used when the option is absent. */
  readonly default: number;
  /** What the option does. */
  readonly description: string;
}

/** A real option with a range; each bound is inclusive unless marked exclusive. */
export interface NumberOptionSpec {
  /** The option's name. */
  readonly name: string;
  /** The option's kind. */
  readonly kind: 'number';
  /** Lower bound. */
  readonly min: number;
  /** Upper bound. */
  readonly max: number;
  /** Whether `min` itself is invalid. */
  readonly minExclusive?: boolean;
  /** Whether `max` itself is invalid. */
  readonly maxExclusive?: boolean;
  /** The value used when the option is absent. */
  readonly default: number;
  /** What the option does. */
  readonly description: string;
}

/** An option taking one of a few strings. */
export interface EnumOptionSpec {
  /** The option's name. */
  readonly name: string;
  /** The option's kind. */
  readonly kind: 'enum';
  /** The valid values. */
  readonly values: readonly string[];
  /** The value used when the option is absent. */
  readonly default: string;
  /** What the option does. */
  readonly description: string;
}

/** The description of one task option. */
export type OptionSpec = IntegerOptionSpec | NumberOptionSpec | EnumOptionSpec;

/** A resolved options object: every declared option with a valid value. */
export type ResolvedOptions = Record<string, number | string>;

/**
 * The `seed` option every task has.
 *
 * @param description - What the seed controls for the task.
 * @returns The spec of an integer option in `[0, 2^53 - 1]` defaulting to 0.
 */
export function seedOption(
  description = 'seed of the generated examples (train and test streams derive from it)',
): IntegerOptionSpec {
  return { name: 'seed', kind: 'integer', min: 0, max: MAX_SEED, default: 0, description };
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string)`;
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return `an ${Array.isArray(value) ? 'array' : 'object'}`;
  return `${String(value)} (${typeof value})`;
}

function formatRange(spec: IntegerOptionSpec | NumberOptionSpec): string {
  const open = spec.kind === 'number' && spec.minExclusive ? '(' : '[';
  const close = spec.kind === 'number' && spec.maxExclusive ? ')' : ']';
  return `${open}${spec.min}, ${spec.max}${close}`;
}

/**
 * Fills in defaults and validates options against their specs.
 *
 * @param task - The task name, for messages.
 * @param specs - The task's options.
 * @param options - What the caller passed (may be `undefined`).
 * @returns Every declared option with its value.
 * @throws OptionError on an unknown option, a value of the wrong type, or a value out of range; the
 * message names the option and its valid range or values.
 */
export function resolveOptions(
  task: string,
  specs: readonly OptionSpec[],
  options: object | undefined,
): ResolvedOptions {
  const given = (options ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new OptionError(task, '', `options must be an object, got ${describeValue(options)}`);
  }
  const known = new Set(specs.map((spec) => spec.name));
  for (const key of Object.keys(given)) {
    if (!known.has(key) && given[key] !== undefined) {
      throw new OptionError(
        task,
        key,
        `unknown option ${JSON.stringify(key)}; valid options: ${specs.map((s) => s.name).join(', ')}`,
      );
    }
  }
  const resolved: ResolvedOptions = {};
  for (const spec of specs) {
    const value = given[spec.name] ?? spec.default;
    switch (spec.kind) {
      case 'integer': {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
          throw new OptionError(
            task,
            spec.name,
            `option "${spec.name}" must be an integer in ${formatRange(spec)}, got ${describeValue(value)}`,
          );
        }
        break;
      }
      case 'number': {
        const tooLow =
          typeof value === 'number' && (spec.minExclusive ? value <= spec.min : value < spec.min);
        const tooHigh =
          typeof value === 'number' && (spec.maxExclusive ? value >= spec.max : value > spec.max);
        if (typeof value !== 'number' || !Number.isFinite(value) || tooLow || tooHigh) {
          throw new OptionError(
            task,
            spec.name,
            `option "${spec.name}" must be a number in ${formatRange(spec)}, got ${describeValue(value)}`,
          );
        }
        break;
      }
      case 'enum': {
        if (typeof value !== 'string' || !spec.values.includes(value)) {
          throw new OptionError(
            task,
            spec.name,
            `option "${spec.name}" must be one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`,
          );
        }
        break;
      }
      default: {
        const never: never = spec;
        throw new OptionError(task, (never as OptionSpec).name, 'unsupported option kind');
      }
    }
    resolved[spec.name] = value as number | string;
  }
  return resolved;
}
