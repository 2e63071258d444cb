/**
 * Where a command writes. Its own module so that the commands (bench, experiments) can take an `Io`
 * without importing `main.ts`, which imports them: that cycle made the load order of the CLI depend
 * on which file was imported first.
 */
import type { ProgressStream } from './progress.js';

/** Where a command writes: results to `stdout`, progress and notes to `stderr`. */
export interface Io {
  /** Results (tables, summaries). */
  readonly stdout: { write(text: string): unknown };
  /** Progress bars, notes and errors. */
  readonly stderr: ProgressStream;
}

/** The process's own streams. */
export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };
