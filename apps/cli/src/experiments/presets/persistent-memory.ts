/** `persistent-memory`: copy-first-input across lengths for every parallel cell and the hybrid. */
import type { ModelName } from '../../models.js';
import { fmt } from '../../table.js';
import { copyRuns, type PresetFamily, SMALL, stepsOr } from '../preset.js';
import { copyTable } from '../report.js';
import { solvedByLength } from '../verdicts.js';

/** The `persistent-memory` preset. */
export const persistentMemory: PresetFamily = {
  help: 'copy-first-input across T for bmru, cmru, fq-bmru, lru, mingru, hybrid',
  build: (options) => {
    const { quick } = options;
    const models: ModelName[] = ['bmru', 'cmru', 'fq-bmru', 'lru', 'mingru', 'hybrid'];
    const lengths = quick ? [20, 100] : [50, 200, 1000];
    const runs = copyRuns(models, lengths, {
      ...SMALL,
      steps: stepsOr(options, quick ? 200 : 800),
      lr: '2e-3',
      seed: options.seed,
      'eval-every': quick ? '50' : '100',
      'eval-batches': '4',
    });
    return {
      title: `Persistent memory: copy-first-input at T = ${lengths.join(', ')}`,
      claim:
        'Multistable cells (BMRU, CMRU) keep the first input at every length; the LRU and minGRU fade as T grows.',
      runs,
      tables: (outcomes) => [
        {
          caption: 'final test MSE by length (chance is about 1)',
          table: {
            header: ['model', ...lengths.map((T) => `T=${T}`)],
            rows: models.map((m) => [
              m,
              ...lengths.map((T) => fmt(outcomes.find((o) => o.spec.name === `${m}-T${T}`)?.test.mse)),
            ]),
          },
        },
        { caption: 'every run', table: copyTable(outcomes) },
      ],
      verdict: solvedByLength(models, lengths),
    };
  },
};
