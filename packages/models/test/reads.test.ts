/**
 * Reading values back, on every backend: the async reads (`data`, `array`, `item`) work everywhere;
 * the sync twins (`dataSync`, `arraySync`, `itemSync`) work where the backend reads synchronously
 * (CPU, gpu.js) and elsewhere (WebGPU) throw a `BackendError` naming the method called and its async
 * twin. Lives with the models' tests because their helper already runs a suite on all three backends.
 */
import {
  BackendError,
  DisposedError,
  getBackend,
  matmul,
  ShapeError,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '@mru/core';
import { expect, it } from 'vitest';
import { describeOnBackends } from './helpers.js';

/** The sync reads of `t` as [method, async twin, read]. */
const syncReads = (t: Tensor) =>
  [
    ['dataSync', 'data', () => Array.from(t.dataSync())],
    ['arraySync', 'array', () => t.arraySync()],
    ['itemSync', 'item', () => t.itemSync()],
  ] as const;

describeOnBackends('tensor reads', () => {
  it('await data(), array() and item() return the values, row-major and nested, for every dtype', async () => {
    const f = tensor([
      [1.5, -2, 3],
      [4, 5.25, -6],
    ]);
    expect(Array.from(await f.data())).toEqual([1.5, -2, 3, 4, 5.25, -6]);
    expect(await f.array()).toEqual([
      [1.5, -2, 3],
      [4, 5.25, -6],
    ]);
    const i = tensor(new Int32Array([7, -8, 9, 10]), { shape: [2, 1, 2] });
    expect(await i.array()).toEqual([[[7, -8]], [[9, 10]]]);
    const b = tensor(new Uint8Array([1, 0, 1]), { shape: [3], dtype: 'bool' });
    expect(await b.array()).toEqual([true, false, true]);
    expect(await tensor(new Uint8Array([1]), { shape: [], dtype: 'bool' }).item()).toBe(1);
    expect(await tensor(-3.5).item()).toBe(-3.5);
    expect(await tensor(new Int32Array([42]), { shape: [1, 1] }).item()).toBe(42);
    expect(await tensor(2.5).array()).toBe(2.5);
  });

  it('await item() reads a computed value: sum of a matmul against its float64 reference', async () => {
    const a = [0.1, -0.7, 1.3, 2.2, 0.45, -1.9];
    const b = [1.1, 0.3, -0.8, 0.6, 2.5, -0.2];
    const v = await tidy(() =>
      sum(matmul(tensor(a, { shape: [2, 3] }), tensor(b, { shape: [3, 2] }))),
    ).item();
    let ref = 0;
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 2; c++) for (let k = 0; k < 3; k++) ref += a[r * 3 + k] * b[k * 2 + c];
    expect(Math.abs(v - ref)).toBeLessThan(1e-5);
  });

  it('item() rejects a tensor of more than one element, and a disposed tensor, naming Tensor.item', async () => {
    const t = tensor([1, 2]);
    await expect(t.item()).rejects.toThrow(ShapeError);
    await expect(t.item()).rejects.toThrow('Tensor.item: tensor of shape [2] has 2 elements, not 1');
    expect(() => t.itemSync()).toThrow('Tensor.itemSync: tensor of shape [2] has 2 elements, not 1');
    const s = tensor(1);
    s.dispose();
    await expect(s.item()).rejects.toThrow(DisposedError);
    await expect(s.item()).rejects.toThrow(/^Tensor\.item: /);
    await expect(s.array()).rejects.toThrow(/^Tensor\.data: /);
  });

  it('the sync reads agree with the async ones where the backend reads synchronously, else name the async twin', async () => {
    const t = tensor([[0.25]]);
    const canReadSync = getBackend().readSync !== undefined;
    expect(canReadSync).toBe(getBackend().name !== 'webgpu');
    for (const [method, twin, read] of syncReads(t)) {
      if (canReadSync) {
        expect(read()).toEqual(twin === 'data' ? Array.from(await t.data()) : await t[twin]());
      } else {
        expect(read).toThrow(BackendError);
        expect(read).toThrow(
          `Tensor.${method}: backend '${getBackend().name}' cannot read synchronously (sync reads are CPU only); use \`await tensor.${twin}()\``,
        );
      }
    }
  });
});
