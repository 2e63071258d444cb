/**
 * scripts/apt-mirror.sh, the mirror detection behind scripts/setup.sh, on sample apt layouts built in
 * temporary directories: a fresh bookworm machine may have only deb822 `.sources` files (no
 * `/etc/apt/sources.list` at all), an older one only one-line entries, some both; backports may be
 * configured already. Missing both must be an error with a message, never a silent exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', 'scripts', 'apt-mirror.sh');
const base = mkdtempSync(join(tmpdir(), 'mru-apt-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** Builds `<root>/etc/apt` with the given files (paths relative to etc/apt) and runs the script. */
function detect(files: Record<string, string>): { code: number; out: string; err: string } {
  const root = join(base, `root${n++}`);
  mkdirSync(join(root, 'etc', 'apt', 'sources.list.d'), { recursive: true });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(root, 'etc', 'apt', path), text);
  const r = spawnSync('bash', [script, root], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}

const DEB822 = `Types: deb
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('apt-mirror.sh', () => {
  it('one-line sources.list', () => {
    const r = detect({
      'sources.list': `# comment
deb [arch=amd64 signed-by=/k.gpg] http://deb.example.net/debian/ bookworm main
deb http://security.example.net/debian-security bookworm-security main
`,
    });
    expect(r).toEqual({ code: 0, out: 'mirror http://deb.example.net/debian', err: '' });
  });

  it('deb822 only (no sources.list, as on a fresh bookworm image)', () => {
    const r = detect({ 'sources.list.d/debian.sources': DEB822 });
    expect(r).toEqual({ code: 0, out: 'mirror http://mirror.example.org/debian', err: '' });
  });

  it('both layouts: the first bookworm mirror found', () => {
    const r = detect({
      'sources.list': 'deb http://one.example.org/debian bookworm main\n',
      'sources.list.d/debian.sources': DEB822,
    });
    expect(r.code).toBe(0);
    expect(r.out).toBe('mirror http://one.example.org/debian');
  });

  it('backports already present, in either layout', () => {
    expect(
      detect({
        'sources.list': 'deb http://deb.example.net/debian bookworm main\n',
        'sources.list.d/backports.list': 'deb http://deb.example.net/debian bookworm-backports main\n',
      }).out,
    ).toBe('present');
    expect(
      detect({
        'sources.list.d/debian.sources': DEB822.replace(
          'bookworm bookworm-updates',
          'bookworm bookworm-backports',
        ),
      }).out,
    ).toBe('present');
  });

  it('a disabled deb822 stanza and deb-src lines are ignored', () => {
    const r = detect({
      'sources.list.d/a.sources': `Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://off.example.org/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: http://on.example.org/debian/
Suites: bookworm
`,
    });
    expect(r.out).toBe('mirror http://on.example.org/debian');
  });

  it('missing both files: exit 1 with a message', () => {
    const r = detect({});
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/apt-mirror: no apt sources under .*etc\/apt/);
  });

  it('sources without a bookworm suite: exit 1 with a message', () => {
    const r = detect({ 'sources.list': 'deb http://deb.example.net/debian trixie main\n' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no Debian 'bookworm' suite/);
  });
});
