/** The host-array pool: freed large arrays are reused, zeroed where a kernel relies on it, bounded. */
import { afterEach, describe, expect, it } from 'vitest';
import { clearHostPool, cpuBackend, hostPoolBytes } from '../src/index.js';
import { hostArray, recycle } from '../src/pool.js';

describe('cpu host-array pool', () => {
  afterEach(() => clearHostPool());

  it('reuses a freed array of the same dtype and length, zeroed unless asked not to', () => {
    clearHostPool();
    const a = hostArray('float32', 1 << 16) as Float32Array;
    a.fill(7);
    recycle(a);
    expect(hostPoolBytes()).toBe(4 << 16);
    expect(hostArray('int32', 1 << 16)).not.toBe(a); // another dtype: fresh
    const b = hostArray('float32', 1 << 16);
    expect(b).toBe(a);
    expect(b.every((v) => v === 0)).toBe(true);
    expect(hostPoolBytes()).toBe(0);
    b.fill(3);
    recycle(b);
    const c = hostArray('float32', 1 << 16, false);
    expect(c).toBe(a);
    expect(c[0]).toBe(3); // the caller promised to overwrite every element
  });

  it('never pools small arrays', () => {
    clearHostPool();
    recycle(new Float32Array(100));
    expect(hostPoolBytes()).toBe(0);
  });

  it('a freed buffer is reused by the next kernel of its size, which still computes exactly', async () => {
    clearHostPool();
    const be = cpuBackend();
    const n = 1 << 15;
    const x = be.write(new Float32Array(n).fill(2), 'float32');
    const t = { id: x, shape: [n], dtype: 'float32' as const };
    const y = be.unary('neg', t);
    be.free(y);
    expect(be.memory().pooledBytes).toBe(4 * n);
    const z = be.binary('add', t, t, [n]);
    expect(be.memory().pooledBytes).toBe(0);
    expect(Array.from(be.readSync({ id: z, shape: [n], dtype: 'float32' }).slice(0, 3))).toEqual([4, 4, 4]);
    // A pad into a pooled array (it held 4s) still has its zero edges.
    be.free(z);
    const inner = be.write(new Float32Array(n - 2).fill(2), 'float32');
    const p = be.pad({ id: inner, shape: [n - 2], dtype: 'float32' }, [[1, 1]], 0);
    const pv = be.readSync({ id: p, shape: [n], dtype: 'float32' });
    expect([pv[0], pv[1], pv[n - 2], pv[n - 1]]).toEqual([0, 2, 2, 0]);
    be.dispose();
  });
});
