/**
 * `@mru/models/node`: checkpoint files on disk (Node only; the main entry stays browser-safe).
 *
 * Writes are atomic: the bytes go to a temporary file in the same directory, which is flushed to disk
 * (`fsync`) and then renamed over the target, and the directory entry is flushed too where the platform
 * allows. A crash at any point leaves either the previous checkpoint or the new one, never a
 * half-written file; a stale temporary file is the worst case.
 *
 * @packageDocumentation
 */
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type CheckpointOptions,
  deserializeCheckpoint,
  type LoadedCheckpoint,
  type LoadedNetwork,
  type LoadOptions,
  networkFromCheckpoint,
  serializeCheckpoint,
} from './checkpoint/checkpoint.js';
import { CheckpointError } from './checkpoint/safetensors.js';
import type { ParamTree } from './tree.js';

/** Largest safetensors header we read (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

/**
 * Reads a checkpoint file's bytes, refusing what cannot be one before reading it all: a path that is
 * not a regular file (`/dev/zero` would be read until memory runs out), a file shorter than its
 * 8-byte header length, or a header length beyond the file or the format's limit.
 *
 * @param path - The file to read.
 * @throws CheckpointError naming the path; the file system's own error (ENOENT...) when it cannot be
 * opened.
 *
 * @category Checkpoints
 */
export async function readCheckpointFile(path: string): Promise<Uint8Array> {
  const op = 'readCheckpointFile';
  const fh = await open(path, 'r');
  try {
    const info = await fh.stat();
    if (!info.isFile()) {
      throw new CheckpointError(op, `${path}: not a regular file (a checkpoint is a .safetensors file)`);
    }
    const size = info.size;
    if (size < 8)
      throw new CheckpointError(op, `${path}: ${size} bytes is shorter than the 8-byte header length`);
    const head = new Uint8Array(8);
    await fh.read(head, 0, 8, 0);
    const view = new DataView(head.buffer);
    const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    if (headerLen > MAX_HEADER || 8 + headerLen > size) {
      throw new CheckpointError(
        op,
        `${path}: header length ${headerLen} exceeds ${headerLen > MAX_HEADER ? `the limit of ${MAX_HEADER} bytes` : `the ${size - 8} bytes after the length field`} (not a safetensors file, or truncated)`,
      );
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(bytes, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    if (at !== size) throw new CheckpointError(op, `${path}: the file shrank while being read`);
    return bytes;
  } finally {
    await fh.close();
  }
}

/** Matches the temporary files `writeFileAtomic` creates: `.<name>.<pid>.<random>.tmp`. */
const TEMP_FILE = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temporary files that atomic writes left in `dir` when their process was killed
 * mid-write (a `kill -9` between creating and renaming one). Files of live processes are kept, so a
 * concurrent writer is never disturbed. Returns the names removed.
 *
 * @param dir - The directory to clean.
 * @category Checkpoints
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_FILE.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      if ((await stat(path)).isFile()) {
        await unlink(path);
        removed.push(name);
      }
    } catch {
      // Gone already, or not ours to remove: nothing to clean.
    }
  }
  return removed;
}

/**
 * Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
 *
 * @param path - The file to write.
 * @param bytes - Its contents.
 * @category Checkpoints
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(
    dir,
    `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  const fh = await open(tmp, 'wx');
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, written, bytes.length - written);
      written += bytesWritten;
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  // Persist the rename itself; not every platform lets a directory be opened for fsync.
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Saves parameters (with config, optimizer state and metadata) to a safetensors file, atomically.
 *
 * @param path - The file to write (atomically).
 * @param params - The parameters.
 * @param options - Network config, optimizer state and metadata to store.
 * @category Checkpoints
 */
export async function saveCheckpoint(
  path: string,
  params: ParamTree,
  options: CheckpointOptions = {},
): Promise<void> {
  await writeFileAtomic(path, await serializeCheckpoint(params, options));
}

/**
 * Loads a checkpoint file; `expect` checks it against a model. Tensors land on the current backend.
 *
 * @param path - The file to read.
 * @param options - A module or network the tensors must fit.
 * @category Checkpoints
 */
export async function loadCheckpoint(path: string, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const bytes = await readCheckpointFile(path);
  return deserializeCheckpoint(bytes, { ...options, source: options.source ?? path });
}

/**
 * Loads a checkpoint file and rebuilds its network from the stored config.
 *
 * @param path - The file to read; it must hold a network config.
 * @category Checkpoints
 */
export async function loadNetworkCheckpoint(path: string): Promise<LoadedNetwork> {
  const bytes = await readCheckpointFile(path);
  return networkFromCheckpoint(bytes, path);
}

export type {
  CheckpointOptions,
  LoadedCheckpoint,
  LoadedNetwork,
  LoadOptions,
} from './checkpoint/checkpoint.js';
