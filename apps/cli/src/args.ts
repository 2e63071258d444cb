/**
 * Command-line parsing: one table of options, shared by the parser, the validators and `--help`.
 *
 * Design: `node:util`'s `parseArgs` does the tokenising (strict, so nothing unknown slips through);
 * this module turns its errors into `UsageError`s that list the valid options of the command, and
 * converts raw strings into checked integers, numbers and enum values whose messages name the option
 * and its valid range. Each command declares which options it takes by name, so the help text and
 * the accepted set can never disagree.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** One command-line option. */
export interface OptionDef {
  /** Long name without dashes, e.g. `d-model`. */
  readonly name: string;
  /** `string` options take a value, `boolean` ones are flags. */
  readonly type: 'string' | 'boolean';
  /** One-letter alias. */
  readonly short?: string;
  /** May be given several times (values are collected). */
  readonly multiple?: boolean;
  /** Placeholder of the value in help, e.g. `N`. */
  readonly value?: string;
  /** One line of help. */
  readonly help: string;
}

/** Every option any command accepts. */
export const OPTIONS: Readonly<Record<string, OptionDef>> = Object.freeze(
  Object.fromEntries(
    (
      [
        { name: 'task', type: 'string', value: 'NAME', help: 'task to train on (default copy-first-input)' },
        { name: 'model', type: 'string', value: 'NAME', help: 'cell type (default bmru)' },
        { name: 'backend', type: 'string', value: 'NAME', help: 'cpu, webgpu or gpujs (default cpu)' },
        { name: 'd-model', type: 'string', value: 'N', help: 'width of the residual stream (default 32)' },
        { name: 'd-state', type: 'string', value: 'N', help: 'recurrent units per cell (default 32)' },
        { name: 'layers', type: 'string', value: 'N', help: 'number of blocks (default 2)' },
        {
          name: 'mlp',
          type: 'string',
          value: 'N',
          help: 'GLU MLP expansion per block, 0 for none (default 4)',
        },
        {
          name: 'steps',
          type: 'string',
          value: 'N',
          help: 'training steps, the length of the schedule (default 400)',
        },
        {
          name: 'stop-at',
          type: 'string',
          value: 'N',
          help: 'stop after step N (resume later with --resume)',
        },
        { name: 'batch', type: 'string', value: 'N', help: 'examples per batch (default 64)' },
        {
          name: 'seed',
          type: 'string',
          value: 'N',
          help: 'seed of data, initialisation and dropout (default 0)',
        },
        {
          name: 'lr',
          type: 'string',
          value: 'X',
          help: 'peak learning rate, cosine-decayed to 1% (default 1e-3)',
        },
        {
          name: 'seq-len',
          type: 'string',
          value: 'T',
          help: 'sequence length T of the task (MNIST: 784 + appended zeros)',
        },
        {
          name: 'out',
          type: 'string',
          value: 'DIR',
          help: 'run directory (default runs/<command>-<task>-<model>-<time>)',
        },
        {
          name: 'resume',
          type: 'string',
          value: 'CKPT',
          help: 'continue training from a checkpoint (.safetensors)',
        },
        {
          name: 'eval-every',
          type: 'string',
          value: 'N',
          help: 'evaluate on the validation split every N steps (default steps/10); test once at the end',
        },
        {
          name: 'eval-batches',
          type: 'string',
          value: 'N',
          help: 'batches per evaluation, validation and test (default 4)',
        },
        {
          name: 'log-every',
          type: 'string',
          value: 'N',
          help: 'write a metrics line every N steps (default: steps/100, between 1 and 10)',
        },
        { name: 'dropout', type: 'string', value: 'X', help: 'dropout rate (default 0.1)' },
        { name: 'weight-decay', type: 'string', value: 'X', help: 'AdamW weight decay (default 1e-4)' },
        { name: 'clip', type: 'string', value: 'X', help: 'gradient clipping by global norm (default 1)' },
        {
          name: 'anneal',
          type: 'boolean',
          help: 'epsilon annealing: train BMRU cells as CMRUs (epsilon 1) for 10% of the steps, then decay epsilon linearly to 0 over 50%',
        },
        {
          name: 'anneal-hold',
          type: 'string',
          value: 'X',
          help: 'annealing: fraction of the steps held at the start value (default 0.1; implies --anneal)',
        },
        {
          name: 'anneal-ramp',
          type: 'string',
          value: 'X',
          help: 'annealing: fraction of the steps of the linear decay to 0 (default 0.5; implies --anneal)',
        },
        {
          name: 'anneal-target',
          type: 'string',
          value: 'NAME',
          help: 'annealing: epsilon (BMRU/CMRU), leak (FQ-BMRU) or both (default epsilon; implies --anneal)',
        },
        {
          name: 'task-opt',
          type: 'string',
          multiple: true,
          value: 'K=V',
          help: 'a task option, e.g. --task-opt noEnd=200 (repeatable)',
        },
        {
          name: 'net-opt',
          type: 'string',
          multiple: true,
          value: 'K=V',
          help: 'a network option, e.g. --net-opt time=16 --net-opt readout=mean (repeatable)',
        },
        {
          name: 'checkpoint',
          type: 'string',
          value: 'CKPT',
          help: 'checkpoint to evaluate (or give it as the argument)',
        },
        {
          name: 'repeats',
          type: 'string',
          value: 'N',
          help: 'timed repetitions per measurement (default 5)',
        },
        {
          name: 'jobs',
          type: 'string',
          value: 'N',
          help: 'runs trained side by side in worker threads (default: 2, or 1 on one core)',
        },
        { name: 'quick', type: 'boolean', help: 'a smaller, faster variant of the preset' },
        {
          name: 'force',
          type: 'boolean',
          help: 'write into an --out directory that already holds a run (its files are replaced)',
        },
        { name: 'quiet', type: 'boolean', short: 'q', help: 'no progress bars' },
        { name: 'help', type: 'boolean', short: 'h', help: 'show this help' },
      ] satisfies OptionDef[]
    ).map((o) => [o.name, o]),
  ),
);

