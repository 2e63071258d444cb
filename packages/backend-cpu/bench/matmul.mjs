// Benchmark (not a test) of the CPU backend's float32 matmul at the shapes of one training step of
// the default network (2 BMRU layers, dModel 16, dState 64, batch 64, so 64 * T rows), plus square
// products. Each product runs through `CpuBackend.matmul` (the call core makes, with its MatmulSpec:
// forward `x @ W`, backward `g @ W^T` (transposeB) and the weight gradient `x^T @ g` (transposeA,
// k = 64 T)), once on the plain-JS kernel and once on the WebAssembly SIMD kernel, interleaved
// sample by sample so that both see the same machine load; speed-up = JS time / Wasm time.
// GFLOP/s counts 2 m k n per product. The time is everything the call does (allocating the result;
// for Wasm also copying operands in and the result out), so it is what a training step pays.
// Each figure is the median of SAMPLES timed samples after a warm-up; a sample repeats the call
// until it lasts at least MIN_SAMPLE_MS. Two clocks: wall time, and the process's CPU time (user +
// system, so page faults count): on a shared, oversubscribed machine the wall clock mostly measures
// the wait for a core, and CPU time is the steadier estimate of the code's own cost.
// "copy ms" times plain memcpys of the bytes the Wasm path copies (A and B in, C out) into
// preallocated arrays: the copy cost, apart from allocation.
// Run: `pnpm bench:matmul` (builds first) or, after a build,
// `node packages/backend-cpu/bench/matmul.mjs [T ...]` (default T = 200 1000).
import os from 'node:os';
import { cpuBackend, matmulPaths, setMatmulPath } from '@mru/backend-cpu';

const SAMPLES = 7;
const WARMUP = 2;
const MIN_SAMPLE_MS = 30;
const BATCH = 64;
const D_MODEL = 16;
const D_STATE = 64;
const LENGTHS = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [200, 1000];

const be = cpuBackend();

/** Seeded values in [-1, 1) (a small LCG: the numbers only need to be non-trivial). */
function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Calls per sample so that one sample of `fn` lasts at least MIN_SAMPLE_MS. */
function calibrate(fn) {
  for (let i = 0; i < WARMUP; i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= MIN_SAMPLE_MS) return reps;
    reps = Math.min(reps * 2, Math.ceil((reps * MIN_SAMPLE_MS) / Math.max(ms, 1e-3)) + 1);
  }
}

/** CPU time of this process so far, in ms (user + system). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/**
 * Median wall and CPU ms per call of each function, sampled in turn so that machine load hits all
 * alike.
 */
function timeInterleaved(fns) {
  const reps = fns.map(calibrate);
  const wall = fns.map(() => []);
  const cpu = fns.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    fns.forEach((fn, f) => {
      const t0 = performance.now();
      const c0 = cpuMs();
      for (let i = 0; i < reps[f]; i++) fn();
      cpu[f].push((cpuMs() - c0) / reps[f]);
      wall[f].push((performance.now() - t0) / reps[f]);
    });
  }
  const median = (t) => t.sort((p, q) => p - q)[Math.floor(SAMPLES / 2)];
  return fns.map((_, f) => ({ wall: median(wall[f]), cpu: median(cpu[f]) }));
}

/** One benchmark case: `[m, k] @ [k, n]` with the operands stored as the transpose flags say. */
function product(label, m, k, n, transposeA, transposeB) {
  const a = values(m * k, m + 3 * k);
  const b = values(k * n, n + 7 * k);
  const ta = { id: be.write(a, 'float32'), shape: transposeA ? [k, m] : [m, k], dtype: 'float32' };
  const tb = { id: be.write(b, 'float32'), shape: transposeB ? [n, k] : [k, n], dtype: 'float32' };
  const spec = { batch: 1, m, k, n, aBatchStride: 0, bBatchStride: 0, transposeA, transposeB };
  // What the Wasm path copies, as plain memcpys into preallocated arrays: A and B in, C out.
  const dst = [new Float32Array(a.length), new Float32Array(b.length), new Float32Array(m * n)];
  const c = new Float32Array(m * n);
  const copy = () => {
    dst[0].set(a);
    dst[1].set(b);
    dst[2].set(c);
  };
  return { label, m, k, n, ta, tb, spec, copy };
}

