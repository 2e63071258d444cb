/**
 * `mru`: the command line of the mru project. `main(argv)` parses, dispatches and maps failures to
 * exit codes; it never calls `process.exit`, so tests run it in-process.
 *
 * Commands: `train`, `eval`, `bench`, `experiment NAME`, `help [COMMAND]`; no arguments runs the
 * embedded default, `mru experiment quick`. Exit codes: 0 success, 1 a run failed (e.g. a corrupt
 * checkpoint), 2 a usage error (unknown command, option, task, model or a bad value; the message,
 * on stderr, lists what is valid), 130 interrupted.
 *
 * Output: results on stdout, progress bars and notes on stderr. Both streams are injectable (`Io`)
 * so tests can capture them.
 */
import { dirname, join } from 'node:path';
import { dispose, MruError } from '@mru/core';
import { createTask, DatasetError, type TaskName, taskNames } from '@mru/datasets';
import { loadNetworkCheckpoint, removeStaleTempFiles } from '@mru/models/node';
import { choiceOption, intOption, optionsHelp, type ParsedArgs, parseCommand } from './args.js';
import { BACKEND_NAMES, releaseBackend, useBackend } from './backend.js';
import { BENCH_OPTION_HELP, BENCH_OPTIONS, benchCommand } from './bench.js';
import {
  checkStoredMemory,
  parseStoredTrainConfig,
  RESUME_FIXED,
  resolveTaskOptions,
  resolveTrainConfig,
  TRAIN_OPTIONS,
  timestamp,
} from './config.js';
import { RunError, UsageError } from './errors.js';
import {
  EXPERIMENT_HELP,
  EXPERIMENT_NAMES,
  EXPERIMENT_OPTION_HELP,
  EXPERIMENT_OPTIONS,
  experimentCommand,
} from './experiments.js';
import { LIMITS } from './limits.js';
import { MODEL_HELP, MODEL_NAMES } from './models.js';
import type { ProgressStream } from './progress.js';
import { checkRunDirectory } from './rundir.js';
import { formatMetrics } from './table.js';
import { CLI_VERSION, evaluate, loadResume, trainRun } from './train.js';

/** Where a command writes: results to `stdout`, progress and notes to `stderr`. */
export interface Io {
  /** Results (tables, summaries). */
  readonly stdout: { write(text: string): unknown };
  /** Progress bars, notes and errors. */
  readonly stderr: ProgressStream;
}

/** The process's own streams. */
export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

const COMMANDS = ['train', 'eval', 'bench', 'experiment', 'help'] as const;

const EVAL_OPTIONS = ['checkpoint', 'backend', 'seq-len', 'task-opt', 'batch', 'eval-batches', 'help'];

const MAIN_HELP = `mru ${CLI_VERSION}: train and compare parallelizable memory recurrent units

Usage:
  mru                          run the quick experiment (same as 'mru experiment quick')
  mru train [options]          train one model on one task; writes a run directory
  mru eval CHECKPOINT [opts]   score a checkpoint on the test split (optionally at another length)
  mru bench [options]          time the scan and a training step on a backend
  mru experiment NAME [opts]   run a preset: ${EXPERIMENT_NAMES.join(', ')}
  mru help [COMMAND]           show help ('mru COMMAND --help' works too)

Tasks:   ${taskNames.join(', ')}
Models:  ${MODEL_NAMES.join(', ')}
Backends: ${BACKEND_NAMES.join(', ')}

Examples:
  mru train --task copy-first-input --model bmru --seq-len 100 --steps 300
  mru train --resume runs/train-copy-first-input-bmru-<time>/last.safetensors
  mru eval runs/<run>/best.safetensors --seq-len 1000
  mru experiment horizon --quick
`;

function trainHelp(): string {
  return `mru train: train one model on one task

Usage: mru train [options]

Writes a run directory: config.json, metrics.jsonl, loss.svg/png, metric.svg/png,
best.safetensors and last.safetensors. AdamW (beta 0.9/0.99, weight decay on weights only),
cosine learning rate down to 1%, gradient clipping, batches derived from (seed, step), so
'--resume' continues exactly where a run stopped.

Options:
${optionsHelp(TRAIN_OPTIONS)}

Tasks:  ${taskNames.join(', ')}
Models:
${MODEL_NAMES.map((m) => `  ${m.padEnd(9)}${MODEL_HELP[m]}`).join('\n')}

Examples:
  mru train --task copy-first-input --model bmru --seq-len 100 --d-model 16 --d-state 32 --mlp 0
  mru train --task flip-flop --model lru --task-opt setProbability=0.02 --steps 600
  mru train --resume runs/<run>/last.safetensors --steps 800
`;
}

