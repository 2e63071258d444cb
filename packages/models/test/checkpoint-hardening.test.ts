/**
 * Checkpoints cannot poison the process: hostile tensor names, partial optimizer state, non-finite
 * weights and configs edited to absurd sizes are each refused with a `CheckpointError` (or the
 * optimizer's `ValueError`) naming what is wrong, before anything is built or installed.
 */
import { dispose, scan, type Tensor, tensor } from '@mru/core';
import { expect, it } from 'vitest';
import {
  AdamW,
  CheckpointError,
  createNetwork,
  deserializeCheckpoint,
  encodeSafetensors,
  type HostTensor,
  type NetworkConfig,
  networkFromCheckpoint,
  serializeCheckpoint,
  unflattenTree,
} from '../src/index.js';
import { CPU, describeOnBackends, values } from './helpers.js';

const CONFIG: NetworkConfig = {
  dIn: 2,
  dModel: 8,
  dOut: 3,
  nLayers: 2,
  cell: { type: 'bmru', dState: 6 },
  mlpExpansion: 0,
};

function host(values: number[], shape = [values.length]): HostTensor {
  return { dtype: 'float32', shape, data: Float32Array.from(values) };
}

/** Catches what `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describeOnBackends('checkpoint hardening', () => {
  it('tensor names with __proto__, constructor or prototype segments are refused', async () => {
    for (const name of [
      '__proto__.reverse',
      'constructor.prototype.h0',
      'a.prototype',
      '@optimizer/m.__proto__.x',
    ]) {
      const bytes = encodeSafetensors({ [name]: host([1]), ok: host([2]) });
      const e = thrown(() => deserializeCheckpoint(bytes, { source: 'evil.safetensors' }));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toContain(name);
      expect(e.message).toContain('evil.safetensors');
    }
    // Nothing reached Object.prototype, and a scan without options still runs forward.
    expect(({} as Record<string, unknown>).reverse).toBeUndefined();
    expect(({} as Record<string, unknown>).h0).toBeUndefined();
    const h = scan(tensor([1]), tensor([[[1], [2], [3]]]));
    expect(await values(h)).toEqual([1, 3, 6]);
    h.dispose();
    // The tree builder refuses them too, and ignores inherited names such as toString.
    const t = tensor([1]);
    expect(() => unflattenTree({ '__proto__.x': t })).toThrow(/reserved/);
    const tree = unflattenTree({ 'toString.x': t }) as unknown as Record<string, Record<string, Tensor>>;
    expect(Object.hasOwn(tree, 'toString')).toBe(true);
    expect((Object.prototype.toString as unknown as Record<string, unknown>).x).toBeUndefined();
    t.dispose();
  });

  it('optimizer state is loaded all or none', () => {
    const net = createNetwork(CONFIG);
    const meta = net.paramSpecs();
    const names = Object.keys(meta);
    const zerosOf = (n: string) =>
      tensor(new Float32Array(meta[n].shape.reduce((a, b) => a * b, 1)), { shape: meta[n].shape });
    const opt = new AdamW({ lr: 1e-3, meta });
    // One moment of the 2 x names.length.
    const one = { step: 3, tensors: { [`m.${names[0]}`]: zerosOf(names[0]) } };
    const e = thrown(() => opt.loadStateDict(one));
    expect(e.message).toMatch(/1 of \d+ moments/);
    expect(e.message).toContain(`v.${names[0]}`);
    dispose(one.tensors);
    // Every m but no v: refused as well.
    const half = { step: 3, tensors: Object.fromEntries(names.map((n) => [`m.${n}`, zerosOf(n)])) };
    expect(() => opt.loadStateDict(half)).toThrow(/moments/);
    dispose(half.tensors);
    // None: fresh moments at the given step. All: accepted.
    opt.loadStateDict({ step: 3, tensors: {} });
    expect(opt.stateDict().step).toBe(3);
    const all = {
      step: 4,
      tensors: Object.fromEntries(names.flatMap((n) => [`m.${n}`, `v.${n}`].map((k) => [k, zerosOf(n)]))),
    };
    opt.loadStateDict(all);
    expect(Object.keys(opt.stateDict().tensors).length).toBe(2 * names.length);
    opt.dispose();
  });

  it('a checkpoint holding NaN or infinite weights is refused, naming the tensor', async () => {
    const net = createNetwork(CONFIG);
    const params = net.init(0);
    const bytes = await serializeCheckpoint(params, { config: net.config });
    dispose(params);
    const { tensors, metadata } = (await import('../src/index.js')).decodeSafetensors(bytes);
    const name = Object.keys(tensors)[1];
    const bad = { ...tensors, [name]: { ...tensors[name], data: Float32Array.from(tensors[name].data) } };
    (bad[name].data as Float32Array)[2] = Number.NaN;
    const poisoned = encodeSafetensors(bad, metadata);
    for (const load of [
      () => networkFromCheckpoint(poisoned, 'nan.safetensors'),
      () => deserializeCheckpoint(poisoned),
    ]) {
      const e = thrown(load);
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toContain(`'${name}'`);
      expect(e.message).toMatch(/non-finite/);
    }
    // Opt-in for a caller that wants to inspect such a file.
    const loaded = deserializeCheckpoint(poisoned, { allowNonFinite: true });
    dispose(loaded.params);
  });

  it('a stored config with absurd sizes is refused before the network is built', async () => {
    const net = createNetwork(CONFIG);
    const params = net.init(0);
    const good = await serializeCheckpoint(params, { config: net.config });
    const edits: Record<string, unknown>[] = [
      { nLayers: 1e7 },
      { dModel: 1e9 },
      { cell: { type: 'bmru', dState: 1e9 } },
      { mlpExpansion: 1e9 },
      { cell: Array.from({ length: 100_000 }, () => ({ type: 'bmru', dState: 6 })) },
    ];
    for (const edit of edits) {
      const bytes = await serializeCheckpoint(params, { config: { ...net.config, ...edit } });
      const t0 = performance.now();
      const e = thrown(() => networkFromCheckpoint(bytes, 'edited.safetensors'));
      expect(e, JSON.stringify(edit).slice(0, 80)).toBeInstanceOf(CheckpointError);
      expect(e.message).toMatch(/does not match its tensors/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    dispose(params);
    const ok = networkFromCheckpoint(good);
    dispose(ok.params);
  });
}, [CPU]);
