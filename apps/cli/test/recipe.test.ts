/**
 * Tests of the issue-14 pieces of the command line: `--net-opt` parsing onto a network config, the
 * ablation table's mean and spread, the grid's runs, and the gradient-norm plumbing and chart.
 */
import type { NetworkConfig } from '@mru/models';
import { describe, expect, it } from 'vitest';
import { ABLATION_SEEDS, ablationTable, meanStd, SMNIST_ABLATION, smnistAblation } from '../src/ablate.js';
import { resolveTrainConfig } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { PRESETS } from '../src/experiments/presets/index.js';
import { GRAD_NORM_PREFIX, gradNormChart, unprefixKeys } from '../src/grad-norms.js';
import { applyNetOptions } from '../src/net-options.js';
import type { RunOutcome } from '../src/runs.js';

const HYBRID: NetworkConfig = {
  dIn: 1,
  dModel: 8,
  dOut: 10,
  nLayers: 2,
  cell: {
    type: 'hybrid',
    cells: [
      { type: 'bmru', dState: 4 },
      { type: 'lru', dState: 4 },
    ],
  },
};

describe('--net-opt', () => {
  it('maps keys onto the network config, cell options onto the cells they concern', () => {
    const c = applyNetOptions(HYBRID, [
      'time=16',
      'timeMax=100',
      'timeBlocks=true',
      'readout=mean',
      'stemMlp=true',
      'branchNorm=false',
      'dropoutOn=mlp',
      'init=lecun',
      'surrogateK=0.5',
    ]);
    expect(c.timeFeatures).toEqual({ dim: 16, maxLength: 100, perBlock: true });
    expect(c).toMatchObject({
      readout: 'mean',
      stemMlp: true,
      branchNorm: false,
      dropoutPlacement: 'mlp',
      init: 'lecun',
    });
    const cells = (c.cell as unknown as { cells: { type: string; surrogateK?: number }[] }).cells;
    expect(cells.map((x) => x.surrogateK)).toEqual([0.5, undefined]);
    expect(applyNetOptions(c, ['time=0']).timeFeatures).toBeUndefined();
    const mingru = applyNetOptions({ ...HYBRID, cell: { type: 'mingru', dState: 4 } }, ['gateBias=-5']);
    expect(mingru.cell).toEqual({ type: 'mingru', dState: 4, gateBias: -5 });
    const held = applyNetOptions(HYBRID, ['betaBias=3', 'switchPenalty=0.5']);
    expect((held.cell as unknown as { cells: { betaBias?: number }[] }).cells.map((x) => x.betaBias)).toEqual(
      [3, undefined],
    );
    expect(held.switchPenalty).toBe(0.5);
    expect(() => applyNetOptions(HYBRID, ['switchPenalty=-1'])).toThrow(
      /switchPenalty expects a number >= 0/,
    );
  });

  it('rejects unknown keys and bad values with the valid ones', () => {
    expect(() => applyNetOptions(HYBRID, ['colour=red'])).toThrow(/known: readout, time/);
    expect(() => applyNetOptions(HYBRID, ['readout=first'])).toThrow(UsageError);
    expect(() => applyNetOptions(HYBRID, ['stemMlp=yes'])).toThrow(/true or false/);
    expect(() => applyNetOptions(HYBRID, ['time'])).toThrow(/--net-opt expects KEY=VALUE/);
  });

  it('reaches the resolved training config (what config.json stores)', async () => {
    const config = await resolveTrainConfig({
      task: 'copy-first-input',
      model: 'fq-bmru',
      'net-opt': ['fqInit=midband', 'time=8'],
    });
    expect(config.network.cell).toMatchObject({ type: 'fqbmru', fqInit: 'midband' });
    expect(config.network.timeFeatures).toEqual({ dim: 8, maxLength: 0, base: 10000, perBlock: false });
  });
});

