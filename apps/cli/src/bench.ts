/**
 * `mru bench`: how fast the chosen backend runs the scan primitive and a training step.
 *
 * Design: each measurement runs once to warm up (compiling pipelines on WebGPU), then `repeats`
 * times; the median is reported, since a shared machine makes means noisy. Every timed region ends
 * with a read of a scalar result, so queued GPU work is included and the read-back is tiny. Scan
 * throughput is in elements (batch x time x channels) per second, forward and forward + backward;
 * the training step is the one `mru train` runs, @mru/models' `trainStep` (copy-first-input, a fresh
 * batch per step, dropout, AdamW with the cosine schedule and clipping), timed to its metrics' read.
 */
import { dispose, rand, randn, scan, seed, sum, type Tensor, tidy, valueAndGrad } from '@mru/core';
import { createTask } from '@mru/datasets';
import { AdamW, cosineSchedule, createNetwork, type ParamTree, trainStep } from '@mru/models';
import { choiceOption, intOption, type ParsedArgs } from './args.js';
import { BACKEND_NAMES, useBackend } from './backend.js';
import { UsageError } from './errors.js';
import type { Io } from './io.js';
import { formatBytes, LIMITS, memoryBudget } from './limits.js';
import { MODEL_NAMES, networkConfig } from './models.js';
import { formatTable } from './table.js';

/** The options of `mru bench`. */
export const BENCH_OPTIONS: readonly string[] = [
  'backend',
  'model',
  'd-model',
  'd-state',
  'layers',
  'batch',
  'seq-len',
  'repeats',
  'seed',
  'help',
];

/** Help texts of options whose meaning differs for `mru bench`. */
export const BENCH_OPTION_HELP: Readonly<Record<string, string>> = {
  model: 'model of the timed training step (default bmru)',
  'd-model': 'width of the timed network (default 32)',
  'd-state': 'scan channels and recurrent units (default 64)',
  layers: 'blocks of the timed network (default 2)',
  batch: 'batch size (default 16)',
  'seq-len': 'one sequence length (default: scans at 100, 1000, 10000; the train step at 100)',
  seed: 'seed of the random inputs (default 0)',
};

async function time(repeats: number, run: () => Promise<void>): Promise<number> {
  await run();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function readScalar(t: Tensor): Promise<number> {
  const v = await t.item();
  t.dispose();
  return v;
}

/**
 * Runs the benchmark and prints its table.
 *
 * @param args - Parsed options of `mru bench`.
 * @param io - Output streams.
 * @returns The exit code (0).
 */
export async function benchCommand(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  if (args.positionals.length > 0)
    throw new UsageError(`'mru bench' takes no arguments, got '${args.positionals.join(' ')}'`);
  const backendName = choiceOption('backend', v.backend, BACKEND_NAMES, 'cpu');
  const model = choiceOption('model', v.model, MODEL_NAMES, 'bmru');
  const batch = intOption('batch', v.batch, 16, 1, LIMITS.batch);
  const channels = intOption('d-state', v['d-state'], 64, 1, LIMITS['d-state']);
  const dModel = intOption('d-model', v['d-model'], 32, 1, LIMITS['d-model']);
  const layers = intOption('layers', v.layers, 2, 1, LIMITS.layers);
  const repeats = intOption('repeats', v.repeats, 5, 1, 1000);
  const lengths =
    v['seq-len'] !== undefined
      ? [intOption('seq-len', v['seq-len'], 0, 1, LIMITS['seq-len'])]
      : [100, 1000, 10000];
  // The scan benchmark holds a few [batch, T, channels] tensors (inputs, states, gradients) at once.
  const longest = Math.max(...lengths);
  const scanBytes = 4 * 8 * batch * longest * channels;
  if (scanBytes > memoryBudget()) {
    throw new UsageError(
      `the scan benchmark at [${batch}, ${longest}, ${channels}] needs about ${formatBytes(scanBytes)}, more than the ${formatBytes(memoryBudget())} this machine can give; reduce --batch, --seq-len or --d-state`,
    );
  }
  const backend = await useBackend(backendName);
  seed(intOption('seed', v.seed, 0, 0));
  io.stderr.write(`benchmarking on ${backend.name} (median of ${repeats})\n`);

  const rows: string[][] = [];
  for (const T of lengths) {
    const a = rand([batch, T, channels], 0, 1);
    const b = randn([batch, T, channels]);
    const elements = batch * T * channels;
    const forward = await time(repeats, async () => {
      await readScalar(tidy(() => sum(scan(a, b))));
    });
    const grad = valueAndGrad((bb: Tensor) => sum(scan(a, bb)));
    const backward = await time(repeats, async () => {
      const { value, grads } = grad(b);
      const g = tidy(() => sum(grads));
      dispose([value, grads]);
      await readScalar(g);
    });
    dispose([a, b]);
    rows.push([
      `[${batch}, ${T}, ${channels}]`,
      (forward * 1000).toFixed(2),
      (elements / forward / 1e6).toFixed(1),
      (backward * 1000).toFixed(2),
      (elements / backward / 1e6).toFixed(1),
    ]);
    io.stderr.write(
      `  scan T = ${T}: ${(forward * 1000).toFixed(2)} ms forward, ${(backward * 1000).toFixed(2)} ms with backward\n`,
    );
  }

  const T = v['seq-len'] !== undefined ? lengths[0] : 100;
  const task = await createTask('copy-first-input', { length: T, seed: 0 });
  const network = createNetwork(
    networkConfig(model, task, {
      dModel,
      dState: channels,
      layers,
      mlp: 4,
      dropout: 0.1,
    }),
  );
  let params: ParamTree = network.init(0);
  const optimizer = new AdamW({
    lr: cosineSchedule({ peak: 1e-3, totalSteps: repeats + 1 }),
    meta: network.paramSpecs(),
    clipNorm: 1,
  });
  const stepTime = await time(repeats, async () => {
    const i = optimizer.stepCount;
    params = (await trainStep({ network, optimizer, seed: 0 }, params, task.batch('train', i, batch))).params;
  });
  dispose(params);
  optimizer.dispose();
  io.stdout.write(
    `${formatTable({
      header: ['scan [B, T, C]', 'ms fwd', 'M elem/s fwd', 'ms fwd+bwd', 'M elem/s fwd+bwd'],
      rows,
    })}\n`,
  );
  io.stdout.write(
    `train step (${model}, batch ${batch}, T ${T}, ${network.paramCount()} parameters): ${(stepTime * 1000).toFixed(1)} ms, ` +
      `${(1 / stepTime).toFixed(2)} steps/s, ${Math.round((batch * T) / stepTime)} tokens/s on ${backend.name}\n`,
  );
  return 0;
}
