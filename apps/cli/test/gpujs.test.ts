/**
 * `--backend gpujs`: a tiny BMRU training run and the bench on the gpu.js backend (gpu.js's CPU mode
 * in Node), in-process through `main`. The trained parameters must match a CPU run of the same
 * command to float32 rounding: both backends compute the same ops, so a gpu.js kernel bug shows as
 * a different checkpoint.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'mru-cli-gpujs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = ['--seq-len', '8', '--d-model', '4', '--d-state', '4'];
const TRAIN = [
  ...TINY,
  ...['--task', 'copy-first-input', '--layers', '1', '--mlp', '1', '--batch', '8'],
  ...['--eval-batches', '1', '--steps', '6'],
];

/** The float32 payload of a safetensors file, after its JSON header. */
function weights(file: string): Float32Array {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const body = bytes.subarray(8 + headerLength);
  return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
}

describe('mru --backend gpujs', () => {
  it('trains a BMRU to the parameters the CPU backend reaches', async () => {
    const gpujs = await run([
      'train',
      ...TRAIN,
      '--backend',
      'gpujs',
      '--quiet',
      '--out',
      join(root, 'gpujs'),
    ]);
    expect(gpujs.err).toBe('');
    expect(gpujs.code).toBe(0);
    expect(gpujs.out).toContain('steps: 6');
    const cpu = await run(['train', ...TRAIN, '--backend', 'cpu', '--quiet', '--out', join(root, 'cpu')]);
    expect(cpu.code).toBe(0);
    const w = weights(join(root, 'gpujs', 'last.safetensors'));
    const ref = weights(join(root, 'cpu', 'last.safetensors'));
    expect(w.length).toBe(ref.length);
    let worst = 0;
    for (let i = 0; i < ref.length; i++)
      worst = Math.max(worst, Math.abs(w[i] - ref[i]) / (1 + Math.abs(ref[i])));
    expect(worst).toBeLessThan(1e-5);
  });

  it('benchmarks the scan and a training step', async () => {
    const r = await run(['bench', ...TINY, '--batch', '2', '--repeats', '1', '--backend', 'gpujs']);
    expect(r.err).toContain('benchmarking on gpujs');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/train step \(bmru, batch 2, T 8, \d+ parameters\): [\d.]+ ms/);
  });
});
