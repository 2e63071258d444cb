/**
 * The two kinds of failure the command reports, mapped to exit codes by `main`:
 * `UsageError` (exit 2) for a bad command line, where the message lists what would have been valid,
 * and `RunError` (exit 1) for a run that could not proceed (a corrupt checkpoint, a backend that will
 * not start). Anything else is a bug and is reported with its stack.
 */

/** The command line is wrong: unknown command, option, task, model, or a bad value. Exit code 2. */
export class UsageError extends Error {
  /**
   * @param message - What is wrong and what is valid.
   */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The run could not proceed for a reason outside the command line (e.g. a corrupt checkpoint). Exit code 1. */
export class RunError extends Error {
  /**
   * @param message - What failed and what to do about it.
   * @param options - The underlying error, as `cause`.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunError';
  }
}
