/**
 * Tests of the `mru` command, run in-process through `main(argv, io)` with captured streams:
 * argument validation (errors list what is valid, exit code 2), a tiny training run and the run
 * directory it writes, exact resume, and a corrupt checkpoint that must leave the run intact.
 * Sizes are tiny (T = 8, widths 4) so the whole file runs in seconds.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { svgToPng } from '../src/chart.js';
import { decodePng } from './png-decode.js';
import { run } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'mru-cli-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

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
  '2',
  '--mlp',
  '1',
  '--batch',
  '8',
  '--eval-batches',
  '1',
  '--log-every',
  '2',
  '--eval-every',
  '3',
  '--quiet',
];

/** What a checkpoint says about itself: metadata and the rebuilt network (its tensors freed at once). */
async function checkpointInfo(path: string) {
  const { loadNetworkCheckpoint } = await import('@mru/models/node');
  const { dispose } = await import('@mru/core');
  const ck = await loadNetworkCheckpoint(path);
  dispose([ck.params, ck.optimizer?.tensors ?? {}]);
  return { metadata: ck.metadata, network: ck.network };
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[name] = readFileSync(join(dir, name)).toString('base64');
  return out;
}

function evalLines(dir: string): unknown[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ elapsed: _elapsed, ...rest }) => rest);
}