function evalHelp(): string {
  return `mru eval: score a checkpoint on the test split of its task

Usage: mru eval CHECKPOINT [options]

The task and its options come from the checkpoint; --seq-len and --task-opt change them (e.g.
evaluate a flip-flop model trained at T = 100 at T = 10000).

Options:
${optionsHelp(EVAL_OPTIONS, {
  'seq-len': 'evaluate at this sequence length instead of the trained one',
  batch: 'examples per test batch (default: the training batch, at most 64)',
  'eval-batches': "test batches (default: the run's)",
})}
`;
}

function benchHelp(): string {
  return `mru bench: scan throughput and training-step time on a backend

Usage: mru bench [options]

Times the scan primitive (forward, and forward + backward) for a few sequence lengths, then one
training step of the chosen model. Prints a table of elements per second.

Options:
${optionsHelp(BENCH_OPTIONS, BENCH_OPTION_HELP)}
`;
}

function experimentHelp(): string {
  return `mru experiment: run a preset that reproduces a claim on a laptop-sized task

Usage: mru experiment NAME [options]

Presets:
${EXPERIMENT_NAMES.map((n) => `  ${n.padEnd(18)}${EXPERIMENT_HELP[n]}`).join('\n')}

Each preset writes its runs under --out (default runs/experiment-NAME-<time>) plus results.md and
results.json, and prints a comparison table.

Options:
${optionsHelp(EXPERIMENT_OPTIONS, EXPERIMENT_OPTION_HELP)}
`;
}

function helpFor(command: string): string {
  switch (command) {
    case 'train':
      return trainHelp();
    case 'eval':
      return evalHelp();
    case 'bench':
      return benchHelp();
    case 'experiment':
      return experimentHelp();
    default:
      return MAIN_HELP;
  }
}

/** The sequence length a task's options imply (MNIST: 784 pixels plus the appended zeros). */
function sequenceLength(options: Readonly<Record<string, unknown>>): string {
  if (options.length !== undefined) return String(options.length);
  if (options.appendedZeros !== undefined) return String(784 + Number(options.appendedZeros));
  return '-';
}