describe('copy-first-input recipes', () => {
  it('the persistent-memory preset gives minGRU and FQ-BMRU their options and the other cells none', async () => {
    const { runs } = PRESETS['persistent-memory'].build({ quick: true, seed: '0', steps: undefined });
    const byModel = new Map(runs.map((r) => [r.model, r.values['net-opt']]));
    expect(byModel.get('fq-bmru')).toEqual(['fqInit=midband', 'time=16', 'stemMlp=true']);
    expect(byModel.get('mingru')).toEqual(['gateBias=-5', 'time=16', 'timeMax=128', 'timeBlocks=true']);
    for (const m of ['bmru', 'cmru', 'lru', 'hybrid'] as const) expect(byModel.get(m)).toBeUndefined();
    const fq = runs.find((r) => r.model === 'fq-bmru');
    const config = await resolveTrainConfig({ ...fq?.values });
    expect(config.network.cell).toMatchObject({ type: 'fqbmru', fqInit: 'midband' });
    expect(config.network).toMatchObject({ stemMlp: true, timeFeatures: { dim: 16, perBlock: false } });
  });
});

describe('ablation harness', () => {
  it('mean and sample standard deviation', () => {
    const { mean, std } = meanStd([0.5, 0.6, 0.7]);
    expect(mean).toBeCloseTo(0.6, 12);
    expect(std).toBeCloseTo(0.1, 12);
    expect(meanStd([0.3])).toEqual({ mean: 0.3, std: 0 });
  });

  it('runs every row with consecutive seeds and groups outcomes by row', () => {
    const preset = smnistAblation(false, '4', '20');
    expect(preset.runs).toHaveLength(SMNIST_ABLATION.length * ABLATION_SEEDS);
    expect(preset.runs.slice(0, 3).map((r) => [r.name, r.values.seed, r.values.steps])).toEqual([
      ['bmru-base-s4', '4', '20'],
      ['bmru-base-s5', '5', '20'],
      ['bmru-base-s6', '6', '20'],
    ]);
    const outcome = (name: string, accuracy: number) =>
      ({
        spec: { name, model: 'bmru', values: {} },
        test: { accuracy, loss: 1, count: 1, sequences: 0 },
        result: { paramCount: 10, seconds: 2, totalSeconds: 2 },
        extra: {},
      }) as unknown as RunOutcome;
    const table = ablationTable(SMNIST_ABLATION.slice(0, 1), [
      outcome('bmru-base-s4', 0.5),
      outcome('bmru-base-s5', 0.6),
      outcome('bmru-base-s6', 0.7),
      outcome('bmru-time-mean-s4', 0.9),
    ]);
    expect(table.rows[0]).toEqual([
      'bmru',
      'as today (last-step readout)',
      '10',
      '60.0% ± 10.0',
      '50.0%, 60.0%, 70.0%',
      '2 s',
    ]);
  });
});

describe('gradient norms in the run directory', () => {
  it('strips the prefix and charts blocks and cells on a log scale', () => {
    expect(
      unprefixKeys(
        { loss: 1, [`${GRAD_NORM_PREFIX}layers.0`]: 3, [`${GRAD_NORM_PREFIX}input`]: 2 },
        GRAD_NORM_PREFIX,
      ),
    ).toEqual({
      'layers.0': 3,
      input: 2,
    });
    const chart = gradNormChart(
      [
        { step: 10, gradNorms: { input: 1, 'layers.0.cell0': 1e4, 'layers.0.cell1': 6 } },
        { step: 20, gradNorms: { input: 1, 'layers.0.cell0': 2e3, 'layers.0.cell1': 0 } },
      ],
      'hybrid',
    );
    expect(chart?.yScale).toBe('log');
    expect(chart?.series.map((s) => [s.label, s.points])).toEqual([
      [
        'layers.0.cell0',
        [
          [10, 1e4],
          [20, 2e3],
        ],
      ],
      ['layers.0.cell1', [[10, 6]]],
    ]);
    expect(gradNormChart([{ step: 1 }], 'x')).toBeNull();
  });
});