/** The result of parsing one command's arguments. */
export interface ParsedArgs {
  /** Option values by long name (flags are `true`, repeatable options arrays). */
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  /** Arguments that are not options. */
  readonly positionals: readonly string[];
}

function listOptions(names: readonly string[]): string {
  return names.map((n) => `--${n}`).join(', ');
}

/**
 * Parses `argv` for `command`, accepting only the options it declares.
 *
 * @param command - The command name, for messages.
 * @param argv - Arguments after the command name.
 * @param accepted - Long names of the options the command takes.
 * @returns Values and positionals.
 * @throws UsageError on an unknown option, a missing value, or a value given to a flag; the message
 * lists the command's valid options.
 */
export function parseCommand(
  command: string,
  argv: readonly string[],
  accepted: readonly string[],
): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const name of accepted) {
    const def = OPTIONS[name];
    if (!def) throw new Error(`internal: command ${command} declares unknown option ${name}`);
    options[name] = {
      type: def.type,
      ...(def.short ? { short: def.short } : {}),
      ...(def.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: attachValues(command, argv, accepted),
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const valid = `valid options of 'mru ${command}': ${listOptions(accepted)}`;
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const m = /option '([^']+)'/i.exec(e.message ?? '');
      throw new UsageError(
        `unknown option ${m ? `'${m[1]}'` : ''} for 'mru ${command}'; ${valid}`.replace('  ', ' '),
      );
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(
        `${(e.message ?? 'invalid option value').replace(/\.$/, '')} ('mru ${command}'); ${valid}`,
      );
    }
    throw new UsageError(`${e.message ?? String(error)}; ${valid}`);
  }
}

/** A value that starts with a dash but is a number (`-1`, `-0.5`, `-1e3`, `-Infinity`). */
const NEGATIVE_NUMBER = /^-(\d|\.\d|infinity$|nan$)/i;

/**
 * Joins each value-taking option to its value (`--steps -1` becomes `--steps=-1`), so that negative
 * numbers reach the range checks instead of `parseArgs`'s "argument is ambiguous", and reports an
 * option directly followed by another option (`--task --steps 3`) as a missing value.
 */
function attachValues(command: string, argv: readonly string[], accepted: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    out.push(arg);
    if (arg === '--') {
      out.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg.includes('=')) continue;
    const name = arg.slice(2);
    if (!accepted.includes(name) || OPTIONS[name]?.type !== 'string') continue;
    const next = argv[i + 1];
    if (next === undefined) {
      throw new UsageError(
        `--${name} needs a value (${OPTIONS[name].value ?? 'VALUE'}); see 'mru ${command} --help'`,
      );
    }
    if (!next.startsWith('-')) continue;
    if (NEGATIVE_NUMBER.test(next)) {
      out[out.length - 1] = `${arg}=${next}`;
      i++;
    } else {
      throw new UsageError(
        `--${name} needs a value (${OPTIONS[name].value ?? 'VALUE'}), but it is followed by the option '${next}'; see 'mru ${command} --help'`,
      );
    }
  }
  return out;
}