describe('argument validation', () => {
  it('lists the valid tasks for an unknown task', async () => {
    const r = await run(['train', '--task', 'copy-last-input']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown task 'copy-last-input'");
    for (const t of ['copy-first-input', 'flip-flop', 'sequential-mnist', 'denoising'])
      expect(r.err).toContain(t);
  });

  it('lists the valid models for an unknown model', async () => {
    const r = await run(['train', '--model', 'transformer']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown model 'transformer'");
    for (const m of ['bmru', 'cmru', 'fq-bmru', 'lru', 'mingru', 'gru', 'hybrid']) expect(r.err).toContain(m);
  });

  it('lists the valid options for an unknown option', async () => {
    const r = await run(['train', '--learning-rate', '0.1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("'--learning-rate'");
    for (const o of ['--task', '--model', '--d-model', '--resume', '--eval-every'])
      expect(r.err).toContain(o);
  });

  it('lists the valid commands, backends and experiments', async () => {
    const cmd = await run(['fly']);
    expect(cmd.code).toBe(2);
    expect(cmd.err).toMatch(/train.*eval.*bench.*experiment/);
    const be = await run(['train', '--backend', 'tpu']);
    expect(be.code).toBe(2);
    expect(be.err).toContain('cpu, webgpu');
    const ex = await run(['experiment', 'everything']);
    expect(ex.code).toBe(2);
    expect(ex.err).toContain('quick, persistent-memory, horizon, smnist');
  });

  it('rejects bad values with the valid range', async () => {
    const steps = await run(['train', '--steps', 'many']);
    expect(steps.code).toBe(2);
    expect(steps.err).toContain('--steps must be an integer >= 1');
    const lr = await run(['train', '--lr', '0']);
    expect(lr.code).toBe(2);
    expect(lr.err).toContain('--lr must be a number > 0');
    const opt = await run(['train', '--task-opt', 'colour=blue']);
    expect(opt.code).toBe(2);
    expect(opt.err).toContain('valid options: length, seed');
    const missing = await run(['train', '--steps']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--steps');
  });

  it('prints help for mru and for every command', async () => {
    for (const argv of [
      ['--help'],
      ['help'],
      ['train', '--help'],
      ['eval', '--help'],
      ['bench', '--help'],
      ['experiment', '--help'],
      ['help', 'train'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.out, argv.join(' ')).toMatch(/Usage:/);
    }
    expect((await run(['train', '--help'])).out).toContain('--seq-len T');
    expect((await run(['experiment', '--help'])).out).toContain('horizon');
  });
});

describe('mru train', () => {
  const dir = join(root, 'tiny');

  it('writes a valid run directory', async () => {
    const r = await run(['train', ...TINY, '--steps', '6', '--out', dir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('steps: 6');

    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config.task).toBe('copy-first-input');
    expect(config.taskOptions).toEqual({ length: 8, seed: 0 });
    expect(config.network.cell).toEqual({ type: 'bmru', dState: 4 });
    expect(config.steps).toBe(6);
    expect(config.lr).toBe(1e-3);
    expect(config.beta2).toBe(0.99);

    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const train = lines.filter((l) => l.type === 'train');
    const evals = lines.filter((l) => l.type === 'eval');
    expect(train.map((l) => l.step)).toEqual([2, 4, 6]);
    // Validation at every evaluation; the test split once, at the end of the schedule.
    expect(evals.map((l) => `${l.split}@${l.step}`)).toEqual(['validation@3', 'validation@6', 'test@6']);
    expect(evals[2].loss).not.toBe(evals[1].loss);
    expect(r.out).toMatch(/test.*mse/);
    for (const l of lines) expect(Number.isFinite(l.loss)).toBe(true);
    // Constant memory: the same number of live tensors after every logged step.
    expect(new Set(train.map((l) => l.liveTensors)).size).toBe(1);
    expect(train[0].liveTensors).toBeGreaterThan(0);
    expect(evals[1].count).toBe(8);

    // copy-first-input is a regression task: its metric is its loss (MSE), so one chart, with chance.
    expect(existsSync(join(dir, 'metric.svg'))).toBe(false);
    expect(existsSync(join(dir, 'metric.png'))).toBe(false);
    const svg = readFileSync(join(dir, 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toMatch(/<path d="M[\d. ML]+"/);
    expect(svg).toMatch(/>chance \(best constant\) [\d.e-]+<\/text>/);
    const png = decodePng(readFileSync(join(dir, 'loss.png')));
    expect([png.width, png.height]).toEqual([720, 420]);
    // The PNG is the SVG, rasterised: the same pixels as rendering the SVG file now.
    expect(Buffer.from(png.pixels).equals(Buffer.from(decodePng(svgToPng(svg)!).pixels))).toBe(true);

    const { loadCheckpoint } = await import('@mru/models/node');
    for (const name of ['best', 'last']) {
      const ck = await loadCheckpoint(join(dir, `${name}.safetensors`));
      expect(ck.optimizer?.step).toBe(name === 'last' ? 6 : Number(ck.metadata.step));
      expect(JSON.parse(ck.metadata.train_config).steps).toBe(6);
      const { dispose } = await import('@mru/core');
      dispose([ck.params, ck.optimizer?.tensors ?? {}]);
    }
  });

  it('evaluates a checkpoint at another length', async () => {
    const r = await run([
      'eval',
      join(dir, 'last.safetensors'),
      '--seq-len',
      '32',
      '--batch',
      '4',
      '--eval-batches',
      '2',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('"length":32');
    expect(r.out).toMatch(/test \(8 items.*mse/);
  });

  it('resumes to exactly the parameters of an uninterrupted run', async () => {
    const full = join(root, 'full');
    const split = join(root, 'split');
    // Dropout and ε annealing on: both must replay from the step number alone.
    const args = [...TINY, '--dropout', '0.1', '--anneal', '--steps', '8', '--eval-every', '4'];
    expect((await run(['train', ...args, '--out', full])).code).toBe(0);
    const first = await run(['train', ...args, '--stop-at', '5', '--out', split]);
    expect(first.code).toBe(0);
    const config = JSON.parse(readFileSync(join(split, 'config.json'), 'utf8'));
    expect(config.steps).toBe(8);
    expect(config.epsilonSchedule).toEqual({
      totalSteps: 8,
      start: 1,
      end: 0,
      hold: 0.1,
      ramp: 0.5,
      target: 'epsilon',
    });
    // The checkpoint records the schedule and its position, and its network is the one trained at
    // the ε of its last step: hold 1 step, then 1 -> 0 over 4 steps, so step index 4 is at 0.25.
    const ck = await checkpointInfo(join(split, 'last.safetensors'));
    expect(JSON.parse(ck.metadata.annealing)).toEqual({
      schedule: config.epsilonSchedule,
      step: 5,
      context: { epsilon: 0.25 },
    });
    expect(ck.network.config.epsilon).toBe(0.25);
    const second = await run(['train', '--resume', join(split, 'last.safetensors'), '--quiet']);
    expect(second.err).toBe('');
    expect(second.code).toBe(0);
    expect(second.out).toContain('steps: 8');
    // Same parameters, optimizer moments and metadata: the checkpoint files are byte-identical.
    expect(
      readFileSync(join(split, 'last.safetensors')).equals(readFileSync(join(full, 'last.safetensors'))),
    ).toBe(true);
    expect(
      readFileSync(join(split, 'best.safetensors')).equals(readFileSync(join(full, 'best.safetensors'))),
    ).toBe(true);
    expect(evalLines(split)).toEqual(evalLines(full));
  });

  it('reports a corrupt checkpoint clearly and leaves the run directory intact', async () => {
    const path = join(dir, 'last.safetensors');
    const bytes = readFileSync(path);
    const corrupt = Buffer.from(bytes);
    corrupt.writeUInt32LE(0xfffffff0, 0); // header length far beyond the file
    writeFileSync(path, corrupt);
    const before = snapshot(dir);
    const r = await run(['train', '--resume', path, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot resume from ${path}`);
    expect(r.err).toContain('run directory was left as it was');
    expect(snapshot(dir)).toEqual(before);

    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    const before2 = snapshot(dir);
    const r2 = await run(['train', '--resume', truncated, '--quiet']);
    expect(r2.code).toBe(1);
    expect(r2.err).toContain('cannot resume');
    expect(snapshot(dir)).toEqual(before2);

    const none = await run(['train', '--resume', join(dir, 'missing.safetensors')]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('no such file');
    expect(existsSync(join(dir, 'missing.safetensors'))).toBe(false);
  });

  it('resumes an extended run without moving its ε schedule', async () => {
    const base = join(root, 'extend');
    const args = [...TINY, '--anneal', '--steps', '4', '--eval-every', '2'];
    expect((await run(['train', ...args, '--out', base])).code).toBe(0);
    const more = await run(['train', '--resume', join(base, 'last.safetensors'), '--steps', '6', '--quiet']);
    expect(more.err).toBe('');
    expect(more.code).toBe(0);
    const config = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
    expect(config.steps).toBe(6);
    // The schedule keeps the length it was made for: ε reached 0 at step 3 and stays there.
    expect(config.epsilonSchedule.totalSteps).toBe(4);
    const ck = await checkpointInfo(join(base, 'last.safetensors'));
    expect(JSON.parse(ck.metadata.annealing).context).toEqual({ epsilon: 0 });
  });

  it('takes a general annealing schedule, on ε or on the FQ-BMRU leak', async () => {
    const out = join(root, 'anneal-leak');
    const args = [...TINY, '--model', 'fq-bmru', '--steps', '4', '--anneal-hold', '0.05'];
    const r = await run([
      'train',
      ...args,
      '--anneal-ramp',
      '0.7',
      '--anneal-target',
      'leak',
      '--stop-at',
      '2',
      '--out',
      out,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.epsilonSchedule).toEqual({
      totalSteps: 4,
      start: 1,
      end: 0,
      hold: 0.05,
      ramp: 0.7,
      target: 'leak',
    });
    // round(0.05 * 4) = 0 steps held, round(0.7 * 4) = 3 steps of ramp: step index 1 is at 2/3.
    const { network } = await checkpointInfo(join(out, 'last.safetensors'));
    expect(network.config.leak).toBeCloseTo(2 / 3, 12);
    expect(network.config.epsilon).toBeUndefined();
    const bad = await run(['train', ...TINY, '--anneal-hold', '0.6', '--anneal-ramp', '0.6']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--anneal-hold 0.6 plus --anneal-ramp 0.6 exceed the whole run');
    const target = await run(['train', ...TINY, '--anneal-target', 'gamma']);
    expect(target.code).toBe(2);
    expect(target.err).toMatch(/anneal-target.*epsilon, leak, both/);
  });

  it('trains the sequential baselines: --model gru, brc and nbrc', async () => {
    for (const model of ['gru', 'brc', 'nbrc']) {
      const out = join(root, `seq-${model}`);
      const r = await run(['train', ...TINY, '--model', model, '--steps', '2', '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(config.model).toBe(model);
      expect(config.network.cell).toEqual({ type: model, dState: 4 });
      const { network } = await checkpointInfo(join(out, 'last.safetensors'));
      expect(network.cells().map((c) => c.type)).toEqual(new Array(config.network.nLayers).fill(model));
      expect(network.cells().every((c) => !c.parallelizable)).toBe(true);
    }
  });

  it('refuses to change the run shape when resuming', async () => {
    const r = await run(['train', '--resume', join(root, 'full', 'last.safetensors'), '--d-model', '8']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--d-model cannot be changed when resuming');
  });
});

describe('mru bench and mru experiment', () => {
  it('times the scan and a training step', async () => {
    const r = await run([
      'bench',
      '--seq-len',
      '16',
      '--batch',
      '2',
      '--d-state',
      '4',
      '--d-model',
      '4',
      '--repeats',
      '1',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\[2, 16, 4\]\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    expect(r.out).toMatch(/train step \(bmru, batch 2, T 16, \d+ parameters\): [\d.]+ ms/);
  });

  it('runs a preset and writes results.md and results.json', async () => {
    const out = join(root, 'experiment');
    const r = await run(['experiment', 'quick', '--steps', '2', '--jobs', '1', '--quiet', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model\s+T\s+params\s+test MSE/);
    expect(r.out).toMatch(/\nbmru\s+200\s+\d+/);
    expect(r.out).toMatch(/\nlru\s+200\s+\d+/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.runs.map((x: { name: string }) => x.name)).toEqual(['bmru-T200', 'lru-T200']);
    expect(results.runs.every((x: { steps: number }) => x.steps === 2)).toBe(true);
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain('| model | T | params | test MSE |');
    expect(existsSync(join(out, 'bmru-T200', 'last.safetensors'))).toBe(true);
    // Both runs' validation curves on one chart, linked from the report.
    expect(results.curves).toEqual(['curves-copy-first-input-T200.svg']);
    const curves = readFileSync(join(out, 'curves-copy-first-input-T200.svg'), 'utf8');
    expect(curves).toContain('>bmru</text>');
    expect(curves).toContain('>lru</text>');
    expect(existsSync(join(out, 'curves-copy-first-input-T200.png'))).toBe(true);
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain(
      '![curves-copy-first-input-T200](curves-copy-first-input-T200.svg)',
    );
  });

  it('--stop-at then --resume gives the results of an uninterrupted experiment', async () => {
    const base = ['experiment', 'quick', '--steps', '4', '--jobs', '1', '--quiet'];
    const whole = join(root, 'exp-whole');
    expect((await run([...base, '--out', whole])).code).toBe(0);
    const split = join(root, 'exp-split');
    const stopped = await run([...base, '--stop-at', '2', '--out', split]);
    expect(stopped.code).toBe(0);
    expect(stopped.err).toContain(
      `stopped every run at step 2; continue with: mru experiment quick --steps 4 --resume ${split}`,
    );
    expect(existsSync(join(split, 'results.json'))).toBe(false);
    const resumed = await run([...base, '--resume', split]);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    const scores = (dir: string) =>
      JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).runs.map(
        (r: { name: string; steps: number; test: unknown; best: unknown }) => [
          r.name,
          r.steps,
          r.test,
          r.best,
        ],
      );
    expect(scores(split)).toEqual(scores(whole));
    // Training time counts on across the sessions: the resumed lines' elapsed continue the stopped ones'.
    const elapsed = readFileSync(join(split, 'bmru-T200', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((r) => r.type === 'train')
      .map((r) => r.elapsed);
    expect(elapsed).toHaveLength(4);
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b));
    // A finished experiment is rescored, not retrained: the metrics files stay as they were.
    const metrics = readFileSync(join(split, 'lru-T200', 'metrics.jsonl'), 'utf8');
    expect((await run([...base, '--resume', split])).code).toBe(0);
    expect(readFileSync(join(split, 'lru-T200', 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(scores(split)).toEqual(scores(whole));
    // Other options than the runs were trained with are refused, naming them.
    const other = await run([...base, '--seed', '1', '--resume', split]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/cannot resume .*bmru-T200.*seed/);
    expect((await run([...base, '--resume', split, '--force'])).code).toBe(2);
    expect((await run([...base, '--resume', join(root, 'no-such-experiment')])).err).toContain(
      'no such experiment directory',
    );
  });
});
