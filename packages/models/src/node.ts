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
import { open, readFile, rename, unlink } from 'node:fs/promises';
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
import type { ParamTree } from './tree.js';

/** Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory). */
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

/** Saves parameters (with config, optimizer state and metadata) to a safetensors file, atomically. */
export async function saveCheckpoint(
  path: string,
  params: ParamTree,
  options: CheckpointOptions = {},
): Promise<void> {
  await writeFileAtomic(path, await serializeCheckpoint(params, options));
}

/** Loads a checkpoint file; `expect` checks it against a model. Tensors land on the current backend. */
export async function loadCheckpoint(path: string, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const bytes = new Uint8Array(await readFile(path));
  return deserializeCheckpoint(bytes, { ...options, source: options.source ?? path });
}

/** Loads a checkpoint file and rebuilds its network from the stored config. */
export async function loadNetworkCheckpoint(path: string): Promise<LoadedNetwork> {
  const bytes = new Uint8Array(await readFile(path));
  return networkFromCheckpoint(bytes, path);
}

export type {
  CheckpointOptions,
  LoadedCheckpoint,
  LoadedNetwork,
  LoadOptions,
} from './checkpoint/checkpoint.js';
