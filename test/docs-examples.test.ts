/**
 * The TypeScript in the READMEs and guides is the code users copy first, so it is tested like code:
 * every ```ts block is typechecked with `strict` against the built packages (the same .d.ts files a
 * user's editor sees, resolved from apps/docs, which depends on every package) and then run in a
 * fresh Node process, so that one block's backend or seed never leaks into the next.
 *
 * Info-string flags, after `ts`:
 * - `no-run`: typechecked only (needs a GPU, a browser, or is long). Every block typechecks.
 * - `continued`: appended to the previous block of the same file (itself possibly continued), for
 *   prose that builds an example in steps; the concatenation is checked and run as a test of its own.
 * An unknown flag fails the suite, so a typo cannot silently skip a block.
 *
 * Needs a build first (`pnpm build`): it checks the packages' dist/ declarations.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Under apps/docs so that `@mru/*` resolves through its node_modules, as in a user's project.
const workDir = join(root, 'apps/docs/.examples');
const FLAGS = new Set(['no-run', 'continued']);

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly run: boolean;
}

/** The markdown files whose code users read: root and package READMEs, the guides, the landing page. */
function documents(): string[] {
  const out = ['README.md'];
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, parent)).sort()) {
      const readme = join(parent, name, 'README.md');
      if (existsSync(join(root, readme))) out.push(readme);
    }
  }
  for (const dir of ['apps/docs', 'apps/docs/guides']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (name.endsWith('.md') && name !== 'README.md') out.push(join(dir, name));
    }
  }
  return out;
}

/** Splits a markdown file into its ts blocks, joining `continued` ones onto their predecessor. */
function extractBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]);
    if (!open) continue;
    const flags = open[3].trim().split(/\s+/).filter(Boolean);
    for (const f of flags) {
      if (!FLAGS.has(f)) throw new Error(`${file}:${i + 1}: unknown code block flag '${f}'`);
    }
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (i === lines.length) throw new Error(`${file}:${start}: unclosed code block`);
    const code = body.map((l) => l.slice(open[1].length)).join('\n');
    if (flags.includes('continued')) {
      // The earlier blocks stay tests of their own, so a `no-run` continuation (a vitest file, say)
      // does not stop what comes before it from running.
      const prev = blocks.at(-1);
      if (!prev) throw new Error(`${file}:${start}: a 'continued' block needs a ts block before it`);
      blocks.push({ file, line: start, code: `${prev.code}\n${code}`, run: !flags.includes('no-run') });
    } else {
      blocks.push({ file, line: start, code, run: !flags.includes('no-run') });
    }
  }
  return blocks;
}

const blocks = documents().flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
const fileOf = (b: Block): string => join(workDir, `${b.file.replace(/[/.]/g, '_')}_L${b.line}.ts`);

// What a user's strict project would use: ESM, Node resolution of the packages' `exports`.
const options: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  typeRoots: [join(root, 'node_modules/@types')],
  skipLibCheck: true,
  noUnusedLocals: false,
};

function typecheck(): Map<string, string[]> {
  mkdirSync(workDir, { recursive: true });
  // The blocks are ES modules with top-level await: a package.json with "type": "module" says so.
  writeFileSync(join(workDir, 'package.json'), '{ "type": "module", "private": true }\n');
  for (const b of blocks) writeFileSync(fileOf(b), ensureModule(b.code));
  const program = ts.createProgram(blocks.map(fileOf), options);
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file ? d.file.fileName : '(global)';
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
    const msg = `${where ? `line ${where.line + 1}: ` : ''}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    errors.set(name, [...(errors.get(name) ?? []), msg]);
  }
  return errors;
}

/** A block with no import is a script to TypeScript; `export {}` makes it a module like the rest. */
function ensureModule(code: string): string {
  return /^\s*(import|export)\s/m.test(code) ? code : `${code}\nexport {};\n`;
}

describe('README and guide code', () => {
  let errors: Map<string, string[]> | undefined;
  const diagnostics = (): Map<string, string[]> => {
    errors ??= typecheck();
    return errors;
  };
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('finds the blocks', () => {
    // The root README, the core and models READMEs and the guides all carry examples.
    expect(blocks.length).toBeGreaterThanOrEqual(15);
    expect(new Set(blocks.map((b) => b.file))).toContain('README.md');
  });

  for (const b of blocks) {
    const label = `${b.file}:${b.line}`;
    it(`${label} typechecks under --strict`, () => {
      const own = diagnostics().get(fileOf(b)) ?? [];
      expect(own, `${label}\n${b.code}`).toEqual([]);
    });
    if (b.run) {
      it(`${label} runs`, async () => {
        diagnostics();
        const js = ts.transpileModule(ensureModule(b.code), {
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
        }).outputText;
        const jsFile = fileOf(b).replace(/\.ts$/, '.mjs');
        writeFileSync(jsFile, js);
        // Exit code 0 is the check (a block asserts nothing more than that it runs); a failing
        // block reports its stderr. Dawn and gpu.js print warnings on success, so stderr may be set.
        await run(process.execPath, [jsFile], { cwd: workDir, timeout: 90_000 }).catch(
          (e: { stderr?: string; message: string }) => {
            throw new Error(`${label} failed:\n${e.stderr || e.message}`);
          },
        );
      });
    }
  }
});
