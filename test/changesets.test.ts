/**
 * The release flow's invariants, checked on every test run:
 * - `changeset status` runs on the Node the repository supports (the 3.x CLI needs Node 22.11);
 * - every published package changed since its last release has a pending changeset.
 *
 * "Last release" of a package, concretely: the version in its package.json. `0.0.0` means never
 * released: the first release must then include the package (a pending changeset; at most `minor`,
 * so that it comes out as 0.1.0, not 0.2.0 or 1.0.0). Any other version was published by
 * `changeset publish`, which tags it `<name>@<version>`; the package changed if a file it publishes
 * (its `files`, package.json, README, LICENSE) differs from that tag.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'mru-changesets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Release {
  name: string;
  type: 'none' | 'patch' | 'minor' | 'major';
  oldVersion: string;
  newVersion: string;
}
interface Status {
  releases: Release[];
  changesets: { id: string; releases: { name: string; type: string }[] }[];
}

/** The workspace's published packages: directory, name, version, files. */
function publishedPackages(): { dir: string; name: string; version: string; files: string[] }[] {
  const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
  const dirs = execFileSync('git', ['ls-files', '--', 'packages/*/package.json', 'apps/*/package.json'], {
    cwd: root,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((f) => f.replace(/\/package\.json$/, ''));
  return dirs
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private && !config.ignore.includes(pkg.name))
    .map(({ dir, pkg }) => ({ dir, name: pkg.name, version: pkg.version, files: pkg.files ?? [] }));
}

function changesetStatus(): Status {
  const out = join(work, 'status.json');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', '@changesets', 'cli', 'bin.js'), 'status', `--output=${out}`],
    {
      cwd: root,
      stdio: 'pipe',
    },
  );
  return JSON.parse(readFileSync(out, 'utf8'));
}

describe('changesets', () => {
  const status = changesetStatus();
  const releases = new Map(status.releases.map((r) => [r.name, r]));
  const packages = publishedPackages();

  it('`changeset status` runs on this Node and sees the seven published packages', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
    expect(packages.map((p) => p.name).sort()).toEqual([
      '@mru/backend-cpu',
      '@mru/backend-gpujs',
      '@mru/backend-webgpu',
      '@mru/cli',
      '@mru/core',
      '@mru/datasets',
      '@mru/models',
    ]);
    // Every pending changeset names only packages of the workspace (status fails otherwise).
    expect(status.changesets.length).toBeGreaterThan(0);
  });

  it('every package changed since its last release has a pending changeset', () => {
    const missing: string[] = [];
    for (const p of packages) {
      const pending = releases.get(p.name);
      const hasChangeset = pending !== undefined && pending.type !== 'none';
      if (p.version === '0.0.0') {
        if (!hasChangeset) missing.push(`${p.name} (never released, so the first release must include it)`);
        continue;
      }
      const tag = `${p.name}@${p.version}`;
      const tags = execFileSync('git', ['tag', '--list', tag], { cwd: root, encoding: 'utf8' }).trim();
      expect(tags, `the release ${tag} has no git tag (\`changeset publish\` makes it; fetch tags)`).toBe(
        tag,
      );
      const paths = [...p.files, 'package.json', 'README.md', 'LICENSE'].map((f) => join(p.dir, f));
      const diff = execFileSync('git', ['diff', '--name-only', tag, '--', ...paths], {
        cwd: root,
        encoding: 'utf8',
      });
      if (diff.trim() !== '' && !hasChangeset)
        missing.push(`${p.name} (changed since ${tag}: ${diff.trim().split('\n')[0]} ...)`);
    }
    expect(missing, 'add a changeset (.changeset/<name>.md) for').toEqual([]);
  });

  it('a package never released comes out as 0.1.0: no pending major bump', () => {
    for (const p of packages.filter((q) => q.version === '0.0.0')) {
      const r = releases.get(p.name);
      expect(r?.type, `${p.name}: the first release is 0.1.0, so no changeset may bump it 'major'`).toBe(
        'minor',
      );
      expect(r?.newVersion).toBe('0.1.0');
    }
  });
});