const cases = [];
for (const T of LENGTHS) {
  const rows = BATCH * T;
  cases.push(
    // Forward x @ W for the three weight shapes of the network's layers.
    product(`fwd     T=${T}`, rows, D_MODEL, D_STATE, false, false),
    product(`fwd     T=${T}`, rows, D_STATE, D_MODEL, false, false),
    product(`fwd     T=${T}`, rows, D_MODEL, D_MODEL, false, false),
    // Their input gradients g @ W^T.
    product(`bwd dx  T=${T}`, rows, D_STATE, D_MODEL, false, true),
    product(`bwd dx  T=${T}`, rows, D_MODEL, D_STATE, false, true),
    product(`bwd dx  T=${T}`, rows, D_MODEL, D_MODEL, false, true),
    // Their weight gradients x^T @ g, summed over all 64 T rows.
    product(`bwd dW  T=${T}`, D_MODEL, rows, D_STATE, true, false),
    product(`bwd dW  T=${T}`, D_STATE, rows, D_MODEL, true, false),
    product(`bwd dW  T=${T}`, D_MODEL, rows, D_MODEL, true, false),
  );
}
cases.push(product('square 256', 256, 256, 256, false, false));
cases.push(product('square 512', 512, 512, 512, false, false));

const paths = matmulPaths();
console.log('mru CPU matmul benchmark');
console.log(`cpu:   ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical cores visible)`);
console.log(`node:  ${process.version} (${process.platform} ${process.arch})`);
console.log(
  `load:  ${os.loadavg()[0].toFixed(1)} (1-minute load average at the start; other jobs skew medians)`,
);
console.log(`paths: ${paths.join(', ')} (wasm = WebAssembly SIMD, float64 accumulation in k order)`);
console.log(
  `time:  median of ${SAMPLES} interleaved samples (wall clock and CPU time) of >= ${MIN_SAMPLE_MS} ms after ${WARMUP} warm-up calls\n`,
);

const header = [
  'case'.padEnd(14),
  'm'.padStart(6),
  'k'.padStart(6),
  'n'.padStart(5),
  'tA'.padStart(3),
  'tB'.padStart(3),
  ...paths.flatMap((p) => [`${p} ms`.padStart(9), `${p} GF/s`.padStart(10), 'cpu'.padStart(6)]),
  ...(paths.length > 1 ? ['speed-up'.padStart(9), 'cpu'.padStart(6)] : []),
  'copy ms'.padStart(8),
];
console.log(header.join(' '));
console.log('-'.repeat(header.join(' ').length));
// ms and GF/s by the wall clock; "cpu" columns by CPU time (GF/s, and the speed-up).

for (const c of cases) {
  const fns = paths.map((p) => () => {
    setMatmulPath(p);
    be.free(be.matmul(c.ta, c.tb, c.spec));
  });
  const gflops = (ms) => (2 * c.m * c.k * c.n) / (ms / 1e3) / 1e9;
  const [copyMs, ...ms] = timeInterleaved([c.copy, ...fns]);
  const row = [
    c.label.padEnd(14),
    String(c.m).padStart(6),
    String(c.k).padStart(6),
    String(c.n).padStart(5),
    (c.spec.transposeA ? 'T' : '-').padStart(3),
    (c.spec.transposeB ? 'T' : '-').padStart(3),
    ...ms.flatMap((t) => [
      t.wall.toFixed(3).padStart(9),
      gflops(t.wall).toFixed(2).padStart(10),
      gflops(t.cpu).toFixed(1).padStart(6),
    ]),
    ...(paths.length > 1
      ? [
          `${(ms[0].wall / ms[1].wall).toFixed(2)}x`.padStart(9),
          `${(ms[0].cpu / ms[1].cpu).toFixed(1)}x`.padStart(6),
        ]
      : []),
    copyMs.wall.toFixed(3).padStart(8),
  ];
  console.log(row.join(' '));
}
setMatmulPath('auto');
be.dispose();
