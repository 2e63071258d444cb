/**
 * The measurements of `pnpm bench:gpujs`, shared by Node (bench/gpujs.mjs) and the Chromium page
 * (bench/page.js), so both sides time the same calls at the same sizes.
 *
 * Method. Every backend gets the same float32 inputs, written once, and is driven through the
 * Backend kernel interface (`scan`, `matmul`), so core's op layer adds nothing. A sample repeats the
 * call until it lasts MIN_SAMPLE_MS (the gpu.js backend is synchronous: every call has uploaded,
 * computed and read back its result when it returns, so a per-call time is a latency including
 * transfers); the figure is the median of SAMPLES samples after one untimed warm-up call, which also
 * compiles the kernel. Before timing, each result is compared with the first backend's (the CPU
 * backend), so a fast wrong kernel shows in the last column.
 *
 * Plain JavaScript without imports, so the page can load it as is.
 */

/** Scan shapes `[1, T, C]`: few lanes over long sequences (the chunked plan) and many lanes. */
export const SCANS = [
  { C: 4, T: 10_000 },
  { C: 4, T: 100_000 },
  { C: 64, T: 10_000 },
];
/** Square matmul sizes. */
export const MATMULS = [64, 128, 256];
const SAMPLES = 3;
const MIN_SAMPLE_MS = 50;

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

/** Milliseconds per call of `call` (which returns a DataId to free), median over SAMPLES samples. */
function timeIt(be, call) {
  be.free(call());
  const sample = (reps) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) be.free(call());
    return performance.now() - t0;
  };
  let reps = 1;
  for (;;) {
    const ms = sample(reps);
    if (ms >= MIN_SAMPLE_MS || reps >= 1024) break;
    reps = Math.min(1024, Math.max(reps * 2, Math.ceil((reps * MIN_SAMPLE_MS * 1.2) / Math.max(ms, 1e-3))));
  }
  const times = [];
  for (let i = 0; i < SAMPLES; i++) times.push(sample(reps) / reps);
  times.sort((p, q) => p - q);
  return times[SAMPLES >> 1];
}

/** Largest |x - y| / (1 + |y|). */
function maxDiff(x, y) {
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return worst;
}

/**
 * Times every scan and matmul on every backend of `backends` (`[{ label, backend }]`, the CPU
 * backend first: the reference of the ratios and of the differences). Resolves to rows
 * `{ kind, size, label, ms, rate, unit, vsFirst, diff }` where `rate` is Melem/s (scan) or GFLOP/s
 * (matmul) and `vsFirst` the first backend's time over this one's (>1: faster than the CPU backend).
 */
export async function runSuite(backends) {
  const rows = [];
  for (const { C, T } of SCANS) {
    const n = T * C;
    const a = values(n, 0.99, 1, 1 + T + C);
    const x = values(n, -1, 1, 2 + T + C);
    const shape = [1, T, C];
    let first = null;
    let firstMs = 0;
    for (const [i, { label, backend: be }] of backends.entries()) {
      const args = {
        a: { id: be.write(a, 'float32'), shape, dtype: 'float32' },
        x: { id: be.write(x, 'float32'), shape, dtype: 'float32' },
        h0: null,
        reverse: false,
      };
      const id = be.scan(args);
      const h = await be.read({ id, shape, dtype: 'float32' });
      be.free(id);
      first ??= h;
      const ms = timeIt(be, () => be.scan(args));
      if (i === 0) firstMs = ms;
      rows.push({
        kind: 'scan',
        size: `[1, ${T}, ${C}]`,
        label,
        ms,
        rate: n / ms / 1e3,
        unit: 'Melem/s',
        vsFirst: firstMs / ms,
        diff: maxDiff(h, first),
      });
      be.free(args.a.id);
      be.free(args.x.id);
    }
  }
  for (const size of MATMULS) {
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
    let first = null;
    let firstMs = 0;
    for (const [i, { label, backend: be }] of backends.entries()) {
      const p = { id: be.write(lhs, 'float32'), shape, dtype: 'float32' };
      const q = { id: be.write(rhs, 'float32'), shape, dtype: 'float32' };
      const id = be.matmul(p, q, spec);
      const c = await be.read({ id, shape, dtype: 'float32' });
      be.free(id);
      first ??= c;
      const ms = timeIt(be, () => be.matmul(p, q, spec));
      if (i === 0) firstMs = ms;
      rows.push({
        kind: 'matmul',
        size: `${size}x${size}`,
        label,
        ms,
        rate: (2 * size ** 3) / ms / 1e6,
        unit: 'GFLOP/s',
        vsFirst: firstMs / ms,
        diff: maxDiff(c, first),
      });
      be.free(p.id);
      be.free(q.id);
    }
  }
  return rows;
}

/** The rows as an aligned text table, one line per (op, size, backend). */
export function formatRows(rows) {
  const lines = [
    'op      size              backend                       ms/call        rate   vs CPU   max diff',
  ];
  for (const r of rows) {
    lines.push(
      `${r.kind.padEnd(7)} ${r.size.padEnd(17)} ${r.label.padEnd(28)} ${r.ms.toFixed(3).padStart(9)} ` +
        `${r.rate.toFixed(2).padStart(8)} ${r.unit.padEnd(7)} ${r.vsFirst.toFixed(2).padStart(6)}x ${r.diff.toExponential(1).padStart(9)}`,
    );
  }
  return lines.join('\n');
}
