/**
 * Error class names survive minification. A production bundle renames classes (`class r extends
 * Error`), so a name taken from `new.target.name` or the constructor reads "r" there; users and logs
 * match on `err.name`. Each error module is minified here the way a bundler would treat it (its
 * classes no longer exported under their own names, top-level names mangled), then loaded and
 * every class constructed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minifySync, transformWithOxc } from 'vite';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Minifies a self-contained TypeScript module as if bundled, and imports the result. */
async function loadMinified(path: string): Promise<{ names: string[]; mod: Record<string, unknown> }> {
  const source = readFileSync(join(root, path), 'utf8');
  const js = (await transformWithOxc(source, path)).code;
  const names = [...js.matchAll(/export class (\w+)/g)].map((m) => m[1]);
  // Inside a bundle the classes are local bindings, which the minifier is free to rename.
  const local = `${js.replace(/export (class|function) /g, '$1 ')}\nexport { ${names.join(', ')} };`;
  const min = minifySync(path, local, {
    mangle: { toplevel: true, keepNames: false },
    compress: true,
    module: true,
  }).code;
  // Check the minifier did rename them, or the test would prove nothing.
  for (const n of names) expect(min).not.toMatch(new RegExp(`class ${n}\\b`));
  const mod = (await import(`data:text/javascript,${encodeURIComponent(min)}`)) as Record<string, unknown>;
  return { names, mod };
}

/** Constructs `cls` with placeholder arguments (an array second, for UnknownTaskError's list). */
function construct(cls: new (...args: unknown[]) => Error): Error {
  return new cls('a', ['b'], 'c');
}

describe('error names after minification', () => {
  for (const path of [
    'packages/core/src/errors.ts',
    'apps/cli/src/errors.ts',
    'packages/datasets/src/errors.ts',
  ]) {
    it(path, async () => {
      const { names, mod } = await loadMinified(path);
      expect(names.length).toBeGreaterThan(1);
      for (const name of names) {
        const e = construct(mod[name] as new (...args: unknown[]) => Error);
        expect(e.name, `${name} in ${path}`).toBe(name);
      }
    });
  }
});
