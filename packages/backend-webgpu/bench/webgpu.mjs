/**
 * WebGPU benchmark (not a test): from one run, on one machine,
 *   - the scan `h_t = a_t h_{t-1} + x_t` for T in {1e3, 1e4, 1e5}: the chunked parallel kernel
 *     against the sequential kernel (one invocation per lane over all of time) on the same adapter,
 *     and against the CPU backend, for a few lanes (where the parallel plan exists to help) and many;
 *   - matmul throughput (GFLOP/s) for square sizes on WebGPU and on the CPU backend.
 *
 * Method. Both backends get the same float32 inputs, written once, and are driven through the
 * Backend kernel interface (`scan`, `matmul`), so core's op layer adds nothing to either side. A
 * sample repeats the operation enough times to last at least MIN_SAMPLE_MS and ends with
 * `await backend.sync()` on WebGPU (every result freed at once, so memory stays flat; the buffer pool
 * recycles it and the queue runs in order); the CPU backend computes synchronously. Figures are per
 * operation, the median of SAMPLES samples after WARMUP untimed calls. Many calls per sample means
 * these are throughputs with dispatch overhead amortised, not single-call latencies. Before timing,
 * each scan's results on the three paths are read back and compared, so a fast wrong kernel shows.
 *
 * Software adapters (Mesa lavapipe/llvmpipe, SwiftShader) run WGSL on the CPU cores, sharing them
 * with the CPU backend: on such an adapter the figures compare two CPU implementations and say
 * nothing about GPU speed. The report says so when it sees one.
 *
 * Run: `pnpm bench:webgpu` (builds first), or after a build `node packages/backend-webgpu/bench/webgpu.mjs`.
 * Dawn flags go in MRU_WEBGPU_FLAGS (comma-separated), as for the tests.
 */
import os from 'node:os';
import { cpuBackend } from '@mru/backend-cpu';
import { webgpuBackend } from '../dist/index.js';
import { nodeGpu } from '../dist/node.js';

const LENGTHS = [1e3, 1e4, 1e5];
/** Lanes per scan (batch 1): few, which cannot fill a device, and many, which can. */
// One lane is where parallelism over time is all there is (the sequential kernel runs one thread).
const CHANNELS = [1, 4, 64];
const MATMUL_SIZES = [128, 256, 512, 1024];
const SAMPLES = 5;
const WARMUP = 2;
const MIN_SAMPLE_MS = 40;

/** True for adapters that emulate a GPU on the CPU. */
function isSoftware(info) {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|software/i.test(text);
}

