/**
 * Worker-thread entry of the experiment presets: executes one `RunJob` (from `workerData`) on its
 * own backend instance and reports back by messages: `{ type: 'progress', text }` for progress-bar
 * output, then `{ type: 'done', outcome }` or `{ type: 'error', message }`. The parent stops it
 * between steps by posting `'interrupt'`. Core's engine state is per thread, so runs in different
 * workers share nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, releaseBackend, useBackend } from './backend.js';
import { executeRun, type RunJob } from './runs.js';

/** What the parent passes in `workerData`. */
export interface WorkerInput {
  /** The run. */
  readonly job: RunJob;
  /** Whether the parent's stderr is a terminal (the progress bar redraws in place then). */
  readonly tty: boolean;
}

/** Messages a worker posts. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly text: string }
  | { readonly type: 'done'; readonly outcome: Awaited<ReturnType<typeof executeRun>> }
  | { readonly type: 'error'; readonly message: string };

if (parentPort) {
  const port = parentPort;
  const { job, tty } = workerData as WorkerInput;
  const controller = new AbortController();
  port.on('message', (message) => {
    if (message === 'interrupt') controller.abort();
  });
  const post = (message: WorkerMessage) => port.postMessage(message);
  try {
    await useBackend(job.backend as BackendName);
    const outcome = await executeRun(
      job,
      { isTTY: tty, write: (text: string) => post({ type: 'progress', text }) },
      controller.signal,
    );
    post({ type: 'done', outcome });
  } catch (error) {
    post({ type: 'error', message: (error as Error)?.message ?? String(error) });
  } finally {
    releaseBackend();
    port.close();
  }
}
