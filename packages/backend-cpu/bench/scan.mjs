// Benchmark (not a test) of the CPU backend's scan: throughput of `scan(a, x)` for growing T beside
// two baselines measured in the same run on the same data:
//   copy: Float32Array.prototype.set of the x tensor's N floats into a preallocated array, the
//         machine's memory bandwidth for a plain stream (traffic 8 bytes per element: read + write);
//   alloc+copy: the same copy into a freshly allocated Float32Array, as a kernel that returns a new
//         buffer pays it (zero-fill and, for large arrays, page faults);
//   add:  the backend's own elementwise add(a, x), which moves exactly the scan's bytes (reads a and
//         x, writes and allocates h) without the recurrence.
// The scan moves 12 bytes per element (reads a and x, writes h, 4 bytes each). Ratios near 1 mean the
// scan runs at memory speed; the recurrence carries a dependency along T only, and channels are
// independent, so nothing but bandwidth and allocation should limit it.
// Each figure is the median of several timed samples after a warm-up; a sample repeats the operation
// until it lasts at least MIN_SAMPLE_MS. Run: `pnpm bench:scan` (builds first) or, after a build,
// `node packages/backend-cpu/bench/scan.mjs [channels]`.
import os from 'node:os';
import { cpuBackend } from '@mru/backend-cpu';
import { add, scan, setBackend, tensor } from '@mru/core';

const BATCH = 1;
const CHANNELS = Number(process.argv[2] ?? 64);
const LENGTHS = [1e3, 1e4, 1e5, 1e6];
const SAMPLES = 7;
const WARMUP = 2;
const MIN_SAMPLE_MS = 40;

await setBackend(cpuBackend());

/** Median of the per-call times (ms) of `fn` over SAMPLES samples, after WARMUP calls. */
function timeIt(fn) {
  for (let i = 0; i < WARMUP; i++) fn();
  // Calibrate how many calls make one sample last MIN_SAMPLE_MS.
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= MIN_SAMPLE_MS) break;
    reps = Math.min(reps * 2, Math.ceil((reps * MIN_SAMPLE_MS) / Math.max(ms, 1e-3)) + 1);
  }
  const times = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    times.push((performance.now() - t0) / reps);
  }
  times.sort((p, q) => p - q);
  return times[Math.floor(SAMPLES / 2)];
}

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

const fmt = (x, digits = 2) => x.toFixed(digits);
const giga = (x) => x / 1e9;

console.log('mru CPU scan benchmark');
console.log(`cpu:   ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical cores visible)`);
console.log(`node:  ${process.version} (${process.platform} ${process.arch})`);
console.log(`shape: [batch, T, channels] = [${BATCH}, T, ${CHANNELS}], float32, a and x both [B, T, C]`);
console.log(`bytes: scan and add 12 per element (read a, x; write h); copy 8 (read, write)`);
console.log(`time:  median of ${SAMPLES} samples of >= ${MIN_SAMPLE_MS} ms after ${WARMUP} warm-up calls\n`);

const header = [
  'T'.padStart(9),
  'elements'.padStart(11),
  'scan ms'.padStart(10),
  'scan Gelem/s'.padStart(13),
  'scan GB/s'.padStart(10),
  'copy GB/s'.padStart(10),
  'scan/copy'.padStart(10),
  'alloc+copy'.padStart(11),
  'scan/alloc+copy'.padStart(16),
  'add GB/s'.padStart(9),
  'scan/add'.padStart(9),
];
console.log(header.join(' '));
console.log('-'.repeat(header.join(' ').length));

for (const T of LENGTHS) {
  const n = BATCH * T * CHANNELS;
  const shape = [BATCH, T, CHANNELS];
  const hostA = values(n, 1);
  // Keep |a| <= 1 so the states stay finite (the time does not depend on the values otherwise).
  for (let i = 0; i < n; i++) hostA[i] = 0.5 + 0.49 * hostA[i];
  const hostX = values(n, 2);
  const a = tensor(hostA, { shape });
  const x = tensor(hostX, { shape });

  const scanMs = timeIt(() => scan(a, x).dispose());
  const addMs = timeIt(() => add(a, x).dispose());
  const dst = new Float32Array(n);
  const copyMs = timeIt(() => dst.set(hostX));
  let sink = 0;
  const allocCopyMs = timeIt(() => {
    const fresh = new Float32Array(n);
    fresh.set(hostX);
    sink += fresh[n - 1];
  });
  if (Number.isNaN(sink)) console.log('');

  const scanBps = (12 * n) / (scanMs / 1e3);
  const addBps = (12 * n) / (addMs / 1e3);
  const copyBps = (8 * n) / (copyMs / 1e3);
  const allocCopyBps = (8 * n) / (allocCopyMs / 1e3);
  console.log(
    [
      String(T).padStart(9),
      String(n).padStart(11),
      fmt(scanMs, 3).padStart(10),
      fmt(giga(n / (scanMs / 1e3)), 3).padStart(13),
      fmt(giga(scanBps)).padStart(10),
      fmt(giga(copyBps)).padStart(10),
      fmt(scanBps / copyBps).padStart(10),
      fmt(giga(allocCopyBps)).padStart(11),
      fmt(scanBps / allocCopyBps).padStart(16),
      fmt(giga(addBps)).padStart(9),
      fmt(scanBps / addBps).padStart(9),
    ].join(' '),
  );
  a.dispose();
  x.dispose();
}
console.log(
  "\nGB/s columns are bytes moved per second; each ratio is scan bytes/s over that baseline's bytes/s.",
);
