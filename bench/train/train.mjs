/**
 * `pnpm bench:train`: one training step (forward, backward, global-norm clipping at 1, AdamW) of the
 * network the bare `mru` command trains, in mru (CPU backend, and WebGPU when Dawn finds an adapter)
 * and in its peers, tfjs 4.22 (wasm backend; cpu backend with --tfjs-cpu) and PyTorch (1 thread, the
 * reference BLAS and OpenBLAS, chunked and loop scans) when python3 has torch. Benchmark, not a test.
 *
 * Method. For each sequence length, every implementation is set up in this process tree (PyTorch in
 * child processes) from the same initial parameters (mru's `init(0)`, sent by name) and the same
 * batches (copy-first-input, seed 0, batches 0..3 cycled). Before timing, each peer's loss and
 * gradients on batch 0 are compared with mru's: the same function gives the same numbers up to
 * float32 rounding, so this catches a peer that computes something else (an equal parameter count
 * alone would not). After one untimed warm-up step each, rounds alternate between implementations,
 * in a new shuffled order every round, so that neither the load of other users of a shared machine
 * nor what the previous implementation left running (V8's background GC, say) falls on one of them
 * more than on the others; a round times `--steps` steps, each ending when the loss is back on the
 * host, and a row's figure is the median over rounds. Each step's CPU time (process.cpuUsage here,
 * time.process_time in the PyTorch child) is recorded too: on a machine shared with other jobs, which
 * take wall time from every implementation unevenly, it is the steadier measure of a step's work. The losses of the timed steps are compared with
 * mru's too: same start, same batches, same updates, so they should stay close (a hard gate flipping
 * on a rounding difference can move them apart slowly). Calls per step and peak memory come from one
 * more, untimed step of each loop after the rounds (see mru-step.mjs, tfjs-step.mjs, torch_step.py).
 *
 * Flags: --rounds N (5), --seq-lens 200,1000, --steps N per round (1), --tfjs-cpu (adds tfjs's
 * plain-JS backend, slow), --no-webgpu, --no-torch, --no-openblas.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuBackend } from '@mru/backend-cpu';
import { createTask } from '@mru/datasets';
import { createMruTrainer } from './mru-step.mjs';
import { BATCH, parameterLayout, sizeOf } from './spec.mjs';
import { createTfTrainer } from './tfjs-step.mjs';
import { openblasDir, startTorch, torchMissing } from './torch-peer.mjs';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'seq-lens': { type: 'string', default: '200,1000' },
    steps: { type: 'string', default: '1' },
    'tfjs-cpu': { type: 'boolean', default: false },
    'no-webgpu': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    'no-openblas': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    'pnpm bench:train [--rounds 5] [--seq-lens 200,1000] [--steps 1] [--tfjs-cpu] [--no-webgpu] [--no-torch] [--no-openblas]\n',
  );
  process.exit(0);
}
const ROUNDS = positive('rounds', opts.rounds);
const STEPS = positive('steps', opts.steps);
const SEQ_LENS = opts['seq-lens'].split(',').map((s) => positive('seq-lens', s));
/** Distinct batches cycled through by every implementation. */
const N_BATCHES = 4;
/** A peer whose gradient differs from mru's by more than this (relative L2) computes something else. */
const GRAD_TOLERANCE = 1e-3;