/** `n` float32 values in [lo, hi) from a fixed LCG: the same inputs on every backend and run. */
function values(n, lo, hi, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

/**
 * Milliseconds per call of `call` (which returns a DataId to free), median over SAMPLES samples.
 * `settle` waits for the backend's queued work (WebGPU) and is inside every timed sample.
 */
async function timeIt(be, call, settle) {
  const runs = async (reps) => {
    const t0 = performance.now();
    const ids = [];
    for (let i = 0; i < reps; i++) ids.push(call());
    await settle();
    const ms = performance.now() - t0;
    for (const id of ids) be.free(id);
    return ms;
  };
  for (let i = 0; i < WARMUP; i++) await runs(1);
  let reps = 1;
  for (;;) {
    const ms = await runs(reps);
    if (ms >= MIN_SAMPLE_MS || reps >= 4096) break;
    reps = Math.min(4096, Math.max(reps * 2, Math.ceil((reps * MIN_SAMPLE_MS * 1.2) / Math.max(ms, 1e-3))));
  }
  const times = [];
  for (let i = 0; i < SAMPLES; i++) times.push((await runs(reps)) / reps);
  times.sort((p, q) => p - q);
  return times[SAMPLES >> 1];
}

/** Largest |x - y| / (1 + |y|) between two result arrays. */
function maxDiff(x, y) {
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return worst;
}

const fmt = (v, w, d = 2) => v.toFixed(d).padStart(w);
const rate = (count, ms) => count / ms / 1e3; // per millisecond -> millions per second

const flags = process.env.MRU_WEBGPU_FLAGS?.split(',').filter(Boolean) ?? [];
const gpu = await nodeGpu({ flags });
const parallel = await webgpuBackend({ gpu, scan: { mode: 'parallel' } });
const sequential = await webgpuBackend({ gpu, scan: { mode: 'sequential' } });
const cpu = cpuBackend();
const info = parallel.adapterInfo;
const software = isSoftware(info);
const settleGpu = (be) => () => be.sync();
const settleCpu = async () => {};

console.log(
  `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical cores, Node ${process.version}`,
);
console.log(
  `adapter: vendor '${info.vendor}', architecture '${info.architecture}', device '${info.device}', ` +
    `description '${info.description}'`,
);
if (software) {
  console.log('');
  console.log('  NOTE: this adapter is a SOFTWARE renderer (a CPU in disguise). Its "GPU" kernels run on');
  console.log('  the same CPU cores as the CPU backend, so the figures below compare two CPU');
  console.log('  implementations and say NOTHING about GPU speed. Run on a real GPU for GPU figures.');
}
console.log('');
console.log(
  `per-call times: median of ${SAMPLES} samples after ${WARMUP} warm-up calls; each sample repeats the call`,
);
console.log(`for >= ${MIN_SAMPLE_MS} ms and waits for the device (sync) before the clock stops.`);

// ---- scan -------------------------------------------------------------------------------------
console.log('');
console.log('scan h_t = a_t h_{t-1} + x_t, float32 [1, T, C], a in [0.99, 1), x in [-1, 1)');
console.log(
  '  Melem/s = B*T*C / time; speed-up = sequential / parallel; vs CPU = CPU / GPU parallel (>1: GPU faster);',
);
console.log(
  '  max diff = largest |GPU - CPU| / (1 + |CPU|) over both GPU kernels (float32 rounding is ~1e-5 here)',
);
console.log(
  '   C        T |  GPU par ms  Melem/s |  GPU seq ms  Melem/s |     CPU ms  Melem/s | speed-up   vs CPU | max diff',
);
for (const C of CHANNELS) {
  for (const T of LENGTHS) {
    const n = T * C;
    const a = values(n, 0.99, 1, 1 + T + C);
    const x = values(n, -1, 1, 2 + T + C);
    const shape = [1, T, C];
    const put = (be) => ({
      a: { id: be.write(a, 'float32'), shape, dtype: 'float32' },
      x: { id: be.write(x, 'float32'), shape, dtype: 'float32' },
      h0: null,
      reverse: false,
    });
    const args = [put(parallel), put(sequential), put(cpu)];
    const results = [];
    for (const [be, arg] of [parallel, sequential, cpu].map((be, i) => [be, args[i]])) {
      const id = be.scan(arg);
      results.push(await be.read({ id, shape, dtype: 'float32' }));
      be.free(id);
    }
    const diff = Math.max(maxDiff(results[0], results[2]), maxDiff(results[1], results[2]));
    const par = await timeIt(parallel, () => parallel.scan(args[0]), settleGpu(parallel));
    const seq = await timeIt(sequential, () => sequential.scan(args[1]), settleGpu(sequential));
    const ref = await timeIt(cpu, () => cpu.scan(args[2]), settleCpu);
    [parallel, sequential, cpu].forEach((be, i) => {
      be.free(args[i].a.id);
      be.free(args[i].x.id);
    });
    console.log(
      `${String(C).padStart(4)} ${String(T).padStart(8)} | ${fmt(par, 10, 3)} ${fmt(rate(n, par), 8, 1)} | ` +
        `${fmt(seq, 10, 3)} ${fmt(rate(n, seq), 8, 1)} | ${fmt(ref, 10, 3)} ${fmt(rate(n, ref), 8, 1)} | ` +
        `${fmt(seq / par, 7)}x ${fmt(ref / par, 7)}x | ${diff.toExponential(1)}`,
    );
  }
}

// ---- matmul -----------------------------------------------------------------------------------
console.log('');
console.log(
  'matmul [n, n] @ [n, n], float32; GFLOP/s = 2 n^3 / time; GPU/CPU = throughput ratio (>1: GPU faster);',
);
console.log('  max diff = largest |GPU - CPU| / (1 + |CPU|)');
console.log('     n |    GPU ms  GFLOP/s |    CPU ms  GFLOP/s |  GPU/CPU | max diff');
for (const size of MATMUL_SIZES) {
  const shape = [1, size, size];
  const spec = {
    batch: 1,
    m: size,
    k: size,
    n: size,
    aBatchStride: 0,
    bBatchStride: 0,
    transposeA: false,
    transposeB: false,
  };
  const lhs = values(size * size, -1, 1, 3 + size);
  const rhs = values(size * size, -1, 1, 4 + size);
  const put = (be) => [
    { id: be.write(lhs, 'float32'), shape, dtype: 'float32' },
    { id: be.write(rhs, 'float32'), shape, dtype: 'float32' },
  ];
  const [ga, gb] = put(parallel);
  const [ca, cb] = put(cpu);
  const gId = parallel.matmul(ga, gb, spec);
  const cId = cpu.matmul(ca, cb, spec);
  const diff = maxDiff(
    await parallel.read({ id: gId, shape, dtype: 'float32' }),
    await cpu.read({ id: cId, shape, dtype: 'float32' }),
  );
  parallel.free(gId);
  cpu.free(cId);
  const g = await timeIt(parallel, () => parallel.matmul(ga, gb, spec), settleGpu(parallel));
  const c = await timeIt(cpu, () => cpu.matmul(ca, cb, spec), settleCpu);
  for (const id of [ga.id, gb.id]) parallel.free(id);
  for (const id of [ca.id, cb.id]) cpu.free(id);
  const flop = 2 * size ** 3;
  console.log(
    `${String(size).padStart(6)} | ${fmt(g, 9, 3)} ${fmt(flop / g / 1e6, 8)} | ${fmt(c, 9, 3)} ` +
      `${fmt(flop / c / 1e6, 8)} | ${fmt(c / g, 7)}x | ${diff.toExponential(1)}`,
  );
}

if (software) {
  console.log('');
  console.log(`(again: '${info.description || info.architecture || info.vendor}' is a software adapter;`);
  console.log(' these ratios measure one CPU implementation against another, not a GPU.)');
}
parallel.dispose();
sequential.dispose();
cpu.dispose();
