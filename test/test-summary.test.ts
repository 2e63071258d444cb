/**
 * scripts/test-summary.mjs, the line CI reports: it must count errors outside tests (a throwing
 * beforeAll, a file that fails to load) as failures, and turn red when a required suite is missing
 * or has fewer passing cases than its minimum. Run on small synthetic vitest JSON reports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'mru-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly suite: string;
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'skipped';
}

/** A vitest-like JSON report of files (paths from the repository root) and their cases. */
function report(filesIn: Record<string, { status: 'passed' | 'failed'; cases: Case[]; message?: string }>) {
  const all = Object.values(filesIn).flatMap((f) => f.cases);
  return {
    numPassedTests: all.filter((c) => c.status === 'passed').length,
    numFailedTests: all.filter((c) => c.status === 'failed').length,
    numPendingTests: all.filter((c) => c.status === 'skipped').length,
    numTodoTests: 0,
    success: Object.values(filesIn).every((f) => f.status === 'passed'),
    testResults: Object.entries(filesIn).map(([path, f]) => ({
      name: join(root, path),
      status: f.status,
      message: f.message ?? '',
      assertionResults: f.cases.map((c) => ({
        ancestorTitles: [c.suite],
        title: c.name,
        fullName: `${c.suite} ${c.name}`,
        status: c.status,
      })),
    })),
  };
}

let n = 0;
function summarise(rep: unknown, required: unknown = null): { code: number; out: string; err: string } {
  const file = join(dir, `report-${n++}.json`);
  writeFileSync(file, JSON.stringify(rep));
  const args = [join(root, 'scripts/test-summary.mjs'), file];
  if (required === null) args.push('--required', 'none');
  else {
    const req = join(dir, `required-${n}.json`);
    writeFileSync(req, JSON.stringify(required));
    args.push('--required', req);
  }
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr };
}

const pass = (suite: string, k: number): Case[] =>
  Array.from({ length: k }, (_, i) => ({ suite, name: `case ${i}`, status: 'passed' as const }));

describe('test-summary', () => {
  it('a clean run passes', () => {
    const r = summarise(report({ 'a/test/x.test.ts': { status: 'passed', cases: pass('s', 3) } }));
    expect(r.out).toBe('3 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it('a suite whose beforeAll throws counts as a failure', () => {
    // What vitest writes: the file failed, its tests skipped, none failed.
    const r = summarise(
      report({
        'a/test/hook.test.ts': {
          status: 'failed',
          cases: [
            ...pass('ok', 1),
            { suite: 'bad', name: 'a', status: 'skipped' },
            { suite: 'bad', name: 'b', status: 'skipped' },
          ],
        },
      }),
    );
    expect(r.out).toBe('1 passed, 1 failed, 2 skipped');
    expect(r.err).toContain('a/test/hook.test.ts');
    expect(r.code).toBe(1);
  });

  it('a file that fails to load counts, and failed tests count once each', () => {
    const r = summarise(
      report({
        'a/test/broken.test.ts': { status: 'failed', cases: [], message: 'SyntaxError: nope' },
        'a/test/y.test.ts': {
          status: 'failed',
          cases: [...pass('s', 2), { suite: 's', name: 'f', status: 'failed' }],
        },
      }),
    );
    expect(r.out).toBe('2 passed, 2 failed');
    expect(r.err).toContain('SyntaxError: nope');
    expect(r.code).toBe(1);
  });

  it('a required suite that is missing or too small turns the run red', () => {
    const required = {
      suites: [
        { name: 'kit', file: 'a/test/kit.test.ts', suite: '^conformance: cpu$', min: 3 },
        { name: 'models', file: 'a/test/', suite: '\\[cpu\\]$', min: 2 },
        { name: 'large', file: 'a/test/kit.test.ts', test: 'large', min: 1 },
      ],
    };
    const full = report({
      'a/test/kit.test.ts': {
        status: 'passed',
        cases: [
          ...pass('conformance: cpu', 2),
          { suite: 'conformance: cpu', name: 'large: T = 10^6', status: 'passed' },
        ],
      },
      'a/test/m.test.ts': { status: 'passed', cases: pass('cells [cpu]', 2) },
    });
    const ok = summarise(full, required);
    expect(ok.out).toBe('5 passed, 0 failed');
    expect(ok.code).toBe(0);

    // The large case skipped (not passed) and the models file gone: two required suites short.
    const short = report({
      'a/test/kit.test.ts': {
        status: 'passed',
        cases: [
          ...pass('conformance: cpu', 3),
          { suite: 'conformance: cpu', name: 'large: x', status: 'skipped' },
        ],
      },
    });
    const r = summarise(short, required);
    expect(r.out).toBe('3 passed, 2 failed, 1 skipped');
    expect(r.err).toMatch(/required suite 'models' has 0 passing cases, needs at least 2/);
    expect(r.err).toMatch(/required suite 'large' has 0 passing cases/);
    expect(r.code).toBe(1);
  });

  it('the repository lists its required suites, each with a positive minimum', () => {
    const r = summarise(report({ 'x/test/a.test.ts': { status: 'passed', cases: pass('s', 1) } }));
    expect(r.code).toBe(0);
    const defaults = spawnSync(
      process.execPath,
      [join(root, 'scripts/test-summary.mjs'), join(dir, 'report-0.json')],
      { encoding: 'utf8' },
    );
    // The real list applies by default, and this tiny report satisfies none of it.
    expect(defaults.status).toBe(1);
    expect(defaults.stderr).toMatch(/required suite 'CPU conformance kit' has 0 passing cases/);
  });
});
