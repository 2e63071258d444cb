/**
 * A release dry run, as a user would meet the packages: `changeset version` on a copy of the
 * workspace (the published files, package.json files and the pending changesets), core rebuilt for
 * its new version (the release runs `build` after `version`), every published package packed with
 * pnpm (which rewrites `workspace:` ranges), then the tarballs installed offline into fresh projects
 * outside the workspace, each with a strict TypeScript consumer that is typechecked (`strict`,
 * `skipLibCheck: false`, so our .d.ts files are checked too) and run:
 * - `@mru/core` + `@mru/backend-cpu` alone: a gradient, a typed error, the WebAssembly matmul that
 *   must ship inside the package, and the async reads;
 * - `@mru/models` alone first: core is a peer, so the install must fail on the missing `@mru/core`;
 *   then with core and a backend next to it: one copy of core, and a BMRU network trains a step.
 * Offline: CI has no network beyond what `scripts/setup.sh` fetched, and the packages need nothing
 * else (no dependencies besides the peer).
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'mru-release-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const stage = join(work, 'stage');
const packs = join(work, 'packs');

/** The published packages: directory and name. */
const PUBLISHED = {
  'packages/core': '@mru/core',
  'packages/backend-cpu': '@mru/backend-cpu',
  'packages/backend-webgpu': '@mru/backend-webgpu',
  'packages/backend-gpujs': '@mru/backend-gpujs',
  'packages/models': '@mru/models',
  'packages/datasets': '@mru/datasets',
  'apps/cli': '@mru/cli',
} as const;

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
}

function pnpm(args: string[], cwd: string): string {
  try {
    return execFileSync('pnpm', args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch {
    return run('npx', ['-y', 'pnpm@12.4.2', ...args], cwd);
  }
}

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tarball = (name: string): string => {
  const prefix = `${name.replace('@', '').replace('/', '-')}-`;
  const file = readdirSync(packs).find((f) => f.startsWith(prefix) && /^\d/.test(f.slice(prefix.length)));
  if (!file) throw new Error(`no tarball for ${name} in ${readdirSync(packs).join(', ')}`);
  return join(packs, file);
};

/** A fresh project with the given tarballs installed offline, a strict tsconfig and `main.ts`. */
function consumer(name: string, tarballs: string[], main: string): string {
  const app = join(work, name);
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], app);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022', 'DOM'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        types: [],
        outDir: 'out',
      },
      files: ['main.ts'],
    }),
  );
  writeFileSync(join(app, 'main.ts'), main);
  return app;
}

/** Typechecks and compiles the consumer, runs it, and parses the JSON it prints. */
function typecheckAndRun(app: string): Record<string, unknown> {
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  return JSON.parse(run(process.execPath, [join(app, 'out', 'main.js')], app));
}

beforeAll(() => {
  // The copy: what changesets and pnpm pack read, nothing else (no node_modules, no tests).
  for (const f of ['package.json', 'pnpm-workspace.yaml', 'tsconfig.base.json', 'LICENSE', '.changeset'])
    cpSync(join(root, f), join(stage, f), { recursive: true });
  // changesets checks that the packages it is told to ignore exist.
  for (const dir of ['apps/docs', 'bench/train'])
    cpSync(join(root, dir, 'package.json'), join(stage, dir, 'package.json'));
  for (const dir of Object.keys(PUBLISHED)) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    for (const f of [...pkg.files, 'package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'scripts']) {
      if (existsSync(join(root, dir, f)))
        cpSync(join(root, dir, f), join(stage, dir, f), { recursive: true });
    }
  }
  // The tools (changesets, its changelog, typescript) come from the workspace's install.
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
  run('git', ['init', '-q'], stage);
  run('git', ['add', '-A'], stage);
  run(
    'git',
    ['-c', 'user.name=release', '-c', 'user.email=release@localhost', 'commit', '-qm', 'stage'],
    stage,
  );

  run(process.execPath, [join(root, 'node_modules', '@changesets', 'cli', 'bin.js'), 'version'], stage);
  // The release builds after versioning; only core's output depends on its version.
  run(process.execPath, ['scripts/write-version.mjs'], join(stage, 'packages/core'));
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], join(stage, 'packages/core'));
  // pnpm pack reads the version that replaces a \`workspace:\` range from the installed dependency:
  // link each workspace dependency as an install would, without installing anything else.
  const dirOf = new Map(Object.entries(PUBLISHED).map(([dir, name]) => [name as string, dir]));
  for (const dir of Object.keys(PUBLISHED)) {
    const pkg = JSON.parse(readFileSync(join(stage, dir, 'package.json'), 'utf8'));
    const names = new Set(
      [pkg.dependencies, pkg.devDependencies, pkg.peerDependencies].flatMap((deps) =>
        Object.keys(deps ?? {}),
      ),
    );
    for (const name of names) {
      const target = dirOf.get(name);
      if (!target) continue;
      mkdirSync(join(stage, dir, 'node_modules', '@mru'), { recursive: true });
      symlinkSync(join(stage, target), join(stage, dir, 'node_modules', name), 'dir');
    }
  }
  // One pnpm for all (starting it through npx costs seconds each time).
  const filters = Object.values(PUBLISHED).flatMap((name) => ['--filter', name]);
  pnpm(['--recursive', ...filters, 'pack', '--pack-destination', packs], stage);
}, 120_000);