async function trainCommand(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  if (args.positionals.length > 0) {
    throw new UsageError(
      `'mru train' takes no arguments, got '${args.positionals.join(' ')}'; see 'mru train --help'`,
    );
  }
  const backend = choiceOption('backend', v.backend, BACKEND_NAMES, 'cpu');
  const stopAt =
    v['stop-at'] === undefined ? undefined : intOption('stop-at', v['stop-at'], 0, 1, LIMITS['stop-at']);
  const force = v.force === true;
  let result: Awaited<ReturnType<typeof trainRun>>;
  if (v.resume !== undefined) {
    const fixed = RESUME_FIXED.filter((name) => v[name] !== undefined);
    if (fixed.length > 0) {
      throw new UsageError(
        `${fixed.map((n) => `--${n}`).join(', ')} cannot be changed when resuming (the checkpoint's config is used); ` +
          'with --resume only --steps, --stop-at, --out, --backend and --quiet apply',
      );
    }
    const steps = v.steps === undefined ? undefined : intOption('steps', v.steps, 0, 1);
    await useBackend(backend);
    const resume = await loadResume(String(v.resume));
    const config = steps === undefined ? resume.config : { ...resume.config, steps };
    const out = v.out === undefined ? dirname(String(v.resume)) : String(v.out);
    try {
      // Nothing to train is a usage error, caught before config.json is rewritten.
      if (config.steps <= resume.step) {
        throw new UsageError(
          `${resume.path} is at step ${resume.step}, and the run's schedule ends at step ${config.steps}: nothing to train; give --steps N with N > ${resume.step} to extend it`,
        );
      }
      if (stopAt !== undefined && stopAt <= resume.step) {
        throw new UsageError(`--stop-at ${stopAt} is not after the checkpoint's step ${resume.step}`);
      }
      checkRunDirectory(out, { resumeFrom: dirname(String(v.resume)), force, command: 'train' });
    } catch (error) {
      dispose([resume.params, resume.optimizer.tensors]);
      throw error;
    }
    // A kill -9 during an atomic write leaves a temporary file; nobody else would ever remove it.
    for (const d of new Set([out, dirname(String(v.resume))])) {
      const removed = await removeStaleTempFiles(d);
      if (removed.length > 0 && !v.quiet)
        io.stderr.write(
          `removed ${removed.length} stale temporary file(s) from ${d}: ${removed.join(', ')}\n`,
        );
    }
    if (resume.warning) io.stderr.write(`${resume.warning}\n`);
    if (!v.quiet)
      io.stderr.write(
        `resuming ${config.model} on ${config.task} from step ${resume.step} (${resume.path})\n`,
      );
    result = await trainRun(config, {
      out,
      backend,
      resume: { ...resume, config },
      stopAt,
      progress: v.quiet ? undefined : io.stderr,
      label: config.model,
    });
  } else {
    const config = await resolveTrainConfig(v);
    const out =
      v.out === undefined
        ? join('runs', `train-${config.task}-${config.model}-${timestamp()}`)
        : String(v.out);
    checkRunDirectory(out, { force, command: 'train' });
    await useBackend(backend);
    if (!v.quiet)
      io.stderr.write(
        `training ${config.model} on ${config.task} (T = ${sequenceLength(config.taskOptions)}) -> ${out}\n`,
      );
    result = await trainRun(config, {
      out,
      backend,
      stopAt,
      progress: v.quiet ? undefined : io.stderr,
      label: config.model,
    });
  }
  io.stdout.write(`run directory: ${result.out}\n`);
  io.stdout.write(
    `steps: ${result.step}  params: ${result.paramCount}  time: ${result.seconds.toFixed(1)}s (${result.stepsPerSecond.toFixed(2)} steps/s)\n`,
  );
  if (result.final) io.stdout.write(`final test: ${formatMetrics(result.final)}\n`);
  if (result.best)
    io.stdout.write(
      `best validation ${result.metric}: ${result.best.value.toPrecision(4)} at step ${result.best.step}\n`,
    );
  return result.stopped && result.step < (stopAt ?? Number.POSITIVE_INFINITY) ? 130 : 0;
}