function positive(name, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name}: expected a positive integer, got '${s}'\n`);
    process.exit(2);
  }
  return n;
}

const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** `xs` in an order drawn from `seed` (a Fisher-Yates shuffle on a small LCG: the same every run). */
function shuffle(xs, seed) {
  const out = [...xs];
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = Math.floor((state / 2 ** 32) * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------
// Which implementations this machine can run.

/** Each implementation: `{ id, label, note, create({ T, batches, initial, dir }) => runner }`. */
const impls = [];
const skipped = [];
const cpu = cpuBackend();
impls.push({
  id: 'mru-cpu',
  label: 'mru, CPU backend',
  note: 'Node JS, 1 thread',
  async create({ batches }) {
    return jsRunner(await createMruTrainer(cpu, batches), true);
  },
});

if (!opts['no-webgpu']) {
  try {
    const { webgpuBackend } = await import('@mru/backend-webgpu');
    const { nodeGpu } = await import('@mru/backend-webgpu/node');
    const flags = (process.env.MRU_WEBGPU_FLAGS ?? '').split(',').filter(Boolean);
    const gpu = await webgpuBackend({ gpu: await nodeGpu({ flags }) });
    const info = gpu.adapterInfo;
    const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
    const software = info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|software/i.test(text);
    const adapter = info.description || info.device || info.vendor || 'unnamed adapter';
    impls.push({
      id: 'mru-webgpu',
      label: software ? 'mru, WebGPU on a software adapter (emulated on the CPU)' : 'mru, WebGPU',
      note: `${adapter}${software ? ', a CPU emulating a GPU: says nothing about GPU speed' : ''}`,
      async create({ batches }) {
        return jsRunner(await createMruTrainer(gpu, batches), true);
      },
    });
  } catch (e) {
    skipped.push(`mru WebGPU: ${e.message}`);
  }
}

for (const backend of opts['tfjs-cpu'] ? ['wasm', 'cpu'] : ['wasm']) {
  impls.push({
    id: `tfjs-${backend}`,
    label: `tfjs 4.22, ${backend} backend`,
    note: `${backend === 'wasm' ? 'WebAssembly SIMD, 1 thread' : 'plain JS'}; scan as one custom op (JS loop)`,
    peer: true,
    async create({ batches, initial }) {
      // tfjs's cpu backend runs the same kernels as wasm: count once, on wasm.
      return jsRunner(await createTfTrainer(backend, batches, initial), backend === 'wasm');
    },
  });
}

const children = [];
if (!opts['no-torch']) {
  const missing = torchMissing();
  if (missing) skipped.push(`PyTorch: ${missing}`);
  else {
    const variants = [{ lib: null, scan: 'chunked' }];
    if (!opts['no-openblas']) {
      const ob = openblasDir();
      if (ob.dir) variants.push({ lib: ob.dir, scan: 'chunked' });
      else skipped.push(`PyTorch with OpenBLAS: ${ob.reason}`);
    }
    variants.push({ lib: null, scan: 'loop' });
    const byLib = new Map();
    for (const v of variants) {
      try {
        if (!byLib.has(v.lib)) {
          const child = await startTorch(v.lib);
          children.push(child);
          byLib.set(v.lib, child);
        }
        const child = byLib.get(v.lib);
        if (v.lib && child.blas !== 'OpenBLAS') {
          skipped.push(`PyTorch with OpenBLAS: the child mapped ${child.blasPaths.join(', ')}`);
          continue;
        }
        if (v.lib && byLib.get(null)?.blas === 'OpenBLAS') {
          skipped.push('PyTorch with OpenBLAS: the default BLAS already is OpenBLAS (no reference-BLAS row)');
          continue;
        }
        const blasId = { OpenBLAS: 'openblas', 'reference BLAS': 'refblas' }[child.blas] ?? 'otherblas';
        impls.push({
          id: `torch-${blasId}-${v.scan}`,
          label: `PyTorch ${child.torch.replace(/a0$/, '')}, 1 thread, ${child.blas}, ${v.scan} scan`,
          note: `${child.blasPaths.join(', ') || 'no BLAS library mapped'}`,
          peer: true,
          async create({ T, dir }) {
            const key = `${T}-${v.scan}`;
            await child.send({ cmd: 'setup', key, dir, scan: v.scan });
            return torchRunner(child, key);
          },
        });
      } catch (e) {
        skipped.push(`PyTorch (${v.lib ? 'OpenBLAS' : 'default BLAS'}, ${v.scan}): ${e.message}`);
      }
    }
  }
}

/** A runner over a JS trainer (mru or tfjs): times steps here; `count` says whether to meter one. */
function jsRunner(trainer, count) {
  return {
    async time(steps) {
      const ms = [];
      const cpu = [];
      const losses = [];
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        losses.push(await trainer.step());
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
        ms.push(performance.now() - t0);
      }
      return { ms, cpu, losses };
    },
    check: (batch) => trainer.lossAndGrads(batch),
    count: count ? () => trainer.count() : null,
    paramData: trainer.paramData ? () => trainer.paramData() : null,
    dispose: () => trainer.dispose(),
  };
}

/** A runner over a PyTorch child: steps are timed in Python. */
function torchRunner(child, key) {
  return {
    time: (steps) => child.send({ cmd: 'time', key, steps }),
    async check() {
      return child.send({ cmd: 'check', key, batch: 0 });
    },
    async count() {
      const { count } = await child.send({ cmd: 'count', key });
      return count ? { calls: count.calls, top: count.top, views: count.views, saved: count.saved } : null;
    },
    dispose: () => child.send({ cmd: 'drop', key }),
  };
}

// ---------------------------------------------------------------------------------------------------
// The run.

log(`bench:train: ${impls.map((i) => i.id).join(', ')}; T = ${SEQ_LENS.join(', ')}; ${ROUNDS} rounds`);
for (const s of skipped) log(`  skipped: ${s}`);
const layout = parameterLayout();
const layoutCount = layout.reduce((s, [, shape]) => s + sizeOf(shape), 0);
const rows = [];
let failed = false;

for (const T of SEQ_LENS) {
  const task = await createTask('copy-first-input', { length: T, seed: 0 });
  const batches = Array.from({ length: N_BATCHES }, (_, i) => task.batch('train', i, BATCH));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mru-bench-train-'));
  try {
    const runners = new Map();
    let initial = null;
    for (const impl of impls) {
      log(`T = ${T}: setting up ${impl.id}`);
      const runner = await impl.create({ T, batches, initial, dir });
      if (!initial) {
        // The first implementation is mru on the CPU: its initial parameters are everyone's.
        initial = await runner.paramData();
        checkLayout(impls[0], initial, T);
        writePeerFiles(dir, T, batches, initial);
      }
      runners.set(impl.id, runner);
    }

    const reference = await runners.get('mru-cpu').check(batches[0]);
    for (const impl of impls.slice(1)) {
      const other = await runners.get(impl.id).check(batches[0]);
      const err = gradError(reference.grads, other.grads);
      const lossErr = Math.abs(other.loss - reference.loss) / Math.abs(reference.loss);
      const ok = err <= GRAD_TOLERANCE && lossErr <= GRAD_TOLERANCE;
      log(
        `  check ${impl.id}: loss ${other.loss.toPrecision(7)} vs mru ${reference.loss.toPrecision(7)}, ` +
          `gradient relative L2 error ${err.toExponential(1)} ${ok ? 'ok' : 'MISMATCH'}`,
      );
      impl.check = { err, lossErr, ok };
      if (!ok) failed = true;
    }

    const samples = new Map(impls.map((i) => [i.id, []]));
    const cpuSamples = new Map(impls.map((i) => [i.id, []]));
    const losses = new Map(impls.map((i) => [i.id, []]));
    for (const impl of impls) losses.get(impl.id).push(...(await runners.get(impl.id).time(1)).losses);
    for (let r = 0; r < ROUNDS; r++) {
      const order = shuffle(impls, r);
      for (const impl of order) {
        const { ms, cpu, losses: l } = await runners.get(impl.id).time(STEPS);
        samples.get(impl.id).push(ms.reduce((a, b) => a + b, 0) / ms.length);
        cpuSamples.get(impl.id).push(cpu.reduce((a, b) => a + b, 0) / cpu.length);
        losses.get(impl.id).push(...l);
      }
      log(
        `  round ${r + 1}/${ROUNDS}: ${impls.map((i) => `${i.id} ${samples.get(i.id).at(-1).toFixed(0)}`).join(', ')} ms`,
      );
    }

    for (const impl of impls) {
      const runner = runners.get(impl.id);
      const counted = runner.count ? await runner.count() : null;
      const ref = losses.get('mru-cpu');
      const mine = losses.get(impl.id);
      const drift = Math.max(...mine.map((l, i) => Math.abs(l - ref[i]) / Math.abs(ref[i])));
      rows.push({
        impl,
        T,
        ms: median(samples.get(impl.id)),
        best: Math.min(...samples.get(impl.id)),
        cpu: median(cpuSamples.get(impl.id)),
        counted,
        drift,
        first: mine[0],
        last: mine.at(-1),
      });
      await runner.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const child of children) child.close();

function checkLayout(impl, initial, T) {
  const names = Object.keys(initial).sort();
  const mine = layout.map(([n]) => n).sort();
  const same = names.length === mine.length && names.every((n, i) => n === mine[i]);
  const count = Object.values(initial).reduce((s, v) => s + v.length, 0);
  if (!same || count !== layoutCount) {
    throw new Error(
      `${impl.id} at T = ${T}: mru's parameters (${count}: ${names.join(', ')}) are not the peers' layout (${layoutCount})`,
    );
  }
}

/** What torch_step.py reads: the layout, mru's initial parameters and the batches, as float32. */
function writePeerFiles(dir, T, batches, initial) {
  const meta = { T, batch: BATCH, batches: batches.length, layout };
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  const flat = new Float32Array(layoutCount);
  let o = 0;
  for (const [name] of layout) {
    flat.set(initial[name], o);
    o += initial[name].length;
  }
  writeFileSync(path.join(dir, 'params.bin'), flat);
  const data = new Float32Array(batches.length * BATCH * (T + 1));
  for (const [k, b] of batches.entries()) {
    data.set(b.inputs, k * BATCH * T);
    data.set(b.targets, batches.length * BATCH * T + k * BATCH);
  }
  writeFileSync(path.join(dir, 'batches.bin'), data);
}

/** ‖g - ref‖ / ‖ref‖ over all parameters together. */
function gradError(ref, other) {
  let num = 0;
  let den = 0;
  for (const [name, g] of Object.entries(ref)) {
    const h = other[name];
    if (!h || h.length !== g.length) return Number.POSITIVE_INFINITY;
    for (let i = 0; i < g.length; i++) {
      num += (g[i] - h[i]) ** 2;
      den += g[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}

// ---------------------------------------------------------------------------------------------------
// The table.

const header = [
  'implementation',
  'T',
  'ms / step',
  'best',
  'mru / this',
  'CPU ms',
  'mru / this, CPU',
  'calls / step',
  'peak memory',
  'bound',
  'peak / bound',
];
const table = rows.map((row) => {
  const mru = rows.find((r) => r.T === row.T && r.impl.id === 'mru-cpu');
  const c = row.counted;
  return [
    row.impl.label,
    String(row.T),
    row.ms.toFixed(0),
    row.best.toFixed(0),
    row.impl.id === 'mru-cpu' ? '1' : `${(mru.ms / row.ms).toFixed(2)}x`,
    row.cpu.toFixed(0),
    row.impl.id === 'mru-cpu' ? '1' : `${(mru.cpu / row.cpu).toFixed(2)}x`,
    c ? String(c.calls) : 'n/a',
    c?.peak ? mib(c.peak) : 'n/a',
    c?.bound ? mib(c.bound) : 'n/a',
    c?.peak ? `${(c.peak / c.bound).toFixed(2)}x` : 'n/a',
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) =>
  `| ${cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
const out = [
  line(header),
  `| ${widths.map((w, i) => (i < 1 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`,
];
for (const r of table) out.push(line(r));
process.stdout.write(
  `\nOne training step, batch ${BATCH}, ${layoutCount} parameters; median of ${ROUNDS} interleaved rounds ` +
    `on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}.\n` +
    `"mru / this" is mru-on-CPU's median over this row's: above 1, this row is faster than mru. "best" is the ` +
    `fastest round, a hint of the uncontended speed on a busy machine. "CPU ms" is the median CPU time of the ` +
    `step's process (all its threads), which other users of a shared machine inflate less than the wall time.\n\n${out.join('\n')}\n\n`,
);
process.stdout.write('Rows:\n');
for (const impl of impls) process.stdout.write(`  ${impl.label}: ${impl.note}\n`);
process.stdout.write('Calls per step (largest kinds) and what the forward keeps for backward:\n');
for (const row of rows) {
  const c = row.counted;
  if (!c) continue;
  const kinds = c.top.map(([k, n]) => `${n} ${k}`).join(', ');
  const act =
    c.activations !== undefined
      ? `; forward keeps ${mib(c.activations)}`
      : c.saved !== undefined
        ? `; autograd saves ${mib(c.saved)} for backward`
        : '';
  const views = c.views !== undefined ? ` (and ${c.views} views, not counted)` : '';
  process.stdout.write(`  ${row.impl.id}, T = ${row.T}: ${kinds}${views}${act}\n`);
}
process.stdout.write('Same function (loss trajectories against mru-cpu over the warm-up and timed steps):\n');
for (const row of rows) {
  if (row.impl.id === 'mru-cpu') continue;
  process.stdout.write(
    `  ${row.impl.id}, T = ${row.T}: largest relative loss difference ${row.drift.toExponential(1)}\n`,
  );
}
for (const s of skipped) process.stdout.write(`Skipped: ${s}\n`);
if (failed) {
  process.stdout.write(
    'A peer does not compute mru\'s function (see "check" above): its times mean nothing.\n',
  );
  process.exitCode = 1;
}
