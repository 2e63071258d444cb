/** Backend registration and selection, with a stand-in backend (no kernel is called). */
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  BackendError,
  backendNames,
  getBackend,
  registerBackend,
  setBackend,
} from '../src/index.js';

function standIn(name: string, disposed: string[]): Backend {
  // setBackend checks that an instance has a backend's members; none of them is ever called here.
  const never = () => {
    throw new Error(`stand-in backend '${name}' has no kernels`);
  };
  const members = ['write', 'fill', 'read', 'free', 'memory', 'unary', 'binary', 'reduce'];
  return {
    name,
    dispose: () => disposed.push(name),
    ...Object.fromEntries(members.map((m) => [m, never])),
  } as unknown as Backend;
}

describe('backend registry', () => {
  it('instantiates a registered factory once, on first selection', async () => {
    const disposed: string[] = [];
    let made = 0;
    registerBackend('stand-in', () => {
      made++;
      return standIn('stand-in', disposed);
    });
    expect(backendNames()).toContain('stand-in');
    expect(made).toBe(0);
    const a = await setBackend('stand-in');
    const b = await setBackend('stand-in');
    expect(a).toBe(b);
    expect(made).toBe(1);
    expect(getBackend()).toBe(a);
  });

  it('re-registering a name disposes the old instance and deselects it', async () => {
    const disposed: string[] = [];
    registerBackend('swap', () => standIn('swap-1', disposed));
    await setBackend('swap');
    registerBackend('swap', async () => standIn('swap-2', disposed));
    expect(disposed).toEqual(['swap-1']);
    expect(() => getBackend()).toThrow(BackendError);
    expect((await setBackend('swap')).name).toBe('swap-2');
  });

  it('an unknown name is a BackendError listing the registered ones', async () => {
    registerBackend('known', () => standIn('known', []));
    await expect(setBackend('nope')).rejects.toThrow(/no backend named 'nope'.*known/);
  });

  it('accepts an instance directly', async () => {
    const b = standIn('direct', []);
    expect(await setBackend(b)).toBe(b);
    expect(getBackend()).toBe(b);
  });
});
