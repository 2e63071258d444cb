/**
 * The experiment's curve charts: runs grouped by task and length, each run's validation curve read
 * back from its metrics file, and groups too large to colour left out with a reason.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTask } from '@mru/datasets';
import { afterAll, describe, expect, it } from 'vitest';
import { chanceLevel } from '../src/chance.js';
import { formatTick, renderSvg, type Series } from '../src/chart.js';
import { writeCurves } from '../src/experiments/curves.js';
import { type MetricRecord, RunDirectory } from '../src/rundir.js';
import type { RunOutcome } from '../src/runs.js';

const root = mkdtempSync(join(tmpdir(), 'mru-curves-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A finished run on copy-first-input whose directory holds the given validation MSEs at steps 10, 20... */
function fakeRun(name: string, model: string, T: number, mses: number[]): RunOutcome {
  const out = join(root, name);
  const dir = new RunDirectory(out);
  const lines: MetricRecord[] = [
    { type: 'train', step: 10, loss: 9, lr: 1e-3, gradNorm: 1, liveTensors: 1, elapsed: 1 },
    ...mses.map((mse, i) => ({
      type: 'eval' as const,
      step: 10 * (i + 1),
      split: 'validation' as const,
      loss: mse,
      mse,
      count: 8,
    })),
    // The test score at the end is not part of the curve.
    { type: 'eval', step: 10 * mses.length, split: 'test', loss: 99, mse: 99, count: 8 },
  ];
  for (const line of lines) dir.appendMetric(line);
  return {
    spec: { name, model, values: { task: 'copy-first-input', model, 'seq-len': String(T), seed: '0' } },
    result: { out },
  } as unknown as RunOutcome;
}

describe('writeCurves', () => {
  it('draws one chart per task and length from the runs’ metrics files', async () => {
    const outcomes = [
      fakeRun('bmru-T20', 'bmru', 20, [0.9, 0.3, 0.1]),
      fakeRun('lru-T20', 'lru', 20, [1.0, 0.8]),
      fakeRun('bmru-T50', 'bmru', 50, [0.7]),
      fakeRun('bmru-T50-s1', 'bmru', 50, [0.6, 0.5]),
    ];
    const dir = new RunDirectory(join(root, 'experiment'));
    const result = await writeCurves(outcomes, dir);
    expect(result).toEqual({
      written: ['curves-copy-first-input-T20', 'curves-copy-first-input-T50'],
      skipped: [],
    });

    const expected = async (T: number, series: Series[]) => {
      const chance = chanceLevel(await createTask('copy-first-input', { length: T, seed: 0 }));
      return renderSvg({
        title: `validation MSE: copy-first-input, T = ${T}`,
        xLabel: 'step',
        yLabel: 'MSE',
        series,
        references: [{ label: `chance (best constant) ${formatTick(chance.metric)}`, y: chance.metric }],
      });
    };
    const svg = (name: string) => readFileSync(join(dir.path, `${name}.svg`), 'utf8');
    expect(svg('curves-copy-first-input-T20')).toBe(
      await expected(20, [
        {
          label: 'bmru',
          points: [
            [10, 0.9],
            [20, 0.3],
            [30, 0.1],
          ],
        },
        {
          label: 'lru',
          points: [
            [10, 1.0],
            [20, 0.8],
          ],
        },
      ]),
    );
    // Two runs of one model in a group are told apart by their run names.
    expect(svg('curves-copy-first-input-T50')).toBe(
      await expected(50, [
        { label: 'bmru-T50', points: [[10, 0.7]] },
        {
          label: 'bmru-T50-s1',
          points: [
            [10, 0.6],
            [20, 0.5],
          ],
        },
      ]),
    );
  });

  it('leaves out a group with more runs than colours, saying so', async () => {
    const outcomes = Array.from({ length: 8 }, (_, i) => fakeRun(`grid-${i}`, 'bmru', 30, [0.5]));
    const dir = new RunDirectory(join(root, 'grid'));
    expect(await writeCurves(outcomes, dir)).toEqual({
      written: [],
      skipped: ['curves-copy-first-input-T30: 8 runs, more than the 7 colours of a chart'],
    });
  });
});
