/**
 * A tiny static file server for the browser test, on 127.0.0.1 and a free port chosen by the OS
 * (ES modules and import maps need http; file:// pages cannot import modules).
 *
 * It serves these roots and nothing else: `/core/`, `/backend-cpu/`, `/backend-gpujs/` and
 * `/models/` are the packages' built `dist/` folders (as a user's bundler would see them),
 * `/gpu.js/` is the `dist/` folder of the gpu.js package (its browser bundle), and `/` is this
 * folder (index.html, page.js, workload.js). Paths are resolved and checked to stay inside
 * their root. Every response says `no-store`, so a rebuilt dist is never served stale.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const packagesDir = resolve(here, '../../..');
const require = createRequire(import.meta.url);

/** URL prefix to folder on disk; the longest matching prefix wins. */
const ROOTS: ReadonlyArray<readonly [string, string]> = [
  ['/core/', join(packagesDir, 'core/dist')],
  ['/backend-cpu/', join(packagesDir, 'backend-cpu/dist')],
  ['/backend-gpujs/', join(packagesDir, 'backend-gpujs/dist')],
  ['/models/', join(packagesDir, 'models/dist')],
  ['/gpu.js/', join(dirname(require.resolve('gpu.js')), '../dist')],
  // fast-check and its one dependency, for the kit's property-based case (kit.html's import map).
  ['/fast-check/', dirname(dirname(require.resolve('fast-check')))],
  [
    '/pure-rand/',
    join(dirname(createRequire(require.resolve('fast-check')).resolve('pure-rand/package.json')), 'lib/esm'),
  ],
  ['/', here],
];

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};

/** A running server: its origin (`http://127.0.0.1:PORT`) and how to stop it. */
export interface StaticServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** The file on disk for a request path, or null when it maps to none of the roots. */
function fileFor(pathname: string): string | null {
  for (const [prefix, dir] of ROOTS) {
    if (!pathname.startsWith(prefix)) continue;
    const file = resolve(dir, normalize(`./${decodeURIComponent(pathname.slice(prefix.length))}`));
    return file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? file : null;
  }
  return null;
}

/** Starts the server; resolves once it listens. */
export async function startServer(): Promise<StaticServer> {
  const server: Server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      // decodeURIComponent throws on a malformed path: a 404 like any other.
      const file = fileFor(pathname === '/' ? '/index.html' : pathname);
      const type = file ? MIME[extname(file)] : undefined;
      if (!file || !type) throw new Error('not served');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${pathname}`);
    }
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ready());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
