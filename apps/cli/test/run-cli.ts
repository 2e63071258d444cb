/** Runs the `mru` command in-process with captured output: shared by the CLI test files. */
import { type Io, main } from '../src/main.js';

/** An `Io` that records what the command writes (stderr is not a TTY, so no progress bars). */
function capture(): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: {
      write: (s: string) => {
        out += s;
        return true;
      },
    },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
      isTTY: false,
    },
    out: () => out,
    err: () => err,
  };
}

/** `mru ...argv`: its exit code and everything it printed. */
export async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}
