/**
 * `quick` (the default of a bare `mru`): BMRU and LRU side by side on copy-first-input at T = 200.
 * Both are two-layer networks (a memory cell switches on its input alone, so it takes a second layer
 * to tell the first step from the others); the BMRU stores the first value in bistable units and
 * recalls it, the LRU's fading memory cannot.
 */
import { copyRuns, type PresetFamily, SMALL, stepsOr } from '../preset.js';
import { copyTable } from '../report.js';
import { quickVerdict } from '../verdicts.js';

/** The `quick` preset. */
export const quick: PresetFamily = {
  help: 'BMRU vs LRU on copy-first-input, T = 200 (a few minutes; what a bare `mru` runs)',
  build: (options) => {
    const T = 200;
    const runs = copyRuns(['bmru', 'lru'], [T], {
      ...SMALL,
      'd-state': '64',
      steps: stepsOr(options, 300),
      lr: '2e-3',
      seed: options.seed,
      'eval-every': '50',
      'eval-batches': '4',
    });
    return {
      title: `Quick: BMRU vs LRU on copy-first-input, T = ${T}`,
      claim: 'BMRU solves copy-first-input at a length where the LRU degrades (chance MSE is about 1).',
      runs,
      tables: (outcomes) => [{ caption: `copy-first-input, T = ${T}`, table: copyTable(outcomes) }],
      verdict: quickVerdict(T),
    };
  },
};
