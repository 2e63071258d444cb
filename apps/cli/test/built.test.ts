/**
 * The built `mru` command on its default path: the quick experiment with its runs in worker threads
 * (2 jobs, what a bare `mru` uses on a 2-core machine). The in-process tests run the TypeScript
 * sources, where workers are off, so only this test exercises `dist/bin.js` and `dist/experiments/worker.js` (through tinypool):
 * spawning, progress messages, results and exit code. Few steps, so it takes seconds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, onTestFinished } from 'vitest';
import { run } from './run-cli.js';

const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');
const dir = mkdtempSync(join(tmpdir(), 'mru-built-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('mru experiment quick with 2 jobs in worker threads (built)', { timeout: 600_000 }, () => {
  expect(existsSync(bin), `${bin} is missing: the test command builds before testing`).toBe(true);
  const out = join(dir, 'quick');
  const r = spawnSync(
    process.execPath,
    [bin, 'experiment', 'quick', '--jobs', '2', '--steps', '4', '--out', out],
    {
      encoding: 'utf8',
      cwd: dir,
    },
  );
  expect(r.stderr).not.toMatch(/compiled worker is not available|unexpected error/);
  expect(r.status, r.stderr).toBe(0);
  // Both runs reported progress through their workers, and the tables came out.
  expect(r.stderr).toMatch(/bmru-T200|\[1\/2\]/);
  expect(r.stderr).toMatch(/lru-T200|\[2\/2\]/);
  expect(r.stdout).toMatch(/\nbmru\s+200\s+\d+/);
  expect(r.stdout).toMatch(/\nlru\s+200\s+\d+/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  expect(results.runs.map((x: { name: string; steps: number }) => [x.name, x.steps])).toEqual([
    ['bmru-T200', 4],
    ['lru-T200', 4],
  ]);
  // Each run directory records the CLI's version, as its package.json states it.
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  for (const name of ['bmru-T200', 'lru-T200']) {
    expect(existsSync(join(out, name, 'last.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, name, 'config.json'), 'utf8')).mru).toBe(version);
  }

  // The default of a bare `mru` is this experiment: its help says so, from the built command too.
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  expect(help.stdout).toMatch(/mru\s+run the quick experiment \(same as 'mru experiment quick'\)/);
});

it('the version comes from package.json, built and in-process', async () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
  const built = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  expect(built.stdout).toBe(`${pkg.version}\n`);
  const inProcess = await run(['--version']);
  expect(inProcess.out).toBe(`${pkg.version}\n`);
  expect((await run(['--help'])).out.split('\n')[0]).toContain(`mru ${pkg.version}:`);
});

it('Ctrl-C stops both worker runs gracefully: checkpoints saved, exit code 130 (built)', {
  timeout: 300_000,
}, async () => {
  const out = join(dir, 'interrupted');
  const child = spawn(
    process.execPath,
    [bin, 'experiment', 'quick', '--jobs', '2', '--steps', '5000', '--out', out],
    { cwd: dir },
  );
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A failing assertion must not leave a 5000-step experiment running.
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Interrupt once both runs are training in their workers: each has written a metrics line.
  const training = (name: string) => {
    const path = join(out, name, 'metrics.jsonl');
    return existsSync(path) && readFileSync(path, 'utf8').includes('"type":"train"');
  };
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!(training('bmru-T200') && training('lru-T200'))) {
    expect(done, `exited before both runs trained:\n${stderr}`).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGINT');
  expect(await exited, stderr).toBe(130);
  expect(stderr).toContain('experiment interrupted');
  // Each run stopped between steps and saved where it was, short of the 5000 steps.
  for (const name of ['bmru-T200', 'lru-T200']) {
    expect(existsSync(join(out, name, 'last.safetensors')), name).toBe(true);
    const lines = readFileSync(join(out, name, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(lines[lines.length - 1]).step).toBeLessThan(5000);
  }
  expect(existsSync(join(out, 'results.json'))).toBe(false);
});
