/**
 * `node apps/cli/scripts/horizon-states.mjs <horizon experiment dir>`: why a cell does or does not
 * generalise across horizons, measured on the runs of `mru experiment horizon`. For each run (its
 * `last.safetensors`, the parameters the preset's table scores) and each length the preset tests
 * (T, 10 T, 100 T; 4 test batches of 32, or 2 of 8 from 5,000 steps on, as the preset's long
 * evaluations, so at T it scores fewer sequences than the table), it prints the accuracy and the
 * spread of every memory cell's final state `s`. The BMRU's states are ±1 at any length. The CMRU's are `s_0` plus an
 * integer (`s_t = s_{t-1} + z_t v_t`), the sum of its switches so far: a unit whose drive exceeds its
 * threshold on the background input switches at every step and counts the steps, so its state grows
 * with the length, past the values the head saw in training. "outside" is the share of (sequence,
 * unit) states larger in magnitude than the largest the same unit reached over the T-length batches.
 *
 * Not part of the test suite: an analysis tool; the README quotes its output with this command.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpuBackend } from '@mru/backend-cpu';
import { dispose, setBackend, tensor } from '@mru/core';
import { createTask } from '@mru/datasets';
import { loadNetworkCheckpoint } from '@mru/models/node';
import { resolveTrainConfig } from '../dist/config.js';
import { scoreCheckpoint } from '../dist/runs.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node apps/cli/scripts/horizon-states.mjs <runs/experiment-horizon-...>');
  process.exit(2);
}
await setBackend(cpuBackend());

/** Final states of the memory cells (units with a `s` state), `[sequences * units]` per layer. */
async function finalStates(network, params, task, batchSize, batches) {
  const perLayer = [];
  for (const batch of task.batches('test', batchSize, { count: batches })) {
    const x = tensor(batch.inputs, { shape: batch.inputShape });
    const { output, switchRate, state } = network.applyWithStats(params, x);
    for (const [layer, cells] of state.entries()) {
      for (const cell of cells) {
        if (!cell.s) continue;
        const values = await cell.s.data();
        const [rows, units] = cell.s.shape;
        perLayer[layer] ??= { units, rows: [] };
        for (let r = 0; r < rows; r++) perLayer[layer].rows.push(values.slice(r * units, (r + 1) * units));
      }
    }
    dispose([x, output, switchRate, state]);
  }
  return perLayer;
}

const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
for (const run of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
  const runDir = join(dir, run.name);
  const checkpoint = join(runDir, 'last.safetensors');
  const loaded = await loadNetworkCheckpoint(checkpoint);
  const T = Number(run.name.match(/-T(\d+)$/)?.[1]);
  const model = run.name.replace(/-T\d+$/, '');
  let reference;
  for (const L of [T, 10 * T, 100 * T]) {
    const values = {
      task: 'flip-flop',
      model,
      'seq-len': String(L),
      'task-opt': ['setProbability=0.05'],
      seed: '0',
    };
    const config = await resolveTrainConfig(values);
    const task = await createTask(config.task, config.taskOptions);
    // The batches of the preset's own evaluations at each length.
    const [batchSize, batches] = L >= 5000 ? [8, 2] : [32, 4];
    const { accuracy } = await scoreCheckpoint(checkpoint, values, batches, batchSize);
    const layers = await finalStates(loaded.network, loaded.params, task, batchSize, batches);
    if (layers.length === 0) break;
    reference ??= layers.map(({ units, rows }) =>
      Array.from({ length: units }, (_, u) => Math.max(...rows.map((row) => Math.abs(row[u])))),
    );
    const parts = layers.map(({ units, rows }, layer) => {
      const all = rows.flatMap((row) => [...row].map(Math.abs));
      let outside = 0;
      for (const row of rows)
        for (let u = 0; u < units; u++) if (Math.abs(row[u]) > reference[layer][u] + 1e-6) outside++;
      all.sort((a, b) => a - b);
      const q = (p) => all[Math.min(all.length - 1, Math.floor(p * all.length))];
      return `layer ${layer}: |s| median ${fmt(q(0.5))}, 99th pct ${fmt(q(0.99))}, max ${fmt(all[all.length - 1])}, outside ${((100 * outside) / all.length).toFixed(1)}%`;
    });
    console.log(`${model} L=${L}: accuracy ${(100 * accuracy).toFixed(1)}%; ${parts.join('; ')}`);
  }
  dispose(loaded.params);
}
