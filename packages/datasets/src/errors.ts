/**
 * Typed errors of `@mru/datasets`. Every error names what was wrong (the task, the option, the
 * argument) and what would have been accepted, so a command-line user can fix the call from the
 * message alone.
 */

/** Base class of every error thrown by `@mru/datasets`. */
export class DatasetError extends Error {
  /**
   * @param message - The full message.
   */
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** A task option is unknown, of the wrong type, or out of its valid range. */
export class OptionError extends DatasetError {
  /** The task whose options were rejected. */
  readonly task: string;
  /** The offending option's name. */
  readonly option: string;

  /**
   * @param task - The task name.
   * @param option - The option name.
   * @param message - What is wrong and what is valid.
   */
  constructor(task: string, option: string, message: string) {
    super(`${task}: ${message}`);
    this.name = 'OptionError';
    this.task = task;
    this.option = option;
  }
}

/** `createTask` was given a name that is not in the registry. */
export class UnknownTaskError extends DatasetError {
  /** The name that was asked for. */
  readonly requested: string;
  /** The names that exist. */
  readonly valid: readonly string[];

  /**
   * @param requested - The unknown name.
   * @param valid - The registered names.
   */
  constructor(requested: string, valid: readonly string[]) {
    super(`unknown task ${JSON.stringify(requested)}; valid tasks: ${valid.join(', ')}`);
    this.name = 'UnknownTaskError';
    this.requested = requested;
    this.valid = valid;
  }
}

/** A call's argument is invalid: a bad split, batch index or batch size, or predictions of the wrong size. */
export class ArgumentError extends DatasetError {
  /**
   * @param message - What is wrong and what is valid.
   */
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}
