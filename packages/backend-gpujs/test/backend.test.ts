/**
 * What the conformance kit cannot see from outside: which work runs in gpu.js kernels and which on
 * the host, that kernels are compiled once per (op, rank) whatever the shapes, the scan plan's
 * choices, the geometry simplification, and creation errors. Runs in gpu.js's CPU mode.
 */
import { cpuBackend } from '@mru/backend-cpu';
import { BackendError, type DataId, type DType, type KernelTensor } from '@mru/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GpujsBackend, gpujsBackend, scanPlan, simplifyGeometry } from '../src/index.js';

let be: GpujsBackend;
beforeEach(async () => {
  be = await gpujsBackend();
});
afterEach(() => be.dispose());

function put(values: number[], shape: number[], dtype: DType = 'float32'): KernelTensor {
  const arr =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'int32'
        ? Int32Array.from(values)
        : Uint8Array.from(values);
  return { id: be.write(arr, dtype), shape, dtype };
}
function read(id: DataId, shape: number[], dtype: DType = 'float32'): number[] {
  return Array.from(be.readSync({ id, shape, dtype }));
}

describe('gpu.js backend: where work runs', () => {
  it("names gpu.js's mode and runs Node in cpu mode by default, webasm on request", async () => {
    expect(be.name).toBe('gpujs');
    expect(be.mode).toBe('cpu');
    const wasm = await gpujsBackend({ mode: 'webasm' });
    try {
      expect(wasm.mode).toBe('webasm');
    } finally {
      wasm.dispose();
    }
  });

  it('rejects a gpu.js mode that cannot run here with a BackendError naming it', async () => {
    const made = gpujsBackend({ mode: 'headlessgl' });
    await expect(made).rejects.toBeInstanceOf(BackendError);
    await expect(gpujsBackend({ mode: 'headlessgl' })).rejects.toThrow(/headlessgl/);
  });

  it('runs float32 primitives as gpu.js kernels', () => {
    const x = put([1, -2, 3, -4, 5, -6], [2, 3]);
    const y = put([10, 20, 30], [3]);
    const before = be.kernelCalls;
    expect(read(be.binary('add', x, y, [2, 3]), [2, 3])).toEqual([11, 18, 33, 6, 25, 24]);
    expect(read(be.unary('abs', x), [2, 3])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(read(be.reduce('sum', x, [0]), [3])).toEqual([-3, 3, -3]);
    expect(read(be.binary('gt', x, y, [2, 3]), [2, 3], 'bool')).toEqual([0, 0, 0, 0, 0, 0]);
    expect(be.kernelCalls - before).toBeGreaterThanOrEqual(4);
  });

  it('runs int32 and bool primitives, random and cast on the host, exactly', () => {
    const before = be.kernelCalls;
    const big = put([2147483647, -2147483648, 16777217], [3], 'int32');
    const one = put([1, -1, 1], [3], 'int32');
    // int32 wraps, and 2^24 + 1 survives: neither would in a float32 shader.
    expect(read(be.binary('add', big, one, [3]), [3], 'int32')).toEqual([-2147483648, 2147483647, 16777218]);
    const p = put([1, 0, 1], [3], 'bool');
    const q = put([1, 1, 0], [3], 'bool');
    expect(read(be.binary('and', p, q, [3]), [3], 'bool')).toEqual([1, 0, 0]);
    const cpu = cpuBackend();
    const bits = cpu.random('bits', 8, [7, 9], 3);
    expect(read(be.random('bits', 8, [7, 9], 3), [8], 'int32')).toEqual(
      Array.from(cpu.readSync({ id: bits, shape: [8], dtype: 'int32' })),
    );
    cpu.dispose();
    expect(read(be.cast(put([1.7, -2.5, 0], [3]), 'int32'), [3], 'int32')).toEqual([1, -2, 0]);
    expect(be.kernelCalls).toBe(before);
  });

  it('compiles one kernel per op and rank, whatever the shapes', () => {
    const run = (n: number, m: number) => {
      const x = put(
        Array.from({ length: n * m }, (_, i) => i),
        [n, m],
      );
      const col = put(
        Array.from({ length: n }, (_, i) => i),
        [n, 1],
      );
      return read(be.binary('mul', x, col, [n, m]), [n, m]);
    };
    expect(run(2, 3)).toEqual([0, 0, 0, 3, 4, 5]);
    const compiled = be.compiledKernels;
    expect(run(5, 7)[7 * 4 + 6]).toBe(34 * 4);
    expect(run(3, 11)[11 * 2]).toBe(22 * 2);
    expect(be.compiledKernels).toBe(compiled);
  });

  it('checks gather indices on the host and throws on one out of range', () => {
    const x = put([1, 2, 3, 4], [2, 2]);
    const idx = put([1, 0, 1], [3], 'int32');
    expect(read(be.gather(x, idx, 0), [3, 2])).toEqual([3, 4, 1, 2, 3, 4]);
    expect(() => be.gather(x, put([0, 2], [2], 'int32'), 0)).toThrow(/index 2 .*out of range/);
  });

  it('refuses buffers of another backend and freed buffers', async () => {
    const other = await gpujsBackend();
    const foreign = {
      id: other.write(new Float32Array(2), 'float32'),
      shape: [2],
      dtype: 'float32' as const,
    };
    expect(() => be.unary('neg', foreign)).toThrow(BackendError);
    other.dispose();
    const x = put([1, 2], [2]);
    be.free(x.id);
    expect(() => be.unary('neg', x)).toThrow(/already freed/);
  });
});

describe('gpu.js backend: scan plans', () => {
  it('chooses the direct plan up to 32 steps and 16-step chunks beyond', () => {
    expect(scanPlan(1)).toEqual({ len: 1, chunks: 1 });
    expect(scanPlan(32)).toEqual({ len: 32, chunks: 1 });
    expect(scanPlan(33)).toEqual({ len: 16, chunks: 3 });
    expect(scanPlan(100_000)).toEqual({ len: 16, chunks: 6250 });
    expect(scanPlan(10, 3)).toEqual({ len: 3, chunks: 4 });
    expect(scanPlan(2, 5)).toEqual({ len: 2, chunks: 1 });
  });

  it('gives the same scan as the CPU backend on both plans, both ways, with h0 and a broadcast a', async () => {
    const [B, T, C] = [2, 50, 3];
    const x = Float32Array.from({ length: B * T * C }, (_, i) => Math.sin(i) * 0.5);
    const a = Float32Array.from({ length: C }, (_, i) => 0.9 - 0.3 * i);
    const h0 = Float32Array.from({ length: B * C }, (_, i) => i - 2);
    const cpu = cpuBackend();
    for (const chunk of [0, 1, 7, 50]) {
      const g = await gpujsBackend({ scanChunk: chunk });
      for (const reverse of [false, true]) {
        const args = (b: typeof cpu | typeof g) => ({
          a: { id: b.write(a, 'float32'), shape: [C], dtype: 'float32' as const },
          x: { id: b.write(x, 'float32'), shape: [B, T, C], dtype: 'float32' as const },
          h0: { id: b.write(h0, 'float32'), shape: [B, C], dtype: 'float32' as const },
          reverse,
        });
        const want = cpu.readSync({ id: cpu.scan(args(cpu)), shape: [B, T, C], dtype: 'float32' });
        const got = g.readSync({ id: g.scan(args(g)), shape: [B, T, C], dtype: 'float32' });
        for (let i = 0; i < want.length; i++) {
          expect(Math.abs(got[i] - want[i]), `chunk ${chunk} reverse ${reverse} at ${i}`).toBeLessThanOrEqual(
            1e-5 * (1 + Math.abs(want[i])),
          );
        }
      }
      g.dispose();
    }
    cpu.dispose();
  });
});

describe('simplifyGeometry', () => {
  it('merges dimensions contiguous in every operand and drops size-1 ones', () => {
    expect(simplifyGeometry([2, 3, 4], [[12, 4, 1]])).toEqual({ shape: [24], strides: [[1]] });
    expect(
      simplifyGeometry(
        [2, 1, 4],
        [
          [4, 4, 1],
          [0, 0, 1],
        ],
      ),
    ).toEqual({
      shape: [2, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    });
    expect(simplifyGeometry([], [[]])).toEqual({ shape: [1], strides: [[0]] });
    expect(simplifyGeometry([3, 2], [[1, 3]])).toEqual({ shape: [3, 2], strides: [[1, 3]] });
  });
});
