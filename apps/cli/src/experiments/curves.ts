/**
 * The curves of an experiment: every run's validation metric against the step on one chart, so the
 * runs a preset compares can be compared over the whole of training, not only at its end. Runs are
 * grouped by task and sequence length (a curve at T = 20 and one at T = 1000 do not share a chance
 * level, and often not a scale); each group gets `curves-<task>-T<length>.svg` and `.png` in the
 * experiment directory.
 *
 * Design: the curves are read back from each run's `metrics.jsonl`, not kept from this process, so a
 * resumed experiment draws every run from its first step, and a rescored one draws what its
 * directory holds. A group with more runs than the palette has colours (an ablation grid with its
 * seeds) is left out and said so: one colour for two runs would make the chart lie.
 */
import { createTask, type TaskName } from '@mru/datasets';
import { chanceLevel, chanceReference } from '../chance.js';
import { PALETTE, type Series } from '../chart.js';
import { resolveTrainConfig } from '../config.js';
import { type EvalRecord, RunDirectory } from '../rundir.js';
import type { RunOutcome } from '../runs.js';
import { headline } from '../train.js';

/** What {@link writeCurves} drew and what it left out. */
export interface CurvesResult {
  /** The charts written, as base names (`curves-copy-first-input-T200`; `.svg` and `.png` exist). */
  readonly written: readonly string[];
  /** One line for each group left out, saying why. */
  readonly skipped: readonly string[];
}

/**
 * Draws the validation curves of an experiment's runs, one chart per task and sequence length.
 *
 * @param outcomes - The finished runs (their `result.out` directories hold `metrics.jsonl`).
 * @param dir - The experiment directory the charts are written into.
 * @returns The charts written and the groups left out.
 */
export async function writeCurves(outcomes: readonly RunOutcome[], dir: RunDirectory): Promise<CurvesResult> {
  const groups = new Map<string, { task: TaskName; options: Record<string, unknown>; runs: RunOutcome[] }>();
  for (const o of outcomes) {
    const config = await resolveTrainConfig(o.spec.values);
    // The seed only picks examples; every other task option (the length among them) shapes the task.
    const { seed: _seed, ...shape } = config.taskOptions;
    const key = `${config.task} ${JSON.stringify(shape)}`;
    const group = groups.get(key) ?? { task: config.task, options: { ...config.taskOptions }, runs: [] };
    group.runs.push(o);
    groups.set(key, group);
  }
  const written: string[] = [];
  const skipped: string[] = [];
  const names = new Set<string>();
  for (const group of groups.values()) {
    const task = await createTask(group.task, group.options);
    let name = `curves-${group.task}-T${task.sequenceLength}`;
    // Two groups of one task and length differ in another option: number them rather than overwrite.
    for (let i = 2; names.has(name); i++) name = `curves-${group.task}-T${task.sequenceLength}-${i}`;
    names.add(name);
    if (group.runs.length > PALETTE.length) {
      skipped.push(`${name}: ${group.runs.length} runs, more than the ${PALETTE.length} colours of a chart`);
      continue;
    }
    const models = group.runs.map((o) => o.spec.model);
    const unique = new Set(models).size === models.length;
    const mse = task.metric === 'mse';
    const series: Series[] = group.runs.map((o) => {
      const evals = new RunDirectory(o.result.out)
        .readMetrics()
        .filter((r): r is EvalRecord => r.type === 'eval' && r.split === 'validation');
      return {
        // The model names a run unless two runs of the group share it (seeds, options): then the run's.
        label: unique ? o.spec.model : o.spec.name,
        points: evals.map((r) => [r.step, headline(task.metric, r)] as const),
      };
    });
    const chance = chanceLevel(task);
    dir.writeChart(name, {
      title: `validation ${mse ? 'MSE' : 'accuracy'}: ${group.task}, T = ${task.sequenceLength}`,
      xLabel: 'step',
      yLabel: mse ? 'MSE' : 'accuracy',
      ...(mse ? {} : { yScale: 'linear' as const }),
      series,
      references: [chanceReference(chance, chance.metric)],
    });
    written.push(name);
  }
  return { written, skipped };
}
