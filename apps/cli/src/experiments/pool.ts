/**
 * Executing the runs of an experiment: one at a time in-process, or side by side in worker threads
 * through tinypool, a small, maintained pool (no dependencies; the pool vitest grew up on) that
 * queues the runs, starts a fresh thread for each (`isolateWorkers`), caps how many run at once and
 * terminates what is left when we are done, instead of a hand-written queue of lanes and
 * `Worker` bookkeeping. What stays here is ours: the progress channel of each run and the
 * interrupt, which must stop a run gracefully (it saves its checkpoint) rather than kill its thread,
 * so it travels as a message on the run's own port.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import Tinypool from 'tinypool';
import { RunError } from '../errors.js';
import { MultiProgress, type ProgressStream } from '../progress.js';
import { executeRun, type RunJob, type RunOutcome } from '../runs.js';
import { interruptible } from './interrupt.js';
import type { WorkerMessage, WorkerTask } from './worker.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * Whether runs can go to worker threads: workers need the compiled module (tests run the TypeScript
 * sources, where runs execute in-process).
 */
export const WORKER_AVAILABLE =
  WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL)) && import.meta.url.endsWith('.js');

/** Runs side by side by default: one per core, at most 2 (the presets' runs are small). */
export function defaultJobs(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/**
 * Executes the runs, `parallel` at a time (worker threads when above 1), keeping their order in the
 * result. Ctrl-C stops every active run between steps (each saves its `last` checkpoint) and starts
 * no new one; the outcomes of the runs that ran are then returned, marked stopped.
 *
 * @param jobs - The runs.
 * @param parallel - How many at once.
 * @param stream - Where progress goes (none when quiet).
 * @returns One outcome a run, in order (fewer when interrupted).
 */
export async function runAll(
  jobs: readonly RunJob[],
  parallel: number,
  stream: ProgressStream | undefined,
): Promise<RunOutcome[]> {
  const display = stream ? new MultiProgress(stream) : undefined;
  if (parallel <= 1) {
    const outcomes: RunOutcome[] = [];
    for (const job of jobs) {
      const outcome = await executeRun(job, display?.channel(job.label));
      display?.close(job.label);
      outcomes.push(outcome);
      if (outcome.result.stopped) break;
    }
    return outcomes;
  }
  const pool = new Tinypool({ filename: WORKER_URL.href, maxThreads: parallel, isolateWorkers: true });
  const active = new Set<MessagePort>();
  const tty = stream?.isTTY === true;
  try {
    return await interruptible(
      () => {
        pool.cancelPendingTasks();
        for (const port of active) port.postMessage('interrupt');
      },
      async (state) => {
        const runOne = async (job: RunJob): Promise<RunOutcome | undefined> => {
          const { port1, port2 } = new MessageChannel();
          const channel = display?.channel(job.label);
          // Progress and the result travel on different channels: wait for the task's last message.
          const ended = new Promise<void>((resolve) => {
            port1.on('message', (message: WorkerMessage) => {
              if (message.type === 'progress') channel?.write(message.text);
              else resolve();
            });
            port1.on('close', () => resolve());
          });
          active.add(port1);
          try {
            const task: WorkerTask = { job, tty, port: port2 };
            const outcome = (await pool.run(task, { transferList: [port2] })) as RunOutcome;
            await ended;
            return outcome;
          } catch (error) {
            // A run still queued when Ctrl-C came was cancelled: it never started.
            if (state.interrupted) return undefined;
            throw new RunError(`${job.spec.name}: ${(error as Error)?.message ?? String(error)}`, {
              cause: error,
            });
          } finally {
            active.delete(port1);
            port1.close();
            display?.close(job.label);
          }
        };
        const outcomes = await Promise.all(jobs.map(runOne));
        const ran = outcomes.filter((o): o is RunOutcome => o !== undefined);
        return state.interrupted ? ran.map((o) => ({ ...o, result: { ...o.result, stopped: true } })) : ran;
      },
    );
  } finally {
    await pool.destroy();
  }
}
