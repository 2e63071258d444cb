/**
 * What CI runs: `.ci/run` runs exactly the README's test command, and that command runs the checks CI
 * claims (build, typecheck, lint, the docs build with typedoc's validation as errors, then the
 * tests), and summarises against the required suites. A step dropped from the chain would otherwise
 * go unnoticed, since CI would stay green without it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

it('the README test command is what CI runs, and it runs typecheck, lint, docs and the tests', () => {
  const command = 'bash scripts/setup.sh && npx -y pnpm@12.4.2 test';
  expect(read('README.md')).toContain(command);
  const ci = read('.ci/run');
  expect(ci).toContain(command);
  expect(ci).toMatch(/test-summary\.mjs test-results\.json --required \.ci\/required-suites\.json/);

  const test: string = JSON.parse(read('package.json')).scripts.test;
  const steps = test.split('&&').map((s) => s.trim());
  const at = (re: RegExp) => steps.findIndex((s) => re.test(s));
  const turbo = at(/^turbo run /);
  expect(turbo).toBeGreaterThanOrEqual(0);
  for (const task of ['build', 'typecheck', 'docs']) expect(steps[turbo].split(/\s+/)).toContain(task);
  // The root tests (this file among them) belong to no package: they are type-checked on their own.
  expect(at(/^tsc -p tsconfig\.test\.json$/)).toBeGreaterThan(turbo);
  expect(at(/^biome check \.$/)).toBeGreaterThan(turbo);
  expect(at(/^vitest run$/)).toBe(steps.length - 1);

  const typedoc = JSON.parse(read('apps/docs/typedoc.json'));
  expect(typedoc.treatWarningsAsErrors).toBe(true);
  expect(typedoc.validation).toMatchObject({ notExported: true, invalidLink: true, notDocumented: true });
});
