/**
 * The guide "Writing a custom backend" says its minimal backend passes the conformance kit. This runs
 * the kit on that backend exactly as the guide prints it (the guide's first ts block, written to a
 * module and imported), so the claim cannot drift from the code. test/docs-examples.test.ts already
 * checks that the block compiles under --strict and runs.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuBackend } from '@mru/backend-cpu';
import type { Backend } from '@mru/core';
import { runConformance } from '@mru/core/testing';
import { afterAll } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const guide = readFileSync(join(root, 'apps/docs/guides/custom-backend.md'), 'utf8');
const block = /^```ts\n([\s\S]*?)\n```$/m.exec(guide)?.[1];
if (!block?.includes('export function myBackend')) {
  throw new Error('custom-backend.md: the first ts block no longer defines myBackend()');
}
// Under apps/docs, whose node_modules resolve @mru/* as a user's project would.
const dir = join(root, 'apps/docs/.examples-kit');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'my-backend.ts');
writeFileSync(file, block);
const { myBackend } = (await import(pathToFileURL(file).href)) as { myBackend: () => Backend };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runConformance({ name: 'the custom-backend guide', factory: myBackend, reference: cpuBackend, large: false });
