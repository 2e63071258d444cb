/**
 * The run directory: what a training run leaves behind.
 *
 * ```
 * <out>/config.json        the resolved configuration (every default filled in)
 * <out>/metrics.jsonl      one JSON object per line: {"type":"train",...} every log step,
 *                          {"type":"eval","split":"validation",...} every evaluation,
 *                          {"type":"eval","split":"test",...} once, when the schedule ends
 * <out>/loss.svg|png       training loss (and validation loss at evaluations) against the step, with
 *                          the task's chance level
 * <out>/metric.svg|png     validation accuracy against the step (classification tasks; a regression
 *                          task's metric is its loss)
 * <out>/last.safetensors   the latest checkpoint (resume from it)
 * <out>/best.safetensors   the checkpoint with the best validation metric so far
 * ```
 *
 * Design: small files are written atomically (temporary file, then rename) so an interrupted run
 * never leaves a half-written config or plot. Metrics are appended line by line, so a crash loses at
 * most the current line; on resume, lines after the checkpoint's step are dropped first, so the file
 * reads as if the run had never been interrupted.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { Task } from '@mru/datasets';
import { type ChanceLevel, chanceLevel, chanceReference } from './chance.js';
import { type ChartSpec, renderSvg, svgToPng } from './chart.js';
import { RunError, UsageError } from './errors.js';
import { gradNormChart } from './grad-norms.js';

/** Files whose presence means a directory already holds a run (or an experiment's results). */
const RUN_FILES = /^(config\.json|metrics\.jsonl|results\.(md|json)|.*\.safetensors)$/;

/** How `checkRunDirectory` may treat an existing directory. */
export interface RunDirectoryPolicy {
  /** The directory of the checkpoint being resumed: writing into it is the point of resuming. */
  readonly resumeFrom?: string;
  /** Replace an existing run (`--force`). */
  readonly force?: boolean;
  /** The command, for the hint (`train` or `experiment`). */
  readonly command: string;
}

/**
 * Refuses to write a run into a directory that already holds one, unless it is the directory being
 * resumed or `--force` was given: config, metrics, checkpoints and plots would otherwise be silently
 * overwritten. Also refuses a path that exists but is not a directory. Creates nothing.
 *
 * @throws UsageError pointing to `--resume`, another `--out` or `--force`.
 */
export function checkRunDirectory(path: string, policy: RunDirectoryPolicy): void {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch {
    return; // Absent (or unreadable: creating it will say why).
  }
  if (!info.isDirectory()) {
    throw new UsageError(`--out '${path}' exists and is not a directory; choose another --out`);
  }
  if (policy.force) return;
  if (policy.resumeFrom !== undefined && resolve(policy.resumeFrom) === resolve(path)) return;
  const held = readdirSync(path).filter((n) => RUN_FILES.test(n));
  if (held.length === 0) return;
  const last = join(path, 'last.safetensors');
  const hint =
    policy.command === 'train' && held.includes('last.safetensors')
      ? `continue it with 'mru train --resume ${last}', `
      : '';
  throw new UsageError(
    `'${path}' already holds a run (${held.slice(0, 4).join(', ')}${held.length > 4 ? ', ...' : ''}); ${hint}choose another --out, or pass --force to overwrite it`,
  );
}

/** A metrics line written after a training step. */
export interface TrainRecord {
  /** Discriminator. */
  readonly type: 'train';
  /** Steps completed. */
  readonly step: number;
  /** Mean training loss over the steps since the previous line. */
  readonly loss: number;
  /** Learning rate of the last step. */
  readonly lr: number;
  /** Global gradient norm of the last step, before clipping. */
  readonly gradNorm: number;
  /** Gradient norms of the last step per block and per cell (`layers.0`, `layers.0.cell1`...), before clipping. */
  readonly gradNorms?: Readonly<Record<string, number>>;
  /** Live tensors on the backend after the step (constant over a run: nothing leaks). */
  readonly liveTensors: number;
  /** Seconds of training since the run started, counted on over every resumed session. */
  readonly elapsed: number;
}

/** A metrics line written after an evaluation: on the validation split during a run, on the test split at its end. */
export interface EvalRecord {
  /** Discriminator. */
  readonly type: 'eval';
  /** Steps completed. */
  readonly step: number;
  /** Which split was scored. */
  readonly split: 'validation' | 'test';
  /** The task's loss. */
  readonly loss: number;
  /** Mean squared error (regression tasks). */
  readonly mse?: number;
  /** Accuracy (classification tasks). */
  readonly accuracy?: number;
  /** Fraction of fully right sequences (per-step classification). */
  readonly sequenceAccuracy?: number;
  /** Items scored. */
  readonly count: number;
}

