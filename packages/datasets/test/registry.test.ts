import { describe, expect, it } from 'vitest';
import { createTask, isTaskName, OptionError, taskNames, tasks, UnknownTaskError } from '../src/index.js';

describe('registry', () => {
  it('lists every task with its options', () => {
    expect([...taskNames].sort()).toEqual(
      [
        'adding',
        'copy-first-input',
        'denoising',
        'flip-flop',
        'permuted-mnist',
        'selective-copy',
        'sequential-mnist',
      ].sort(),
    );
    for (const name of taskNames) {
      const entry = tasks[name];
      expect(entry.options.some((spec) => spec.name === 'seed')).toBe(true);
      for (const spec of entry.options) expect(spec.description.length).toBeGreaterThan(0);
    }
    expect(isTaskName('adding')).toBe(true);
    expect(isTaskName('toString')).toBe(false);
  });

  it('creates tasks by name with options', async () => {
    const task = await createTask('denoising', { noEnd: 200, seed: 1 });
    expect(task.name).toBe('denoising');
    expect(task.options).toEqual({ length: 400, noEnd: 200, relevant: 5, seed: 1 });
    const untyped = await createTask('flip-flop' as string, { length: 7 });
    expect(untyped.sequenceLength).toBe(7);
  });

  it('rejects an unknown name, listing the valid ones', async () => {
    await expect(createTask('copy-first')).rejects.toThrow(UnknownTaskError);
    await expect(createTask('copy-first')).rejects.toThrow(
      'unknown task "copy-first"; valid tasks: copy-first-input, denoising, sequential-mnist, permuted-mnist, adding, flip-flop, selective-copy',
    );
  });

  it('passes option errors through', async () => {
    await expect(createTask('adding', { length: 1 })).rejects.toThrow(OptionError);
    await expect(createTask('adding', { length: 1 })).rejects.toThrow(/"length" must be an integer in \[2, /);
  });
});
