/**
 * The report of a finished experiment: the tables and the verdict on stdout, and the same in
 * `results.md` (for people) and `results.json` (for programs), with the command that reproduces it
 * and, for every run, the `mru train` command that reproduces that run alone; `results.md` also shows
 * the validation curves (`curves.ts`).
 */
import { writeFileSync } from 'node:fs';
import type { Io } from '../io.js';
import { formatDuration } from '../progress.js';
import type { RunDirectory } from '../rundir.js';
import { type RunOutcome, WITHIN_TOLERANCE } from '../runs.js';
import { fmt, formatMarkdownTable, formatTable, pct, type Table } from '../table.js';
import { headline } from '../train.js';
import type { CurvesResult } from './curves.js';
import type { CaptionedTable, Preset } from './preset.js';

/** The usual table of copy-first-input runs: one row a run. */
export function copyTable(outcomes: readonly RunOutcome[]): Table {
  return {
    header: [
      'model',
      'T',
      'params',
      'test MSE',
      `within ±${WITHIN_TOLERANCE}`,
      'best val. MSE',
      'time',
      'steps/s',
    ],
    rows: outcomes.map((o) => [
      o.spec.model,
      String(o.spec.values['seq-len']),
      String(o.result.paramCount),
      fmt(o.test.mse),
      pct(o.test.within),
      fmt(o.result.best?.value),
      formatDuration(o.result.totalSeconds),
      // A run only rescored in this session (`--resume` of a finished run) trained no steps here.
      o.result.seconds > 0 ? o.result.stepsPerSecond.toFixed(2) : '-',
    ]),
  };
}

/** What a report is made of. */
export interface ReportInput {
  /** The preset's name. */
  readonly name: string;
  /** The built preset. */
  readonly preset: Preset;
  /** `--quick`. */
  readonly quick: boolean;
  /** The command that reproduces the experiment. */
  readonly command: string;
  /** The backend it ran on. */
  readonly backend: string;
  /** Wall-clock seconds of the whole experiment. */
  readonly seconds: number;
  /** The outcomes, in the preset's order. */
  readonly outcomes: readonly RunOutcome[];
  /** The validation curves drawn into the experiment directory. */
  readonly curves: CurvesResult;
}

/** The `mru train` command line of one run. */
function trainCommand(o: RunOutcome): string {
  const args = Object.entries(o.spec.values).flatMap(([k, val]) =>
    Array.isArray(val) ? val.map((x) => `--${k} ${x}`) : [val === 'true' ? `--${k}` : `--${k} ${val}`],
  );
  return `mru train ${args.join(' ')}`;
}

/**
 * Prints the report on `io.stdout` and writes `results.md` and `results.json` into `dir`.
 *
 * @param input - The experiment and its outcomes.
 * @param dir - The experiment directory.
 * @param io - Output streams.
 */
export function writeReport(input: ReportInput, dir: RunDirectory, io: Io): void {
  const { preset, outcomes, seconds, curves } = input;
  const tables: CaptionedTable[] = preset.tables(outcomes);
  const verdict = preset.verdict(outcomes);
  io.stdout.write(`\n${preset.title}\n`);
  for (const t of tables) io.stdout.write(`\n${t.caption}\n${formatTable(t.table)}\n`);
  io.stdout.write(
    `\nclaim: ${preset.claim}\nresult: ${verdict}\ntotal time ${formatDuration(seconds)}; results in ${dir.path}/results.md\n`,
  );
  for (const line of curves.skipped) io.stdout.write(`no curves for ${line}\n`);
  const md = [
    `# ${preset.title}`,
    '',
    `Command: \`${input.command}\` (backend ${input.backend}), ${new Date().toISOString()}, total time ${formatDuration(seconds)}.`,
    '',
    `Claim under test: ${preset.claim}`,
    '',
    `Result: ${verdict}`,
    '',
    ...tables.flatMap((t) => [`## ${t.caption}`, '', formatMarkdownTable(t.table), '']),
    ...(curves.written.length + curves.skipped.length > 0
      ? [
          '## Validation curves',
          '',
          ...curves.written.map((c) => `![${c}](${c}.svg)`),
          ...curves.skipped.map((line) => `No chart for ${line}.`),
          '',
        ]
      : []),
    '## Runs',
    '',
    ...outcomes.map((o) => `- \`${o.spec.name}/\`: \`${trainCommand(o)}\``),
    '',
  ].join('\n');
  writeFileSync(dir.file('results.md'), md);
  const json = {
    experiment: input.name,
    quick: input.quick,
    command: input.command,
    backend: input.backend,
    seconds,
    claim: preset.claim,
    verdict,
    curves: curves.written.map((c) => `${c}.svg`),
    runs: outcomes.map((o) => ({
      name: o.spec.name,
      model: o.spec.model,
      values: o.spec.values,
      paramCount: o.result.paramCount,
      steps: o.result.step,
      seconds: o.result.totalSeconds,
      stepsPerSecond: o.result.stepsPerSecond,
      test: o.test,
      headline: headline(o.result.metric, o.test),
      best: o.result.best,
      extra: o.extra,
    })),
  };
  writeFileSync(dir.file('results.json'), `${JSON.stringify(json, null, 2)}\n`);
}
