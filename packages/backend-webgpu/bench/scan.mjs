/**
 * Scan benchmark: the sequential GPU loop (one invocation per lane over all of time) against the
 * chunked parallel scan, on the same device in one run, for a few lane counts and lengths. Prints
 * milliseconds per scan (median of a few runs, after a warm-up) and the speed-up.
 *
 *   pnpm --filter @mru/backend-webgpu build && node packages/backend-webgpu/bench/scan.mjs [--quick]
 */
import { webgpuBackend } from '../dist/index.js';
import { nodeGpu } from '../dist/node.js';

const quick = process.argv.includes('--quick');
const cases = quick
  ? [
      [1, 1, 100_000],
      [1, 16, 100_000],
    ]
  : [
      [1, 1, 100_000],
      [1, 1, 1_000_000],
      [1, 16, 100_000],
      [4, 64, 100_000],
      [16, 256, 4_000],
    ];
const runs = quick ? 3 : 5;

const gpu = await nodeGpu();
const seq = await webgpuBackend({ gpu, scan: { mode: 'sequential' } });
const par = await webgpuBackend({ gpu, scan: { mode: 'auto' } });
console.log(`adapter: ${seq.adapterInfo.description || seq.adapterInfo.vendor || 'unknown'}`);
console.log('  B     C         T   sequential ms   parallel ms   speed-up');

async function time(be, B, C, T) {
  const n = B * T * C;
  const a = { id: be.fill(n, 'float32', 0.999), shape: [B, T, C], dtype: 'float32' };
  const x = { id: be.random('uniform', n, [1, 2], 0), shape: [B, T, C], dtype: 'float32' };
  const once = async () => {
    const t0 = performance.now();
    const h = be.scan({ a, x, h0: null, reverse: false });
    await be.sync();
    const ms = performance.now() - t0;
    be.free(h);
    return ms;
  };
  await once();
  const ms = [];
  for (let i = 0; i < runs; i++) ms.push(await once());
  be.free(a.id);
  be.free(x.id);
  ms.sort((p, q) => p - q);
  return ms[Math.floor(ms.length / 2)];
}

for (const [B, C, T] of cases) {
  const s = await time(seq, B, C, T);
  const p = await time(par, B, C, T);
  const row = [B, C, T].map((v, i) => String(v).padStart([3, 5, 9][i])).join(' ');
  console.log(
    `${row}   ${s.toFixed(2).padStart(13)}   ${p.toFixed(2).padStart(11)}   ${(s / p).toFixed(2).padStart(8)}x`,
  );
}
seq.dispose();
par.dispose();
