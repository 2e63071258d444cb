/**
 * The training guide's example is real: this test takes the first TypeScript block of
 * `apps/docs/guides/training.md` verbatim, runs it as a module (so its imports resolve as a user's
 * would, through the workspace packages), and checks what it prints: a BMRU network that learned the
 * flip-flop task. A guide edit that breaks the code, or makes it stop learning, fails here.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** The first ```ts block of a markdown file. */
function firstTsBlock(markdown: string): string {
  const match = /```ts\n([\s\S]*?)\n```/.exec(markdown);
  if (!match) throw new Error('no ```ts block');
  return `${match[1]}\n`;
}

const generated = join(here, `.training-guide-${process.pid}.ts`);
afterEach(() => rmSync(generated, { force: true }));

// Bounded by its 60 training steps, not by seconds (a loaded machine is slow, never wrong).
it('the training guide trains a BMRU to solve flip-flop, as it says', { timeout: 0 }, async () => {
  const code = firstTsBlock(readFileSync(join(here, '..', 'guides', 'training.md'), 'utf8'));
  expect(code).toContain('trainStep');
  expect(code).toContain('evaluate(');
  writeFileSync(generated, code);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  try {
    await import(/* @vite-ignore */ generated);
  } finally {
    log.mockRestore();
  }
  expect(lines).toHaveLength(1);
  const match = /^test accuracy (\d\.\d{3}) \(loss (\d+\.\d{4})\)$/.exec(lines[0]);
  expect(match).not.toBeNull();
  // Chance is about 0.5 (two bits); the guide promises every step right.
  expect(Number(match?.[1])).toBe(1);
  expect(Number(match?.[2])).toBeLessThan(0.01);
});