/**
 * An integer option value, checked against an inclusive range.
 *
 * @param name - The option's long name.
 * @param raw - The raw value, or undefined when absent.
 * @param fallback - The default.
 * @param min - Smallest valid value.
 * @param max - Largest valid value.
 * @returns The value.
 * @throws UsageError when not an integer in range.
 */
export function intOption(
  name: string,
  raw: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (raw === undefined) return fallback;
  const s = String(raw).trim();
  const v = /^[+-]?\d+(e\d+)?$/i.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be an integer ${range}, got '${String(raw)}'`);
  }
  return v;
}

/**
 * A real option value, checked against a range (inclusive unless `exclusiveMin`).
 *
 * @param name - The option's long name.
 * @param raw - The raw value, or undefined when absent.
 * @param fallback - The default.
 * @param min - Lower bound.
 * @param max - Upper bound.
 * @param exclusiveMin - Whether `min` itself is invalid.
 * @returns The value.
 * @throws UsageError when not a finite number in range.
 */
export function numberOption(
  name: string,
  raw: unknown,
  fallback: number,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
  exclusiveMin = false,
): number {
  if (raw === undefined) return fallback;
  const s = String(raw).trim();
  const v = s === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(v) || v < min || v > max || (exclusiveMin && v === min)) {
    const lo = Number.isFinite(min) ? `${exclusiveMin ? '>' : '>='} ${min}` : '';
    const hi = Number.isFinite(max) ? `<= ${max}` : '';
    const range = [lo, hi].filter(Boolean).join(' and ');
    throw new UsageError(`--${name} must be a number${range ? ` ${range}` : ''}, got '${String(raw)}'`);
  }
  return v;
}

/**
 * An option that takes one of a fixed list of names.
 *
 * @param what - What the name is, for messages (`task`, `model`...).
 * @param raw - The raw value, or undefined when absent.
 * @param valid - The valid names.
 * @param fallback - The default.
 * @returns The value.
 * @throws UsageError listing the valid names.
 */
export function choiceOption<T extends string>(
  what: string,
  raw: unknown,
  valid: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  const s = String(raw);
  if (!(valid as readonly string[]).includes(s)) {
    throw new UsageError(`unknown ${what} '${s}'; valid ${what}s: ${valid.join(', ')}`);
  }
  return s as T;
}

/**
 * Parses repeated `key=value` options (`--task-opt`, `--net-opt`); numeric-looking values become numbers.
 *
 * @param raw - The values of the option.
 * @param option - The option's name, for messages (default `task-opt`).
 * @returns The options object.
 * @throws UsageError on an entry without `=`.
 */
export function keyValueOptions(raw: unknown, option = 'task-opt'): Record<string, number | string> {
  // No prototype: `__proto__=1` must become an option the task rejects by name, not a prototype
  // assignment that silently vanishes.
  const out: Record<string, number | string> = Object.create(null);
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const entry of list) {
    const s = String(entry);
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${option} expects KEY=VALUE, got '${s}'`);
    const key = s.slice(0, eq);
    const value = s.slice(eq + 1);
    const n = Number(value);
    Object.defineProperty(out, key, {
      value: value.trim() !== '' && Number.isFinite(n) ? n : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Help text for a command's options, one per line, aligned.
 *
 * @param accepted - Long option names.
 * @param overrides - Help texts (or a value placeholder and help text) that replace the shared ones for this command.
 * @returns The lines joined with newlines.
 */
export function optionsHelp(
  accepted: readonly string[],
  overrides: Readonly<Record<string, string | { readonly value: string; readonly help: string }>> = {},
): string {
  const rows = accepted.map((name) => {
    const def = OPTIONS[name];
    const override = overrides[name];
    const value = typeof override === 'object' ? override.value : def.value;
    const flag = `${def.short ? `-${def.short}, ` : '    '}--${name}${value ? ` ${value}` : ''}`;
    return [flag, (typeof override === 'object' ? override.help : override) ?? def.help] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`).join('\n');
}
