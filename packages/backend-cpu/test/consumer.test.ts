/**
 * Packs the built @mru/core and @mru/backend-cpu with pnpm (which rewrites `workspace:` ranges),
 * installs the tarballs offline into a project outside the workspace, and computes a gradient there:
 * what a user who installs the packages gets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const work = mkdtempSync(join(tmpdir(), 'mru-consumer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function pnpm(args: string[], cwd: string): void {
  try {
    execFileSync('pnpm', args, { cwd, stdio: 'pipe' });
  } catch {
    execFileSync('npx', ['-y', 'pnpm@12.4.2', ...args], { cwd, stdio: 'pipe' });
  }
}

it('a project outside the workspace installs the packed packages and computes a gradient', () => {
  const packs = join(work, 'packs');
  for (const pkg of ['core', 'backend-cpu'])
    pnpm(['pack', '--pack-destination', packs], join(root, 'packages', pkg));
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  expect(tarballs).toHaveLength(2);

  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], {
    cwd: app,
    stdio: 'pipe',
  });
  writeFileSync(
    join(app, 'main.mjs'),
    `import { setBackend, tensor, valueAndGrad, sum, mul, matmul, ShapeError } from '@mru/core';
import { cpuBackend, matmulPaths } from '@mru/backend-cpu';
await setBackend(cpuBackend());
// 16x16x16 is large enough for the WebAssembly kernel, which must ship inside the package.
const product = [...matmul(tensor(new Float32Array(256).fill(1), { shape: [16, 16] }), tensor(new Float32Array(256).fill(2), { shape: [16, 16] })).dataSync()];
const { value, grads } = valueAndGrad((w) => sum(mul(w, w)))(tensor([1, 2, 3]));
let error = '';
try { matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor(new Float32Array(20), { shape: [4, 5] })); }
catch (e) { error = (e instanceof ShapeError) + ' ' + e.message; }
console.log(JSON.stringify({ value: value.item(), grad: [...grads.dataSync()], error, paths: matmulPaths(), product }));
`,
  );
  const out = JSON.parse(execFileSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8' }));
  expect(out.value).toBe(14);
  expect(out.grad).toEqual([2, 4, 6]);
  expect(out.error).toMatch(/^true matmul: .*\[2,3\].*\[4,5\]/);
  expect(out.paths).toEqual(['js', 'wasm']);
  expect(out.product).toEqual(new Array(256).fill(32));
});
