/**
 * Typed errors. Every error raised at a public boundary of mru is one of these, and its message names
 * the op, the shapes and the dtypes involved, so a user can fix the call without a debugger.
 */

/**
 * Base class of every error mru throws on purpose.
 *
 * @category Errors
 */
export class MruError extends Error {
  /** The op or function that raised the error, e.g. `'matmul'`. */
  readonly op: string;
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    // Set explicitly in every subclass too: a minifier renames classes, so `new.target.name` could
    // read "r" in a production bundle, and `err.name` is what users and logs match on.
    this.name = 'MruError';
    this.op = op;
  }
}

/**
 * Shapes that do not fit the op: incompatible broadcast, wrong rank, mismatched inner dimensions...
 *
 * @category Errors
 */
export class ShapeError extends MruError {
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'ShapeError';
  }
}

/**
 * A dtype the op does not accept, or two operands whose dtypes differ.
 *
 * @category Errors
 */
export class DTypeError extends MruError {
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'DTypeError';
  }
}

/**
 * Backend trouble: tensors of two backends meet, no backend registered, a lost device, no sync read.
 *
 * @category Errors
 */
export class BackendError extends MruError {
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'BackendError';
  }
}

/**
 * A tensor was used after `dispose()`.
 *
 * @category Errors
 */
export class DisposedError extends MruError {
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'DisposedError';
  }
}

/**
 * A bad argument that is neither a shape nor a dtype: an out-of-range axis, a negative size, NaN seed.
 *
 * @category Errors
 */
export class ValueError extends MruError {
  /**
   * @param op - The op (or function) that failed, first in the message.
   * @param message - What went wrong, with the shapes and dtypes involved.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'ValueError';
  }
}

/**
 * Two copies of `@mru/core` were loaded in one process (or one bundle). A tensor of one copy is not a
 * tensor of the other, so every op would fail later with a misleading error: this one is raised as
 * soon as the second copy loads, and by either copy's `registerBackend` and `setBackend` after that.
 *
 * @category Errors
 */
export class DuplicateCoreError extends MruError {
  /**
   * @param op - Where the second copy was detected (the module load, `registerBackend`, `setBackend`).
   * @param message - Both versions, where each was loaded from, and how to dedupe.
   */
  constructor(op: string, message: string) {
    super(op, message);
    this.name = 'DuplicateCoreError';
  }
}

/**
 * Formats a shape as `[2,3]` for messages.
 *
 * @param shape - A shape.
 * @category Shapes and dtypes
 */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
