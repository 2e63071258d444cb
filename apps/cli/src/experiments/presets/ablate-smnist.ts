/** `ablate-smnist`: the ablation grid of issue 14 on the 14 x 14 sequential-MNIST proxy (see ablate.ts). */
import { smnistAblation } from '../../ablate.js';
import type { PresetFamily } from '../preset.js';

/** The `ablate-smnist` preset. */
export const ablateSmnist: PresetFamily = {
  help: 'ablation grid on the 14x14 sequential-MNIST proxy, 3 seeds per row (long)',
  build: (options) => smnistAblation(options.quick, options.seed, options.steps),
};
