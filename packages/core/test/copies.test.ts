/**
 * Two copies of @mru/core in one process, for real: the built `dist/` is copied into a package of its
 * own under a temporary `node_modules` with another version (its package.json and the generated
 * `dist/version.js`, which is what a build of that version ships), and a child Node process imports
 * both. A child process, because the second copy marks `globalThis` for the rest of its life.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/index.js';

const core = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'mru-two-cores-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Installs a copy of the built core at `<work>/<dir>/node_modules/@mru/core` as version `version`. */
function copyOfCore(dir: string, version: string): string {
  const target = join(work, dir, 'node_modules', '@mru', 'core');
  mkdirSync(target, { recursive: true });
  cpSync(join(core, 'dist'), join(target, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(core, 'package.json'), 'utf8'));
  writeFileSync(join(target, 'package.json'), JSON.stringify({ ...pkg, version }));
  const versionJs = join(target, 'dist', 'version.js');
  const built = readFileSync(versionJs, 'utf8');
  expect(built).toContain(`'${VERSION}'`);
  writeFileSync(versionJs, built.replace(`'${VERSION}'`, `'${version}'`));
  return target;
}

/** Runs an ES module in a fresh Node process and parses the JSON it prints. */
function runNode(source: string): Record<string, string> {
  const file = join(work, `main-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
}

describe('one @mru/core per process', () => {
  it('the generated version matches package.json', () => {
    const pkg = JSON.parse(readFileSync(join(core, 'package.json'), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });

  it('a second copy refuses to load, naming both versions and how to dedupe; the first then refuses backends', () => {
    const first = pathToFileURL(join(core, 'dist', 'index.js')).href;
    const second = copyOfCore('nested', '9.8.7');
    const secondUrl = pathToFileURL(join(second, 'dist', 'index.js')).href;
    const out = runNode(`
const a = await import(${JSON.stringify(first)});
const result = {};
try { await import(${JSON.stringify(secondUrl)}); result.load = 'loaded'; }
catch (e) { result.load = e.name + '|' + e.op + '|' + e.message; result.isMru = String(e instanceof Error && 'op' in e); }
try { a.registerBackend('x', () => { throw new Error('never'); }); result.register = 'registered'; }
catch (e) { result.register = e.name + '|' + (e instanceof a.DuplicateCoreError) + '|' + e.message; }
try { await a.setBackend('x'); result.set = 'set'; } catch (e) { result.set = e.name + '|' + e.op; }
console.log(JSON.stringify(result));
`);
    const [name, op, message] = out.load.split('|');
    expect(name).toBe('DuplicateCoreError');
    expect(op).toBe('@mru/core');
    const firstCopies = pathToFileURL(join(core, 'dist', 'copies.js')).href;
    const secondCopies = pathToFileURL(join(second, 'dist', 'copies.js')).href;
    expect(message).toContain(
      `2 copies of @mru/core are loaded: ${VERSION} (${firstCopies}) and 9.8.7 (${secondCopies})`,
    );
    expect(message).toContain('peer dependency');
    expect(message).toContain('npm dedupe');
    expect(message).toContain("resolve: { dedupe: ['@mru/core'] }");
    const [regName, regInstance, regMessage] = out.register.split('|');
    expect([regName, regInstance]).toEqual(['DuplicateCoreError', 'true']);
    expect(regMessage).toMatch(/^registerBackend: 2 copies of @mru\/core are loaded: /);
    expect(out.set).toBe('DuplicateCoreError|setBackend');
  });

  it('two copies of the same version are refused too (instanceof fails between them all the same)', () => {
    const a = copyOfCore('same-a', '1.2.3');
    const b = copyOfCore('same-b', '1.2.3');
    const out = runNode(`
await import(${JSON.stringify(pathToFileURL(join(a, 'dist', 'index.js')).href)});
let load = 'loaded';
try { await import(${JSON.stringify(pathToFileURL(join(b, 'dist', 'index.js')).href)}); } catch (e) { load = e.name + '|' + e.message; }
console.log(JSON.stringify({ load }));
`);
    expect(out.load).toMatch(
      /^DuplicateCoreError\|@mru\/core: 2 copies of @mru\/core are loaded: 1\.2\.3 \(.*same-a.*\) and 1\.2\.3 \(.*same-b.*\)/,
    );
  });

  it('one copy imported through two entry points (main and ./testing) is one copy', () => {
    const out = runNode(`
const a = await import(${JSON.stringify(pathToFileURL(join(core, 'dist', 'index.js')).href)});
await import(${JSON.stringify(pathToFileURL(join(core, 'dist', 'testing', 'index.js')).href)});
a.registerBackend('x', () => { throw new Error('never'); });
console.log(JSON.stringify({ names: a.backendNames().join(',') }));
`);
    expect(out.names).toBe('x');
  });
});