async function evalCommand(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  const path = v.checkpoint !== undefined ? String(v.checkpoint) : args.positionals[0];
  if (path === undefined)
    throw new UsageError("'mru eval' needs a checkpoint: mru eval CHECKPOINT [options]");
  if (args.positionals.length > (v.checkpoint !== undefined ? 0 : 1)) {
    throw new UsageError(`'mru eval' takes one checkpoint, got '${args.positionals.join(' ')}'`);
  }
  const backend = choiceOption('backend', v.backend, BACKEND_NAMES, 'cpu');
  // Command-line values are checked before the checkpoint is read (their defaults come from it).
  if (v.batch !== undefined) intOption('batch', v.batch, 0, 1, LIMITS.batch);
  if (v['eval-batches'] !== undefined)
    intOption('eval-batches', v['eval-batches'], 0, 1, LIMITS['eval-batches']);
  await useBackend(backend);
  let loaded: Awaited<ReturnType<typeof loadNetworkCheckpoint>>;
  try {
    loaded = await loadNetworkCheckpoint(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new RunError(`cannot evaluate ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, {
      cause: error,
    });
  }
  try {
    const config = parseStoredTrainConfig(path, loaded.metadata.train_config, 'evaluate');
    const taskOptions = resolveTaskOptions(config.task as TaskName, v, { ...config.taskOptions });
    // The batch size of the training-time evaluation by default, so the same test examples are scored.
    const batch = intOption(
      'batch',
      v.batch,
      config.evalBatchSize ?? Math.min(config.batch, 64),
      1,
      LIMITS.batch,
    );
    const batches = intOption(
      'eval-batches',
      v['eval-batches'],
      config.evalBatches ?? 4,
      1,
      LIMITS['eval-batches'],
    );
    const task = await createTask(config.task, taskOptions);
    checkStoredMemory(path, 'evaluate', {
      network: loaded.network.config,
      batch,
      length: task.sequenceLength,
      training: false,
    });
    const t0 = performance.now();
    const metrics = await evaluate(loaded.network, loaded.params, task, batches, batch);
    const seconds = (performance.now() - t0) / 1000;
    io.stdout.write(`checkpoint: ${path}\n`);
    io.stdout.write(`task: ${task.name} ${JSON.stringify(task.options)}\n`);
    io.stdout.write(`test (${metrics.count} items, ${seconds.toFixed(1)}s): ${formatMetrics(metrics)}\n`);
    return 0;
  } finally {
    dispose(loaded.params);
  }
}

/**
 * Runs the `mru` command line.
 *
 * @param argv - The arguments after the executable (`process.argv.slice(2)`).
 * @param io - Output streams (default: the process's).
 * @returns The exit code: 0 success, 1 run failure, 2 usage error, 130 interrupted.
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined)
      return await experimentCommand(parseCommand('experiment', [], EXPERIMENT_OPTIONS), 'quick', io);
    if (first === '--help' || first === '-h') {
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (first === '--version' || first === '-v') {
      io.stdout.write(`${CLI_VERSION}\n`);
      return 0;
    }
    if (first.startsWith('-')) {
      throw new UsageError(
        `unknown option '${first}' for 'mru'; valid: --help, --version, or a command: ${COMMANDS.join(', ')}`,
      );
    }
    switch (first) {
      case 'help': {
        const topic = rest[0];
        if (topic !== undefined && !(COMMANDS as readonly string[]).includes(topic)) {
          throw new UsageError(`unknown command '${topic}'; valid commands: ${COMMANDS.join(', ')}`);
        }
        io.stdout.write(helpFor(topic ?? ''));
        return 0;
      }
      case 'train': {
        const args = parseCommand('train', rest, TRAIN_OPTIONS);
        if (args.values.help) {
          io.stdout.write(trainHelp());
          return 0;
        }
        return await trainCommand(args, io);
      }
      case 'eval': {
        const args = parseCommand('eval', rest, EVAL_OPTIONS);
        if (args.values.help) {
          io.stdout.write(evalHelp());
          return 0;
        }
        return await evalCommand(args, io);
      }
      case 'bench': {
        const args = parseCommand('bench', rest, BENCH_OPTIONS);
        if (args.values.help) {
          io.stdout.write(benchHelp());
          return 0;
        }
        return await benchCommand(args, io);
      }
      case 'experiment': {
        const args = parseCommand('experiment', rest, EXPERIMENT_OPTIONS);
        if (args.values.help) {
          io.stdout.write(experimentHelp());
          return 0;
        }
        if (args.positionals.length !== 1) {
          throw new UsageError(
            `'mru experiment' needs one preset name, got ${args.positionals.length === 0 ? 'none' : `'${args.positionals.join(' ')}'`}; valid experiments: ${EXPERIMENT_NAMES.join(', ')}`,
          );
        }
        const name = choiceOption('experiment', args.positionals[0], EXPERIMENT_NAMES, 'quick');
        return await experimentCommand(args, name, io);
      }
      default:
        throw new UsageError(
          `unknown command '${first}'; valid commands: ${COMMANDS.join(', ')} (or none, for the quick experiment)`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`mru: ${error.message}\n`);
      return 2;
    }
    if (error instanceof DatasetError) {
      // Task options come from the command line, so a rejected option is a usage error.
      io.stderr.write(`mru: ${error.message}\n`);
      return 2;
    }
    if (error instanceof RunError || error instanceof MruError) {
      io.stderr.write(`mru: ${error.message}\n`);
      return 1;
    }
    const sys = error as NodeJS.ErrnoException;
    if (typeof sys?.code === 'string' && typeof sys.syscall === 'string') {
      // A file-system failure (EACCES, ENOSPC, EISDIR...) is the user's to fix, not a bug: no stack.
      io.stderr.write(`mru: ${sys.message}\n`);
      return 1;
    }
    io.stderr.write(`mru: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  } finally {
    releaseBackend();
  }
}
