/** `horizon`: flip-flop trained at T, evaluated at 10 T and 100 T (horizon generalisation). */
import type { ModelName } from '../../models.js';
import { formatDuration } from '../../progress.js';
import type { RunSpec } from '../../runs.js';
import { pct } from '../../table.js';
import { type PresetFamily, SMALL, stepsOr } from '../preset.js';
import { horizonVerdict } from '../verdicts.js';

/** The `horizon` preset. */
export const horizon: PresetFamily = {
  help: 'flip-flop trained at T, evaluated at 10T and 100T (bmru, cmru, lru, mingru)',
  build: (options) => {
    const { quick, seed } = options;
    const T = quick ? 50 : 100;
    const models: ModelName[] = ['bmru', 'cmru', 'lru', 'mingru'];
    const longer = [10 * T, 100 * T];
    const runs: RunSpec[] = models.map((model) => ({
      name: `${model}-T${T}`,
      model,
      values: {
        ...SMALL,
        task: 'flip-flop',
        model,
        'seq-len': String(T),
        'task-opt': ['setProbability=0.05'],
        steps: stepsOr(options, quick ? 250 : 800),
        lr: '2e-3',
        seed,
        'eval-every': '50',
        'eval-batches': '4',
      },
      extraEvals: longer.map((L) => ({
        label: `${L / T}T`,
        values: {
          task: 'flip-flop',
          model,
          'seq-len': String(L),
          'task-opt': ['setProbability=0.05'],
          seed,
        },
        batch: L >= 5000 ? 8 : 32,
        batches: L >= 5000 ? 2 : 4,
      })),
    }));
    return {
      title: `Horizon: flip-flop trained at T = ${T}, evaluated at ${longer.join(' and ')}`,
      claim: 'Trained at T, BMRU/CMRU keep their flip-flop accuracy at 100 T; the LRU does not.',
      runs,
      tables: (outcomes) => [
        {
          caption: 'per-step test accuracy (sequence accuracy in parentheses)',
          table: {
            header: ['model', 'params', `T=${T}`, `10T=${10 * T}`, `100T=${100 * T}`, 'time'],
            rows: outcomes.map((o) => [
              o.spec.model,
              String(o.result.paramCount),
              `${pct(o.test.accuracy)} (${pct(o.test.sequenceAccuracy)})`,
              `${pct(o.extra['10T']?.accuracy)} (${pct(o.extra['10T']?.sequenceAccuracy)})`,
              `${pct(o.extra['100T']?.accuracy)} (${pct(o.extra['100T']?.sequenceAccuracy)})`,
              formatDuration(o.result.totalSeconds),
            ]),
          },
        },
      ],
      verdict: horizonVerdict,
    };
  },
};
