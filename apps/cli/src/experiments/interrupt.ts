/**
 * Ctrl-C during an experiment. Signals reach the main thread only, so the parent turns a SIGINT
 * into a message to every running worker (each stops between steps and saves its `last`
 * checkpoint) and starts no new run. A run executed in-process (one job at a time) handles SIGINT
 * itself, in the training loop.
 */

/** The state of an interruptible section. */
export interface Interruption {
  /** True once SIGINT arrived. */
  readonly interrupted: boolean;
}

/**
 * Runs `fn` with a SIGINT handler installed: the first SIGINT sets `interrupted` and calls
 * `onInterrupt` (once); the handler is removed when `fn` settles.
 *
 * @param onInterrupt - What to do on the first SIGINT.
 * @param fn - The section; it receives the interruption state to poll.
 * @returns What `fn` returns.
 */
export async function interruptible<T>(
  onInterrupt: () => void,
  fn: (state: Interruption) => Promise<T>,
): Promise<T> {
  const state = { interrupted: false };
  const handler = () => {
    state.interrupted = true;
    onInterrupt();
  };
  process.once('SIGINT', handler);
  try {
    return await fn(state);
  } finally {
    process.removeListener('SIGINT', handler);
  }
}
