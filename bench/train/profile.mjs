/**
 * `node bench/train/profile.mjs [--seq-len 1000] [--steps 5]`: where the mru CPU training step of
 * `pnpm bench:train` spends its time. Not a benchmark against peers (train.mjs is); a tool for
 * deciding what to optimise, and for before/after comparisons of one's own change.
 *
 * The CPU backend sits behind a Proxy that measures the CPU time of every method call
 * (`process.cpuUsage()`, so that other processes on a shared machine do not count); fused
 * programs (`elementwise`) are timed per program (labelled by their node count, operand count and
 * output shape, with the program key's first characters), reductions per input shape and axes,
 * matmuls per shape. The rest of a step (JS in core: tracing, autograd bookkeeping, shape checks) is
 * the step's CPU time minus the CPU time inside the backend. Each step's CPU time comes from
 * `process.cpuUsage()`, which on a shared machine is steadier than wall-clock time: other processes
 * steal wall time, not this process's CPU time (though they still slow it through shared caches).
 * After one warm-up step, `--steps` steps are timed; the table gives milliseconds per step.
 */
import { parseArgs } from 'node:util';
import { cpuBackend } from '@mru/backend-cpu';
import { createTask } from '@mru/datasets';
import { createMruTrainer } from './mru-step.mjs';
import { BATCH } from './spec.mjs';

const { values: opts } = parseArgs({
  options: {
    'seq-len': { type: 'string', default: '1000' },
    steps: { type: 'string', default: '5' },
    top: { type: 'string', default: '30' },
  },
});
const T = Number(opts['seq-len']);
const STEPS = Number(opts.steps);

/** Accumulated milliseconds and calls per label. */
const table = new Map();
let inBackend = 0;
let timing = false;

function label(prop, args) {
  switch (prop) {
    case 'elementwise': {
      const [p, inputs, , outShape] = args;
      return `elementwise ${p.nodes.length} nodes ${inputs.length} in ${p.outputs.length} out [${outShape}] ${p.key.slice(0, 40)}`;
    }
    case 'reduce':
      return `reduce ${args[0]} [${args[1].shape}] axes ${args[2]}`;
    case 'matmul':
      return `matmul [${args[0].shape}] x [${args[1].shape}] ${args[2].transposeA ? 'tA' : ''}${args[2].transposeB ? 'tB' : ''}`;
    case 'binary':
    case 'unary':
      return `${prop} ${args[0]} [${args[1].shape}]`;
    case 'strided':
    case 'pad':
    case 'scan':
      return `${prop} [${(args[0].shape ?? args[0].a?.shape ?? []).join(',')}]`;
    default:
      return prop;
  }
}

function timedBackend(inner) {
  return new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || prop === 'memory' || prop === 'name') return value.bind(target);
      return (...args) => {
        if (!timing) return value.apply(target, args);
        const c0 = process.cpuUsage();
        const result = value.apply(target, args);
        const c = process.cpuUsage(c0);
        const dt = (c.user + c.system) / 1000;
        inBackend += dt;
        const key = label(prop, args);
        const entry = table.get(key) ?? { ms: 0, calls: 0 };
        entry.ms += dt;
        entry.calls++;
        table.set(key, entry);
        return result;
      };
    },
  });
}

const task = await createTask('copy-first-input', { length: T, seed: 0 });
const batches = Array.from({ length: 4 }, (_, i) => task.batch('train', i, BATCH));
const trainer = await createMruTrainer(timedBackend(cpuBackend()), batches);
await trainer.step();
timing = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const cpuPerStep = [];
for (let s = 0; s < STEPS; s++) {
  const c = process.cpuUsage();
  await trainer.step();
  const d = process.cpuUsage(c);
  cpuPerStep.push((d.user + d.system) / 1000);
}
const wall = (performance.now() - t0) / STEPS;
const cpuAll = process.cpuUsage(cpu0);
timing = false;
trainer.dispose();

const fmt = (x) => x.toFixed(1).padStart(8);
const rows = [...table.entries()].sort((a, b) => b[1].ms - a[1].ms);
const byMethod = new Map();
for (const [k, v] of rows) {
  const m = k.split(' ')[0];
  byMethod.set(m, (byMethod.get(m) ?? 0) + v.ms);
}
const sortedCpu = [...cpuPerStep].sort((a, b) => a - b);
process.stdout.write(
  `T = ${T}, batch ${BATCH}, ${STEPS} steps: wall ${wall.toFixed(1)} ms/step, CPU ${((cpuAll.user + cpuAll.system) / 1000 / STEPS).toFixed(1)} ms/step (min ${sortedCpu[0].toFixed(1)}, median ${sortedCpu[sortedCpu.length >> 1].toFixed(1)})\n`,
);
process.stdout.write(
  `CPU time in backend ${(inBackend / STEPS).toFixed(1)} ms/step; outside (core JS) ${((cpuAll.user + cpuAll.system) / 1000 / STEPS - inBackend / STEPS).toFixed(1)} ms/step\n\nby method (ms/step):\n`,
);
for (const [m, ms] of [...byMethod.entries()].sort((a, b) => b[1] - a[1])) {
  process.stdout.write(`${fmt(ms / STEPS)}  ${m}\n`);
}
process.stdout.write('\nby call site (ms/step, calls/step):\n');
for (const [k, v] of rows.slice(0, Number(opts.top))) {
  process.stdout.write(`${fmt(v.ms / STEPS)} ${String(v.calls / STEPS).padStart(5)}  ${k}\n`);
}