describe('release dry run', () => {
  it('changeset version makes the first release 0.1.0 of every package, with a changelog', () => {
    for (const [dir, name] of Object.entries(PUBLISHED)) {
      const pkg = JSON.parse(readFileSync(join(stage, dir, 'package.json'), 'utf8'));
      expect([pkg.name, pkg.version]).toEqual([name, '0.1.0']);
      expect(readFileSync(join(stage, dir, 'CHANGELOG.md'), 'utf8')).toMatch(
        new RegExp(`^# ${name}\\n\\n## 0\\.1\\.0\\n`),
      );
    }
    expect(
      readdirSync(join(stage, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md'),
    ).toEqual([]);
  });

  it('every tarball carries its LICENSE and README, and core is a peer (never a dependency) of its extensions', () => {
    for (const name of Object.values(PUBLISHED)) {
      const listing = run('tar', ['-tzf', tarball(name)], work).split('\n');
      expect(listing).toEqual(
        expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json']),
      );
      const pkg = JSON.parse(run('tar', ['-xzOf', tarball(name), 'package/package.json'], work));
      expect(pkg.version).toBe('0.1.0');
      expect(JSON.stringify(pkg)).not.toContain('workspace:');
      expect(pkg.repository).toMatchObject({ url: 'git+https://github.com/mru-js/mru.git' });
      if (['@mru/backend-cpu', '@mru/backend-webgpu', '@mru/backend-gpujs', '@mru/models'].includes(name)) {
        expect(pkg.peerDependencies['@mru/core']).toBe('^0.1.0');
        expect(pkg.dependencies?.['@mru/core']).toBeUndefined();
      }
    }
  });

  it('core + backend-cpu alone: a strict consumer typechecks and runs', () => {
    const app = consumer(
      'core-cpu',
      [tarball('@mru/core'), tarball('@mru/backend-cpu')],
      `import { matmul, mul, ShapeError, sum, type Tensor, tensor, setBackend, valueAndGrad, VERSION } from '@mru/core';
import { cpuBackend, matmulPaths } from '@mru/backend-cpu';

await setBackend(cpuBackend());
// 16x16x16 is large enough for the WebAssembly kernel, which must ship inside the package.
const ones = tensor(new Float32Array(256).fill(1), { shape: [16, 16] });
const twos = tensor(new Float32Array(256).fill(2), { shape: [16, 16] });
const product: number[] = Array.from(await matmul(ones, twos).data());
const { value, grads } = valueAndGrad((w: Tensor) => sum(mul(w, w)))(tensor([1, 2, 3]));
let error = '';
try {
  matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor(new Float32Array(20), { shape: [4, 5] }));
} catch (e) {
  error = \`\${e instanceof ShapeError} \${e instanceof Error ? e.message : ''}\`;
}
const loss: number = await value.item();
console.log(JSON.stringify({ version: VERSION, value: loss, sync: value.itemSync(), grad: await grads.array(), error, paths: matmulPaths(), product }));
`,
    );
    const out = typecheckAndRun(app);
    expect(out.version).toBe('0.1.0');
    expect([out.value, out.sync]).toEqual([14, 14]);
    expect(out.grad).toEqual([2, 4, 6]);
    expect(out.error).toMatch(/^true matmul: .*\[2,3\].*\[4,5\]/);
    expect(out.paths).toEqual(['js', 'wasm']);
    expect(out.product).toEqual(new Array(256).fill(32));
  });

  it('models alone: the install requires @mru/core as a peer; next to core, one copy and a training step', () => {
    const alone = join(work, 'models-alone');
    mkdirSync(alone);
    writeFileSync(join(alone, 'package.json'), JSON.stringify({ name: 'models-alone', private: true }));
    // npm installs missing peers; offline, with no @mru/core to be found, the install must fail on it.
    expect(() =>
      run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball('@mru/models')], alone),
    ).toThrow(/@mru%2fcore|@mru\/core/);

    const app = consumer(
      'models',
      [tarball('@mru/models'), tarball('@mru/core'), tarball('@mru/backend-cpu')],
      `import { dispose, randn, setBackend, type Tensor, valueAndGrad } from '@mru/core';
import { cpuBackend } from '@mru/backend-cpu';
import { AdamW, createNetwork, type NetworkConfig, type ParamTree } from '@mru/models';

await setBackend(cpuBackend());
const config: NetworkConfig = { dIn: 1, dModel: 8, dOut: 1, nLayers: 1, cell: { type: 'bmru', dState: 8 }, readout: 'last' };
const net = createNetwork(config);
let params: ParamTree = net.init(0);
const x = randn([4, 12, 1], 0, 1, { seed: 1 });
const y = randn([4, 1], 0, 1, { seed: 2 });
const opt = new AdamW({ lr: 1e-2, meta: net.paramSpecs() });
const lossAndGrad = valueAndGrad((p: ParamTree, xs: Tensor, ys: Tensor) => net.loss(p, xs, ys, { train: true, seed: 0, loss: 'mse' }));
const losses: number[] = [];
for (let step = 0; step < 20; step++) {
  const { value, grads } = lossAndGrad(params, x, y);
  losses.push(await value.item());
  params = opt.step(params, grads);
  dispose([value, grads]);
}
console.log(JSON.stringify({ losses }));
`,
    );
    const copies = run('npm', ['ls', '@mru/core', '--all', '--parseable'], app).trim().split('\n');
    expect(copies).toEqual([join(app, 'node_modules', '@mru', 'core')]);
    const { losses } = typecheckAndRun(app) as { losses: number[] };
    expect(losses).toHaveLength(20);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses[19]).toBeLessThan(losses[0]);
  });
});
