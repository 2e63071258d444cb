/**
 * The `mru` command under hostile or careless input (issue "Hardening"): negative numbers reach the
 * range checks, sizes are bounded and checked against memory up front, run directories are never
 * silently overwritten, damaged or edited checkpoints give a message (never a stack trace), and
 * stale temporary files are cleaned on resume. In-process through `main`, with tiny sizes.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from '@mru/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'mru-cli-hardening-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A usage or file error: the expected exit code, a message, and never a stack trace. */
function expectClean(r: { code: number; err: string }, code: number, message: RegExp): void {
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/unexpected error|\n\s+at /);
  expect(r.code, r.err).toBe(code);
}

const TINY = [
  '--task',
  'copy-first-input',
  '--seq-len',
  '8',
  '--d-model',
  '4',
  '--d-state',
  '4',
  '--layers',
  '1',
  '--mlp',
  '0',
  '--batch',
  '4',
  '--eval-batches',
  '1',
  '--eval-every',
  '5',
  '--quiet',
];

/** Rewrites a checkpoint with changed metadata (and optionally changed tensors). */
function rewrite(
  from: string,
  to: string,
  edit: (meta: Record<string, string>, tensors: Record<string, HostTensor>) => void,
): void {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(from)));
  const meta = { ...metadata };
  const t = { ...tensors };
  edit(meta, t);
  writeFileSync(to, encodeSafetensors(t, meta));
}

let runDir = '';
let ckpt = '';
beforeAll(async () => {
  runDir = join(root, 'base');
  const r = await run(['train', ...TINY, '--steps', '10', '--out', runDir]);
  expect(r.code, r.err).toBe(0);
  ckpt = join(runDir, 'last.safetensors');
});

describe('mru: numbers and sizes', () => {
  it('negative numbers reach the range checks', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--steps', '-1'], /--steps must be an integer .*got '-1'/],
      [['train', '--seq-len', '-5'], /--seq-len must be an integer .*got '-5'/],
      [['train', '--lr', '-1'], /--lr must be a number > 0.*got '-1'/],
      [['train', '--seed', '-1'], /--seed must be an integer >= 0, got '-1'/],
      [['train', '--log-every', '-3'], /--log-every must be an integer .*got '-3'/],
      [['eval', 'x.safetensors', '--eval-batches', '-1'], /--eval-batches must be an integer .*got '-1'/],
      [['bench', '--batch', '-2'], /--batch must be an integer .*got '-2'/],
    ];
    for (const [argv, message] of cases) expectClean(await run(argv), 2, message);
  });

  it('an option followed by another option is a missing value', async () => {
    expectClean(await run(['train', '--task', '--steps', '3']), 2, /--task needs a value.*'--steps'/);
    expectClean(await run(['train', '--steps']), 2, /--steps needs a value/);
  });

  it('sizes are bounded and the memory of a step is checked up front', async () => {
    expectClean(
      await run(['train', '--batch', '1e9']),
      2,
      /--batch must be an integer in \[1, 65536\], got '1e9'/,
    );
    expectClean(await run(['train', '--d-model', '1e9']), 2, /--d-model must be an integer in \[1, 4096\]/);
    expectClean(await run(['train', '--d-state', '1e9']), 2, /--d-state must be an integer in \[1, 4096\]/);
    // Each size within its bound, their product far beyond any machine.
    const t0 = performance.now();
    const r = await run([
      'train',
      '--d-model',
      '4096',
      '--layers',
      '64',
      '--batch',
      '65536',
      '--seq-len',
      '100000',
      '--out',
      join(root, 'huge'),
    ]);
    expectClean(r, 2, /needs about [\d.]+ GiB.*reduce --batch/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(existsSync(join(root, 'huge'))).toBe(false);
    // bench too: each size bounded, and the scan tensors checked against memory.
    expectClean(await run(['bench', '--batch', '1e9']), 2, /--batch must be an integer in \[1, 65536\]/);
    expectClean(await run(['bench', '--d-model', '1e9']), 2, /--d-model must be an integer in \[1, 4096\]/);
    expectClean(
      await run(['bench', '--batch', '65536', '--d-state', '4096', '--seq-len', '1000000']),
      2,
      /scan benchmark .* needs about [\d.]+ GiB/,
    );
  });

  it('--task-opt __proto__ is rejected like any unknown option', async () => {
    for (const key of ['__proto__', 'constructor', 'bogus']) {
      expectClean(await run(['train', ...TINY, '--task-opt', `${key}=1`]), 2, new RegExp(key));
    }
  });
});