/** One line of `metrics.jsonl`. */
export type MetricRecord = TrainRecord | EvalRecord;

/** Writes a file atomically: to a temporary name beside it, then renamed over it. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** A run directory on disk (see the file comment for its layout). */
export class RunDirectory {
  /** The directory path. */
  readonly path: string;
  /** The task's chance level, measured on the first plot. */
  #chance: ChanceLevel | undefined;

  /** Opens (creating if needed) the directory at `path`; a `RunError` says why it cannot be. */
  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(path, { recursive: true });
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      const why =
        e.code === 'ENOTDIR' || e.code === 'EEXIST'
          ? 'a part of the path is a file, not a directory'
          : e.code === 'EACCES' || e.code === 'EPERM'
            ? 'permission denied'
            : (e.message ?? String(error));
      throw new RunError(`cannot create the run directory '${path}': ${why} (${e.code ?? 'error'})`, {
        cause: error,
      });
    }
  }

  /** The path of a file inside the run directory. */
  file(name: string): string {
    return join(this.path, name);
  }

  /** Writes `config.json` (pretty-printed). */
  writeConfig(config: unknown): void {
    writeFileAtomic(this.file('config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Appends one line to `metrics.jsonl`. */
  appendMetric(record: MetricRecord): void {
    appendFileSync(this.file('metrics.jsonl'), `${JSON.stringify(record)}\n`);
  }

  /** Reads every line of `metrics.jsonl` (empty when absent); unparsable lines are skipped. */
  readMetrics(): MetricRecord[] {
    const path = this.file('metrics.jsonl');
    if (!existsSync(path)) return [];
    const out: MetricRecord[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as MetricRecord);
      } catch {
        // A line cut short by a crash: drop it.
      }
    }
    return out;
  }

  /**
   * Keeps only the metrics lines up to `step` (inclusive), so a resumed run continues the file
   * without duplicates.
   *
   * @returns The lines kept.
   */
  truncateMetrics(step: number): MetricRecord[] {
    const kept = this.readMetrics().filter((r) => r.step <= step);
    writeFileAtomic(this.file('metrics.jsonl'), kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return kept;
  }

  /** Writes `<name>.svg` and `<name>.png` (the same SVG, rasterised) of one chart. */
  writeChart(name: string, spec: ChartSpec): void {
    const svg = renderSvg(spec);
    writeFileAtomic(this.file(`${name}.svg`), svg);
    const png = svgToPng(svg);
    if (png) writeFileAtomic(this.file(`${name}.png`), png);
  }

  /**
   * Draws `loss.*`, `grad-norms.*` (when recorded) and, for a classification task, `metric.*` from the
   * metrics lines, with the task's chance level as a dashed line. A regression task's loss is its
   * metric (MSE), so a metric chart would repeat the validation curve of the loss chart: it gets none.
   *
   * @param records - Every metrics line of the run.
   * @param task - The task (its metric, and its data for the chance level).
   * @param title - Shown above each chart (e.g. `bmru on copy-first-input`).
   */
  writePlots(records: readonly MetricRecord[], task: Task, title: string): void {
    this.#chance ??= chanceLevel(task);
    const chance = this.#chance;
    const train = records.filter((r): r is TrainRecord => r.type === 'train');
    // The curves follow the validation split; the one test score at the end is not a curve.
    const evals = records.filter((r): r is EvalRecord => r.type === 'eval' && r.split === 'validation');
    const mse = task.metric === 'mse';
    this.writeChart('loss', {
      title: `${mse ? 'loss (MSE)' : 'loss'}: ${title}`,
      xLabel: 'step',
      yLabel: mse ? 'MSE' : 'loss',
      series: [
        { label: 'train', points: train.map((r) => [r.step, r.loss]) },
        { label: 'validation', points: evals.map((r) => [r.step, r.loss]) },
      ],
      references: [chanceReference(chance, chance.loss)],
    });
    const norms = gradNormChart(train, title);
    if (norms) this.writeChart('grad-norms', norms);
    if (mse) return;
    this.writeChart('metric', {
      title: `validation accuracy: ${title}`,
      xLabel: 'step',
      yLabel: 'accuracy',
      yScale: 'linear',
      series: [{ label: 'validation accuracy', points: evals.map((r) => [r.step, r.accuracy ?? r.loss]) }],
      references: [chanceReference(chance, chance.metric)],
    });
  }
}
