/**
 * The PyTorch peers, driven from node: finds python3 with torch, and an OpenBLAS to swap in for
 * Debian's reference BLAS, and keeps one `torch_step.py` child per BLAS, spoken to in JSON lines.
 *
 * Debian's python3-torch calls whatever `libblas.so.3` the loader finds; the OpenBLAS package ships
 * a `libblas.so.3` of its own in an `openblas-pthread` directory, so putting that directory first on
 * LD_LIBRARY_PATH swaps the BLAS without touching the system. If no OpenBLAS is installed, the `.deb`
 * is fetched with `apt-get download` (the machine's configured sources) and unpacked with `dpkg -x`
 * into node_modules/.cache, never installed. Which BLAS each child really uses is read from its own
 * memory map (`/proc/self/maps`), not assumed. Every step here may fail on another machine: the
 * caller gets a reason and skips the row.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.MRU_BENCH_PYTHON ?? '/usr/bin/python3';
const CACHE = path.join(HERE, 'node_modules', '.cache', 'openblas');

/** Null when python3 can import torch, else why not. */
export function torchMissing() {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not found (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import torch (on Debian: apt-get install -y python3-torch)`;
  return null;
}

/** The first directory under `root` that holds a libblas.so.3 inside an openblas directory. */
function findOpenblasDir(root) {
  if (!existsSync(root)) return null;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) stack.push(p);
      else if (entry.name === 'libblas.so.3' && /openblas/.test(dir)) return dir;
    }
  }
  return null;
}

/**
 * `{ dir }`, a directory whose libblas.so.3 is OpenBLAS, or `{ reason }`: an installed one first,
 * then the unpacked cache, then a fresh `apt-get download` into the cache.
 */
export function openblasDir() {
  for (const root of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu']) {
    const dir = path.join(root, 'openblas-pthread');
    if (existsSync(path.join(dir, 'libblas.so.3'))) return { dir };
  }
  let dir = findOpenblasDir(CACHE);
  if (dir) return { dir };
  const apt = spawnSync('apt-get', ['--version'], { encoding: 'utf8' });
  if (apt.error || apt.status !== 0) return { reason: 'no OpenBLAS installed and no apt-get to fetch one' };
  mkdirSync(CACHE, { recursive: true });
  const dl = spawnSync('apt-get', ['download', 'libopenblas0-pthread'], { cwd: CACHE, encoding: 'utf8' });
  const deb = readdirSync(CACHE).find((f) => f.startsWith('libopenblas0-pthread') && f.endsWith('.deb'));
  if (!deb) return { reason: `apt-get download libopenblas0-pthread failed: ${(dl.stderr || '').trim()}` };
  const x = spawnSync('dpkg', ['-x', deb, 'root'], { cwd: CACHE, encoding: 'utf8' });
  if (x.status !== 0) return { reason: `dpkg -x ${deb} failed: ${(x.stderr || '').trim()}` };
  dir = findOpenblasDir(path.join(CACHE, 'root'));
  return dir ? { dir } : { reason: `${deb} holds no openblas libblas.so.3` };
}

/** A short name for the BLAS a child mapped, from the library paths it reported. */
function blasName(paths) {
  if (paths.some((p) => /openblas/i.test(p))) return 'OpenBLAS';
  if (paths.some((p) => /\/blas\/libblas/.test(p))) return 'reference BLAS';
  return paths.length ? path.basename(paths[0]) : 'unknown BLAS';
}

/**
 * Starts a `torch_step.py` child (with `libDir` first on LD_LIBRARY_PATH if given) and says hello.
 * Resolves to `{ send, close, torch, blas, blasPaths }`; `send(msg)` resolves to the reply or throws.
 */
export async function startTorch(libDir) {
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  if (libDir) env.LD_LIBRARY_PATH = [libDir, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const child = spawn(PYTHON, [path.join(HERE, 'torch_step.py')], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const send = async (msg) => {
    if (exited) throw new Error(`torch_step.py exited: ${stderr.trim().split('\n').pop()}`);
    child.stdin.write(`${JSON.stringify(msg)}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error(`torch_step.py exited: ${stderr.trim().split('\n').pop()}`);
    const reply = JSON.parse(value);
    if (reply.error) throw new Error(`torch_step.py: ${reply.error}`);
    return reply;
  };
  const hello = await send({ cmd: 'hello' });
  return {
    send,
    torch: hello.torch,
    blas: blasName(hello.blas),
    blasPaths: hello.blas,
    close() {
      if (!exited) child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    },
  };
}
