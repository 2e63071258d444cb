/**
 * A hand-written progress bar for long work, on stderr so stdout stays clean for results.
 *
 * Design: on a TTY the bar redraws one line in place with `\r` (at most ~10 times a second); on a
 * pipe or a log file it prints a full line each time progress crosses another 5%, so logs stay
 * readable. Rates and the ETA count only the steps done in this process (a resumed run does not
 * pretend the restored steps were instant). The clock is injectable for tests.
 */

/** Where progress goes: a writable with an optional TTY flag (process.stderr fits). */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** True when the stream is an interactive terminal. */
  readonly isTTY?: boolean;
}

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Total number of steps. */
  readonly total: number;
  /** Short label printed before the bar, e.g. the model name. */
  readonly label?: string;
  /** The step the work starts from (resumed runs), default 0. */
  readonly start?: number;
  /** The stream (default: none, i.e. silent). */
  readonly stream?: ProgressStream;
  /** Width of the bar in characters (default 24). */
  readonly width?: number;
  /** Milliseconds clock (default `performance.now`). */
  readonly now?: () => number;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A progress bar: call `update` after each step, `finish` at the end. */
export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #start: number;
  readonly #stream: ProgressStream | undefined;
  readonly #width: number;
  readonly #now: () => number;
  readonly #t0: number;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #lastBucket: number;
  #step: number;
  #extra = '';
  #finished = false;

  /** @param options - Total, label, start step, stream, width, clock. */
  constructor(options: ProgressOptions) {
    this.#total = Math.max(1, options.total);
    this.#label = options.label ?? '';
    this.#start = options.start ?? 0;
    this.#step = this.#start;
    this.#stream = options.stream;
    this.#width = options.width ?? 24;
    this.#now = options.now ?? (() => performance.now());
    this.#t0 = this.#now();
    this.#lastBucket = Math.floor((this.#start / this.#total) * 20);
  }

  /** The line the bar would print now (without `\r` or newline). */
  render(): string {
    const frac = Math.min(1, this.#step / this.#total);
    const filled = Math.round(frac * this.#width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(this.#width - filled)}`;
    const elapsed = (this.#now() - this.#t0) / 1000;
    const done = this.#step - this.#start;
    const rate = elapsed > 0 && done > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (this.#total - this.#step) / rate : Number.NaN;
    const pad = String(this.#total).length;
    const label = this.#label ? `${this.#label} ` : '';
    const rateText = rate >= 10 ? rate.toFixed(0) : rate.toFixed(2);
    const timing = this.#finished ? `${formatDuration(elapsed)} total` : `ETA ${formatDuration(eta)}`;
    return `${label}${bar} ${String(this.#step).padStart(pad)}/${this.#total}${this.#extra ? ` ${this.#extra}` : ''} ${timing} ${rateText} steps/s`;
  }

  /**
   * Records progress.
   *
   * @param step - Steps done so far (absolute, including a resumed start).
   * @param extra - Text shown after the counter, e.g. `loss 0.0123`.
   */
  update(step: number, extra?: string): void {
    this.#step = step;
    if (extra !== undefined) this.#extra = extra;
    const stream = this.#stream;
    if (!stream) return;
    if (stream.isTTY) {
      const t = this.#now();
      if (t - this.#lastDraw < 100 && step < this.#total) return;
      this.#lastDraw = t;
      stream.write(`\r${this.render()}\x1b[K`);
      return;
    }
    const bucket = Math.floor((step / this.#total) * 20);
    if (bucket > this.#lastBucket) {
      this.#lastBucket = bucket;
      stream.write(`${this.render()}\n`);
    }
  }

  /** Prints a message above the bar (on a TTY the bar is redrawn below it). */
  log(message: string): void {
    const stream = this.#stream;
    if (!stream) return;
    if (stream.isTTY) stream.write(`\r\x1b[K${message}\n${this.render()}`);
    else stream.write(`${message}\n`);
  }

  /** Ends the bar: a final line with the total time. */
  finish(extra?: string): void {
    if (this.#finished) return;
    if (extra !== undefined) this.#extra = extra;
    this.#finished = true;
    const stream = this.#stream;
    if (!stream) return;
    if (stream.isTTY) stream.write(`\r${this.render()}\x1b[K\n`);
    else stream.write(`${this.render()}\n`);
  }
}

/**
 * Several progress bars sharing one stream (runs trained side by side). Each run writes to its own
 * `channel` exactly as a `ProgressBar` would write to a stream; on a TTY the display keeps one line per
 * channel and redraws the block in place, printing log lines above it; elsewhere lines pass through
 * unchanged (each write is whole lines, so runs interleave line by line).
 */
export class MultiProgress {
  readonly #stream: ProgressStream;
  readonly #lines = new Map<string, string>();
  #drawn = 0;

  /** @param stream - The shared stream (e.g. stderr). */
  constructor(stream: ProgressStream) {
    this.#stream = stream;
  }

  /** A stream for one bar, identified by `id`. */
  channel(id: string): ProgressStream {
    const tty = this.#stream.isTTY === true;
    return {
      isTTY: tty,
      write: (text: string) => {
        if (!tty) return this.#stream.write(text);
        this.#receive(id, text);
        return true;
      },
    };
  }

  /** Removes a finished channel's line from the live block (its final line was already logged above). */
  close(id: string): void {
    if (this.#stream.isTTY !== true || !this.#lines.delete(id)) return;
    this.#redraw([]);
  }

  #receive(id: string, text: string): void {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping the bar's own escape codes
    const clean = text.replace(/\x1b\[K/g, '');
    const parts = clean.split('\n').map((p) => p.slice(p.lastIndexOf('\r') + 1));
    const current = parts.pop() ?? '';
    const logs = parts.filter((p) => p.length > 0);
    // A write ending in a newline (a finished bar, a note) leaves nothing live for this channel.
    if (current) this.#lines.set(id, current);
    else this.#lines.delete(id);
    this.#redraw(logs);
  }

  #redraw(logs: readonly string[]): void {
    let out = this.#drawn > 0 ? `\x1b[${this.#drawn}A\r` : '\r';
    for (const log of logs) out += `${log}\x1b[K\n`;
    const lines = [...this.#lines.values()];
    for (const line of lines) out += `${line}\x1b[K\n`;
    // Clear lines left over from a taller block.
    for (let i = lines.length + logs.length; i < this.#drawn; i++) out += '\x1b[K\n';
    const extra = Math.max(0, this.#drawn - lines.length - logs.length);
    if (extra > 0) out += `\x1b[${extra}A`;
    this.#drawn = lines.length;
    this.#stream.write(out);
  }
}
