import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randn, tensor, valueAndGrad } from '@mru/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  AdamW,
  CheckpointError,
  createNetwork,
  decodeSafetensors,
  deserializeCheckpoint,
  encodeSafetensors,
  flattenTree,
  type NetworkConfig,
  networkFromCheckpoint,
  type ParamTree,
  serializeCheckpoint,
} from '../src/index.js';
import { loadCheckpoint, loadNetworkCheckpoint, saveCheckpoint, writeFileAtomic } from '../src/node.js';
import { describeOnBackends, values } from './helpers.js';

const CONFIG: NetworkConfig = {
  dIn: 2,
  dModel: 8,
  dOut: 3,
  nLayers: 2,
  cell: [
    { type: 'bmru', dState: 6 },
    {
      type: 'hybrid',
      cells: [
        { type: 'bmru', dState: 4 },
        { type: 'lru', dState: 4 },
      ],
    },
  ],
  readout: 'mean',
};

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mru-models-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeOnBackends('checkpoints', () => {
  it('encodes the safetensors layout: u64 header length, padded JSON, packed little-endian data', () => {
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'float32', shape: [2], data: new Float32Array([1, -2]) },
        b: { dtype: 'int32', shape: [1], data: new Int32Array([7]) },
        c: { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
      },
      { config: '{}' },
    );
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.a).toEqual({ dtype: 'F32', shape: [2], data_offsets: [0, 8] });
    expect(header.b).toEqual({ dtype: 'I32', shape: [1], data_offsets: [8, 12] });
    expect(header.c).toEqual({ dtype: 'BOOL', shape: [3], data_offsets: [12, 15] });
    expect(header.__metadata__).toEqual({ config: '{}' });
    expect(bytes.length).toBe(8 + n + 15);
    expect(view.getFloat32(8 + n + 4, true)).toBe(-2);
    expect(view.getInt32(8 + n + 8, true)).toBe(7);
    const back = decodeSafetensors(bytes);
    expect(Array.from(back.tensors.c.data)).toEqual([1, 0, 1]);
    expect(back.metadata.config).toBe('{}');
  });

  it('a checkpoint round-trips exactly, with its config and optimizer state', async () => {
    const net = createNetwork(CONFIG);
    let params = net.init(3);
    const opt = new AdamW({ lr: 1e-2, meta: net.paramSpecs() });
    const x = randn([2, 5, 2], 0, 1, { seed: 1 });
    const y = randn([2, 3], 0, 1, { seed: 2 });
    const { grads } = valueAndGrad((p: ParamTree) => net.loss(p, x, y))(params);
    params = opt.step(params, grads);
    const path = join(dir, 'model.safetensors');
    await saveCheckpoint(path, params, {
      config: net.config,
      optimizer: opt.stateDict(),
      metadata: { step: '1' },
    });
    const loaded = await loadNetworkCheckpoint(path);
    expect(loaded.config).toEqual(JSON.parse(JSON.stringify(net.config)));
    expect(loaded.metadata.step).toBe('1');
    const a = flattenTree(params);
    const b = flattenTree(loaded.params);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(await values(b[k])).toEqual(await values(a[k]));
    expect(loaded.optimizer?.step).toBe(1);
    expect(Object.keys(loaded.optimizer!.tensors).length).toBe(2 * Object.keys(a).length);
    // The rebuilt network computes the same function.
    expect(await values(loaded.network.apply(loaded.params, x))).toEqual(await values(net.apply(params, x)));
    // No temporary files are left behind.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps the ε a checkpoint was saved at during annealing', async () => {
    const net = createNetwork({ ...CONFIG, cell: { type: 'cmru', dState: 4 } });
    const params = net.init(0);
    const bytes = await serializeCheckpoint(params, { config: { ...net.config, epsilon: 0.25 } });
    const { network, params: loaded } = networkFromCheckpoint(bytes);
    expect(network.config.epsilon).toBe(0.25);
    const x = randn([2, 5, CONFIG.dIn], 0, 1, { seed: 4 });
    const reloaded = await values(network.apply(loaded, x));
    expect(reloaded).toEqual(await values(net.apply(params, x, { epsilon: 0.25 })));
    expect(reloaded).not.toEqual(await values(net.apply(params, x)));
  });

  it('rejects a truncated file with a clear error', async () => {
    const net = createNetwork(CONFIG);
    const bytes = await serializeCheckpoint(net.init(0), { config: net.config });
    const path = join(dir, 'truncated.safetensors');
    await writeFile(path, bytes.subarray(0, bytes.length - 10));
    await expect(loadCheckpoint(path)).rejects.toThrow(
      /truncated\.safetensors: tensor '[^']+': data_offsets .* exceed the data section/,
    );
    await expect(loadCheckpoint(path)).rejects.toBeInstanceOf(CheckpointError);
    expect(() => deserializeCheckpoint(bytes.subarray(0, 100))).toThrow(
      /header length \d+ exceeds the 92 bytes/,
    );
    expect(() => deserializeCheckpoint(bytes.subarray(0, 5))).toThrow(
      /shorter than the 8-byte header length/,
    );
    const trailing = new Uint8Array(bytes.length + 4);
    trailing.set(bytes);
    expect(() => deserializeCheckpoint(trailing)).toThrow(/trailing bytes/);
  });

  it('names the tensor on a shape mismatch, a missing or an unexpected tensor', async () => {
    const small = createNetwork(CONFIG);
    const bytes = await serializeCheckpoint(small.init(0), { config: small.config });
    const other = createNetwork({ ...CONFIG, cell: [{ type: 'bmru', dState: 5 }, (CONFIG.cell as any)[1]] });
    expect(() => deserializeCheckpoint(bytes, { expect: other })).toThrow(
      /checkpoint: tensor 'layers\.0\.cell\.alpha' has shape \[6\] in the checkpoint but \[5\] in the model/,
    );
    expect(() => deserializeCheckpoint(bytes, { expect: other })).toThrow(CheckpointError);
    const fewer = createNetwork({ ...CONFIG, nLayers: 1 });
    expect(() => deserializeCheckpoint(bytes, { expect: fewer })).toThrow(/unexpected tensor 'layers\.1\./);
    const more = createNetwork({ ...CONFIG, nLayers: 3 });
    expect(() => deserializeCheckpoint(bytes, { expect: more })).toThrow(/missing tensor 'layers\.2\./);
    const ints = encodeSafetensors({ w: { dtype: 'int32', shape: [2], data: new Int32Array(2) } });
    expect(() => deserializeCheckpoint(ints, { expect: { w: { shape: [2] } } })).toThrow(
      /tensor 'w' is int32 in the checkpoint but float32/,
    );
  });

  it('rejects malformed headers: bad JSON, overlapping offsets, unknown dtypes', () => {
    const make = (header: unknown, dataLen: number): Uint8Array => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataLen);
      new DataView(out.buffer).setUint32(0, json.length, true);
      out.set(json, 8);
      return out;
    };
    expect(() =>
      decodeSafetensors(make({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, 2)),
    ).toThrow(/tensor 'a': unsupported dtype "F16"/);
    expect(() =>
      decodeSafetensors(
        make(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          8,
        ),
      ),
    ).toThrow(/tensor '[ab]' starts at byte 4 .*overlap/);
    expect(() =>
      decodeSafetensors(make({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)),
    ).toThrow(/tensor 'a': shape \[3\] F32 needs 12 bytes but data_offsets give 8/);
    const bad = make({}, 0);
    bad[8] = 0x7b + 1;
    expect(() => decodeSafetensors(bad)).toThrow(/not valid UTF-8 JSON/);
  });

  it('writes atomically: a failed write leaves the previous checkpoint intact', async () => {
    const path = join(dir, 'atomic.safetensors');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    // Writing into a missing directory fails before anything is renamed over the target.
    await expect(
      writeFileAtomic(join(dir, 'missing', 'x.safetensors'), new Uint8Array([9])),
    ).rejects.toThrow();
    // A checkpoint whose serialisation fails (a disposed tensor) never touches the file.
    const t = tensor([1, 2]);
    t.dispose();
    await expect(saveCheckpoint(path, { t })).rejects.toThrow();
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    await writeFileAtomic(path, new Uint8Array([4, 5]));
    expect(Array.from(await readFile(path))).toEqual([4, 5]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('networkFromCheckpoint needs the config metadata', async () => {
    const net = createNetwork(CONFIG);
    const noConfig = await serializeCheckpoint(net.init(0));
    expect(() => networkFromCheckpoint(noConfig)).toThrow(/no 'config' metadata/);
    const bytes = await serializeCheckpoint(net.init(0), { config: net.config });
    expect(networkFromCheckpoint(bytes).network.paramCount()).toBe(net.paramCount());
  });
});
