/**
 * What the registry's page shows for each published package: the metadata fields, a README whose
 * links work there (absolute URLs: the page has no repository to resolve a relative path against)
 * and that says how to install the package, and the MIT LICENSE the manifests claim.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const REPO = 'https://github.com/mru-js/mru';
const DIRS = [
  'packages/core',
  'packages/backend-cpu',
  'packages/backend-webgpu',
  'packages/backend-gpujs',
  'packages/models',
  'packages/datasets',
  'apps/cli',
];
const license = readFileSync(join(root, 'LICENSE'), 'utf8');

describe.each(DIRS)('published package %s', (dir) => {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  const readme = readFileSync(join(root, dir, 'README.md'), 'utf8');

  it('declares license, repository with its directory, homepage, bugs, keywords and engines', () => {
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({ type: 'git', url: `git+${REPO}.git`, directory: dir });
    expect(pkg.homepage).toBe(`${REPO}/tree/main/${dir}#readme`);
    expect(pkg.bugs).toEqual({ url: `${REPO}/issues` });
    expect(pkg.keywords.length).toBeGreaterThanOrEqual(3);
    expect(pkg.engines).toEqual({ node: '>=20' });
  });

  it('ships the MIT LICENSE with the authors named', () => {
    expect(readFileSync(join(root, dir, 'LICENSE'), 'utf8')).toBe(license);
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the mru authors\n/);
  });

  it('has a README with an install line and only absolute links', () => {
    expect(readme).toMatch(new RegExp(`npm install (--global )?(\\S+ )*${pkg.name.replace('/', '\\/')}\\b`));
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    const relative = targets.filter((t) => !/^(https?:\/\/|mailto:|#)/.test(t));
    expect(relative).toEqual([]);
  });
});
