import { BackendError, DTypeError } from '@mru/core';
import { describe, expect, it } from 'vitest';
import { CpuBackend, cpuBackend } from '../src/index.js';

describe('storage', () => {
  it('is named cpu and is a fresh instance per factory call', () => {
    const a = cpuBackend();
    const b = cpuBackend();
    expect(a).toBeInstanceOf(CpuBackend);
    expect(a.name).toBe('cpu');
    expect(a).not.toBe(b);
  });

  it('write copies its input and read/readSync return independent copies', async () => {
    const be = cpuBackend();
    const src = new Float32Array([1, 2, 3]);
    const id = be.write(src, 'float32');
    src[0] = 99;
    const t = { id, shape: [3], dtype: 'float32' as const };
    const r1 = be.readSync(t);
    expect(Array.from(r1)).toEqual([1, 2, 3]);
    r1[1] = -5;
    const r2 = await be.read(t);
    expect(r2).toBeInstanceOf(Float32Array);
    expect(Array.from(r2)).toEqual([1, 2, 3]);
    be.free(id);
  });

  it('normalises bool values to 0/1 and refuses a typed array of the wrong kind', () => {
    const be = cpuBackend();
    const id = be.write(new Uint8Array([0, 2, 255, 1]), 'bool');
    expect(Array.from(be.readSync({ id, shape: [4], dtype: 'bool' }))).toEqual([0, 1, 1, 1]);
    expect(() => be.write(new Float32Array(2), 'int32')).toThrow(DTypeError);
    be.free(id);
  });

  it('fill casts the value to the dtype', () => {
    const be = cpuBackend();
    const cases: [Parameters<CpuBackend['fill']>[1], number, number[]][] = [
      ['float32', 0.1, [Math.fround(0.1), Math.fround(0.1)]],
      ['int32', -2.7, [-2, -2]],
      ['int32', 16777217, [16777217, 16777217]],
      ['int32', 1e10, [2147483647, 2147483647]],
      ['bool', 0.5, [1, 1]],
      ['bool', 0, [0, 0]],
    ];
    for (const [dtype, value, want] of cases) {
      const id = be.fill(2, dtype, value);
      expect(Array.from(be.readSync({ id, shape: [2], dtype }))).toEqual(want);
      be.free(id);
    }
    const empty = be.fill(0, 'float32', 3);
    expect(be.readSync({ id: empty, shape: [0], dtype: 'float32' }).length).toBe(0);
    be.free(empty);
  });

  it('memory() counts exact bytes and buffers, back to zero after frees', () => {
    const be = cpuBackend();
    expect(be.memory()).toEqual({ bytes: 0, buffers: 0, pooledBytes: 0 });
    const f = be.write(new Float32Array(10), 'float32');
    const i = be.fill(3, 'int32', 1);
    const b = be.write(new Uint8Array(5), 'bool');
    expect(be.memory()).toEqual({ bytes: 40 + 12 + 5, buffers: 3, pooledBytes: 0 });
    const sum = be.binary(
      'add',
      { id: f, shape: [10], dtype: 'float32' },
      { id: f, shape: [10], dtype: 'float32' },
      [10],
    );
    expect(be.memory().bytes).toBe(97);
    expect(be.memory().buffers).toBe(4);
    be.free(i);
    expect(be.memory()).toEqual({ bytes: 85, buffers: 3, pooledBytes: 0 });
    for (const id of [f, b, sum]) be.free(id);
    expect(be.memory()).toEqual({ bytes: 0, buffers: 0, pooledBytes: 0 });
  });

  it('a double free or a use after free throws a BackendError naming the op', () => {
    const be = cpuBackend();
    const id = be.write(new Float32Array([1]), 'float32');
    be.free(id);
    expect(() => be.free(id)).toThrow(BackendError);
    expect(() => be.free(id)).toThrow(/^free: .*already freed/);
    expect(() => be.unary('neg', { id, shape: [1], dtype: 'float32' })).toThrow(/^neg: /);
    expect(be.memory().buffers).toBe(0);
  });

  it('refuses buffers of another backend and operands whose shape disagrees with the buffer', () => {
    const a = cpuBackend();
    const b = cpuBackend();
    const id = a.write(new Float32Array([1, 2]), 'float32');
    expect(() => b.readSync({ id, shape: [2], dtype: 'float32' })).toThrow(BackendError);
    expect(() => a.readSync({ id, shape: [3], dtype: 'float32' })).toThrow(/needs 3 elements/);
    expect(() => a.readSync({ id, shape: [2], dtype: 'int32' })).toThrow(DTypeError);
    a.free(id);
  });

  it('dispose releases every buffer and makes the backend unusable', () => {
    const be = cpuBackend();
    const id = be.write(new Float32Array(8), 'float32');
    be.fill(4, 'int32', 0);
    be.dispose();
    expect(be.memory()).toEqual({ bytes: 0, buffers: 0, pooledBytes: 0 });
    expect(() => be.readSync({ id, shape: [8], dtype: 'float32' })).toThrow(/disposed/);
    expect(() => be.fill(1, 'float32', 0)).toThrow(BackendError);
    expect(() => be.free(id)).not.toThrow(); // tensors outliving their backend can still be disposed
  });
});
