/**
 * The worker-thread task of the experiment presets, run by the pool (`pool.ts`): executes one
 * `RunJob` on its own backend instance. Progress-bar output goes back through the task's own
 * `MessagePort` as `{ type: 'progress', text }`, then `{ type: 'end' }`; the parent stops the run
 * between steps by posting `'interrupt'` on that port. The pool gives every task a fresh thread, and
 * core's engine state is per thread, so runs share nothing.
 */
import type { MessagePort } from 'node:worker_threads';
import { type BackendName, releaseBackend, useBackend } from '../backend.js';
import { executeRun, type RunJob, type RunOutcome } from '../runs.js';

/** What the parent passes to a task. */
export interface WorkerTask {
  /** The run. */
  readonly job: RunJob;
  /** Whether the parent's stderr is a terminal (the progress bar redraws in place then). */
  readonly tty: boolean;
  /** The task's channel to the parent (transferred). */
  readonly port: MessagePort;
}

/** Messages a task posts on its port. */
export type WorkerMessage = { readonly type: 'progress'; readonly text: string } | { readonly type: 'end' };

/**
 * Executes the task's run and resolves to its outcome; a failure rejects (the pool passes the error
 * to the parent).
 *
 * @param task - The run, the terminal flag and the port.
 * @returns The run's outcome.
 */
export default async function runTask(task: WorkerTask): Promise<RunOutcome> {
  const { job, tty, port } = task;
  const controller = new AbortController();
  port.on('message', (message) => {
    if (message === 'interrupt') controller.abort();
  });
  const post = (message: WorkerMessage) => port.postMessage(message);
  try {
    await useBackend(job.backend as BackendName);
    return await executeRun(
      job,
      { isTTY: tty, write: (text: string) => post({ type: 'progress', text }) },
      controller.signal,
    );
  } finally {
    releaseBackend();
    post({ type: 'end' });
    port.close();
  }
}