describe('mru: run directories', () => {
  it('an --out that cannot be created is a message, not a stack trace', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expectClean(
      await run(['train', ...TINY, '--steps', '1', '--out', join(file, 'sub')]),
      1,
      /cannot create the run directory/,
    );
    expectClean(await run(['train', ...TINY, '--steps', '1', '--out', file]), 2, /not a directory/);
  });

  it('an existing run is never silently overwritten', async () => {
    const before = readFileSync(join(runDir, 'config.json'), 'utf8');
    const r = await run(['train', ...TINY, '--steps', '2', '--out', runDir]);
    expectClean(r, 2, /already holds a run.*--resume .*last\.safetensors.*--force/);
    expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(before);
    const other = join(root, 'forced');
    expect((await run(['train', ...TINY, '--steps', '1', '--out', other])).code).toBe(0);
    expectClean(await run(['train', ...TINY, '--steps', '2', '--out', other]), 2, /--force/);
    const forced = await run(['train', ...TINY, '--steps', '2', '--out', other, '--force']);
    expect(forced.code, forced.err).toBe(0);
    expect(JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')).steps).toBe(2);
    // Experiments too, before any training.
    expectClean(
      await run(['experiment', 'quick', '--steps', '1', '--jobs', '1', '--quiet', '--out', other]),
      2,
      /already holds a run/,
    );
  });

  it('experiment --jobs 0 creates nothing', async () => {
    const out = join(root, 'jobs0');
    expectClean(
      await run(['experiment', 'quick', '--jobs', '0', '--out', out]),
      2,
      /--jobs must be an integer in \[1, 64\], got '0'/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('resuming with --steps at or below the checkpoint step is a usage error that writes nothing', async () => {
    const before = readFileSync(join(runDir, 'config.json'), 'utf8');
    for (const steps of ['5', '10']) {
      expectClean(
        await run(['train', '--resume', ckpt, '--steps', steps, '--quiet']),
        2,
        /at step 10.*nothing to train.*--steps N with N > 10/,
      );
    }
    // A finished run resumed without --steps: the same.
    expectClean(await run(['train', '--resume', ckpt, '--quiet']), 2, /nothing to train/);
    expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(before);
  });

  it('stale temporary files of killed writers are removed on resume', async () => {
    const dir = join(root, 'stale');
    expect((await run(['train', ...TINY, '--steps', '10', '--stop-at', '5', '--out', dir])).code).toBe(0);
    // The pid of a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const stale = `.last.safetensors.${dead}.k3x9q1.tmp`;
    const live = `.last.safetensors.${process.pid}.zz1.tmp`;
    writeFileSync(join(dir, stale), 'partial');
    writeFileSync(join(dir, live), 'in progress');
    const r = await run(['train', '--resume', join(dir, 'last.safetensors')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`removed 1 stale temporary file(s) from ${dir}: ${stale}`);
    expect(readdirSync(dir)).not.toContain(stale);
    expect(readdirSync(dir)).toContain(live);
  });
});

describe('mru: damaged and edited checkpoints', () => {
  it('a train_config that is null or not JSON is a message for resume and eval', async () => {
    for (const [raw, what] of [
      ['null', /'train_config' is null/],
      ['{not json', /'train_config' is not valid JSON/],
      ['[1]', /not a config object/],
      ['{"task":"copy-first-input"}', /'train_config\.model'/],
    ] as const) {
      const path = join(root, `edited-${readdirSync(root).length}.safetensors`);
      rewrite(ckpt, path, (meta) => {
        meta.train_config = raw;
      });
      expectClean(await run(['train', '--resume', path, '--steps', '20', '--quiet']), 1, what);
      expectClean(await run(['eval', path]), 1, what);
    }
  });

  it('absurd stored sizes are refused before anything is built', async () => {
    const edits: [string, (c: Record<string, unknown>) => void, RegExp][] = [
      ['evalBatchSize', (c) => (c.evalBatchSize = 1e9), /evalBatchSize/],
      ['length', (c) => ((c.taskOptions as Record<string, unknown>).length = 1e7), /length/],
      ['batch', (c) => (c.batch = 1e9), /'train_config\.batch'/],
    ];
    for (const [name, edit, message] of edits) {
      const path = join(root, `absurd-${name}.safetensors`);
      rewrite(ckpt, path, (meta) => {
        const c = JSON.parse(meta.train_config);
        edit(c);
        meta.train_config = JSON.stringify(c);
      });
      const t0 = performance.now();
      expectClean(await run(['eval', path]), 1, message);
      expectClean(await run(['train', '--resume', path, '--steps', '20', '--quiet']), 1, message);
      expect(performance.now() - t0).toBeLessThan(5_000);
    }
    // The network config is bounded by the stored tensors (in @mru/models).
    const path = join(root, 'absurd-layers.safetensors');
    rewrite(ckpt, path, (meta) => {
      meta.config = JSON.stringify({ ...JSON.parse(meta.config), nLayers: 1e7 });
    });
    const t0 = performance.now();
    expectClean(await run(['eval', path]), 1, /nLayers/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('eval refuses non-regular files and impossible header lengths without reading them', async () => {
    const t0 = performance.now();
    expectClean(await run(['eval', '/dev/zero']), 1, /not a regular file/);
    expectClean(await run(['eval', root]), 1, /not a regular file/);
    const big = join(root, 'big-header.safetensors');
    const head = Buffer.alloc(1 << 20);
    head.writeUInt32LE(0xffffffff, 0);
    head.writeUInt32LE(0xffff, 4);
    writeFileSync(big, head);
    expectClean(await run(['eval', big]), 1, /header length \d+ exceeds/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('a NaN weight is reported with the tensor name, not scored as "-"', async () => {
    const path = join(root, 'nan.safetensors');
    let name = '';
    rewrite(ckpt, path, (_meta, tensors) => {
      name = Object.keys(tensors).find((n) => !n.startsWith('@optimizer/')) as string;
      const data = Float32Array.from(tensors[name].data);
      data[0] = Number.NaN;
      tensors[name] = { ...tensors[name], data };
    });
    const r = await run(['eval', path]);
    expectClean(r, 1, /non-finite/);
    expect(r.err).toContain(`'${name}'`);
  });

  it('a checkpoint without optimizer state resumes with fresh moments and a warning', async () => {
    const dir = join(root, 'no-optimizer');
    mkdirSync(dir);
    const path = join(dir, 'last.safetensors');
    rewrite(ckpt, path, (meta, tensors) => {
      for (const n of Object.keys(tensors)) if (n.startsWith('@optimizer/')) delete tensors[n];
      delete meta.optimizer_step;
    });
    const r = await run(['train', '--resume', path, '--steps', '12', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/no optimizer state.*fresh AdamW moments.*not match/);
    expect(r.out).toContain('steps: 12');
  });
});
