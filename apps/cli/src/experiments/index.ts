/**
 * `mru experiment NAME`: presets that reproduce the claims of the MRU papers on tasks small enough for a
 * laptop, each ending in a comparison table (printed, and written to results.md and results.json).
 * The presets are listed in `presets/index.ts` (see each family's file for what it runs).
 *
 * Design: a preset is data, a list of runs given as command-line values, resolved by the same code as
 * `mru train`, trained by the same loop, each into its own run directory under the experiment's
 * directory. Extra evaluations (longer sequences, a tolerance score) reload the run's `last`
 * checkpoint, so they score exactly what the run directory holds. `--quick` variants are sized for a
 * 2-core machine; the full presets are closer to the papers' settings and take much longer. This file
 * only checks the options and sequences the steps; the presets, their verdicts, the report, the
 * worker pool and the interrupt each have a module of their own in this folder.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { choiceOption, intOption, type ParsedArgs } from '../args.js';
import { BACKEND_NAMES, useBackend } from '../backend.js';
import { resolveTrainConfig, timestamp } from '../config.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import { checkRunDirectory, RunDirectory } from '../rundir.js';
import type { RunJob } from '../runs.js';
import { writeCurves } from './curves.js';
import { defaultJobs, runAll, WORKER_AVAILABLE } from './pool.js';
import { type ExperimentName, PRESETS } from './presets/index.js';
import { writeReport } from './report.js';

export { EXPERIMENT_HELP, EXPERIMENT_NAMES, type ExperimentName } from './presets/index.js';

/** The options of `mru experiment`. */
export const EXPERIMENT_OPTIONS: readonly string[] = [
  'out',
  'backend',
  'seed',
  'steps',
  'jobs',
  'quick',
  'stop-at',
  'resume',
  'force',
  'quiet',
  'help',
];

/** Help texts of options whose meaning differs for `mru experiment`. */
export const EXPERIMENT_OPTION_HELP: Readonly<
  Record<string, string | { readonly value: string; readonly help: string }>
> = {
  out: 'experiment directory (default runs/experiment-NAME-<time>)',
  steps: "training steps of every run (default: the preset's)",
  seed: 'seed of every run (default 0)',
  'stop-at': 'stop every run after step N (continue later with --resume)',
  resume: {
    value: 'DIR',
    help: 'continue the experiment in DIR (stopped runs go on, finished ones are rescored)',
  },
};

/**
 * Runs a preset: trains every run, scores it, prints the tables, writes results.md and results.json.
 *
 * @param args - Parsed options of `mru experiment`.
 * @param name - The preset.
 * @param io - Output streams.
 * @returns The exit code (0, or 130 when interrupted).
 */
export async function experimentCommand(args: ParsedArgs, name: ExperimentName, io: Io): Promise<number> {
  const v = args.values;
  const quick = v.quick === true;
  const backend = choiceOption('backend', v.backend, BACKEND_NAMES, 'cpu');
  const seed = String(intOption('seed', v.seed, 0, 0));
  const steps = v.steps === undefined ? undefined : String(intOption('steps', v.steps, 1, 1));
  // Every option is checked before anything is created: a bad --jobs once left an empty directory.
  const jobsWanted = intOption('jobs', v.jobs, defaultJobs(), 1, 64);
  const stopAt = v['stop-at'] === undefined ? undefined : intOption('stop-at', v['stop-at'], 1, 1);
  const resume = v.resume === undefined ? undefined : String(v.resume);
  if (resume !== undefined) {
    if (v.out !== undefined && resolve(String(v.out)) !== resolve(resume))
      throw new UsageError('--resume DIR continues the experiment in DIR; give no other --out');
    if (v.force) throw new UsageError('--resume continues the runs in DIR; --force would overwrite them');
    if (!existsSync(resume) || !statSync(resume).isDirectory())
      throw new UsageError(`--resume ${resume}: no such experiment directory`);
  }
  const preset = PRESETS[name].build({ quick, seed, steps });
  const out =
    resume ??
    (v.out === undefined
      ? join('runs', `experiment-${name}${quick ? '-quick' : ''}-${timestamp()}`)
      : String(v.out));
  // Resolve every run first, so a bad preset fails before any training.
  for (const run of preset.runs) await resolveTrainConfig(run.values);
  if (resume === undefined) checkRunDirectory(out, { force: v.force === true, command: 'experiment' });
  await useBackend(backend);
  const dir = new RunDirectory(out);
  const progress = v.quiet ? undefined : io.stderr;
  if (!v.quiet) io.stderr.write(`${preset.title}\n${preset.runs.length} runs -> ${out}\n`);
  const started = performance.now();
  const jobs: RunJob[] = preset.runs.map((run, i) => ({
    spec: run,
    out: join(out, run.name),
    backend,
    label: `[${i + 1}/${preset.runs.length}] ${run.name}`,
    experiment: name,
    resume: resume !== undefined,
    stopAt,
  }));
  const parallel = Math.min(jobs.length, jobsWanted);
  if (parallel > 1 && !WORKER_AVAILABLE)
    io.stderr.write('note: running one run at a time (the compiled worker is not available)\n');
  const outcomes = await runAll(jobs, WORKER_AVAILABLE ? parallel : 1, progress);
  const command = `mru experiment ${name}${quick ? ' --quick' : ''}${v.seed !== undefined ? ` --seed ${seed}` : ''}${steps ? ` --steps ${steps}` : ''}`;
  const stopped = outcomes.filter((o) => o.result.stopped);
  if (stopped.length > 0) {
    // Every run stopped at --stop-at, or some were interrupted: either way each run's last checkpoint
    // holds its progress, and the same command with --resume picks them all up.
    const atStop = stopAt !== undefined && stopped.every((o) => o.result.step === stopAt);
    io.stderr.write(
      `${atStop ? `stopped every run at step ${stopAt}` : 'experiment interrupted'}; continue with: ${command} --resume ${out}\n`,
    );
    return atStop ? 0 : 130;
  }
  const seconds = (performance.now() - started) / 1000;
  const curves = await writeCurves(outcomes, dir);
  writeReport({ name, preset, quick, command, backend, seconds, outcomes, curves }, dir, io);
  return 0;
}
