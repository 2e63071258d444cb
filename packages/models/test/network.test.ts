import {
  dispose,
  mul,
  randint,
  randn,
  reshape,
  slice,
  sum,
  type Tensor,
  ValueError,
  valueAndGrad,
} from '@mru/core';
import { maxAbsDiff } from '@mru/core/testing';
import { expect, it } from 'vitest';
import {
  type Bmru,
  CELL_TYPES,
  createNetwork,
  flattenTree,
  type NetworkConfig,
  type ParamTree,
  resolveNetworkConfig,
  unflattenTree,
} from '../src/index.js';
import { checkGradients, describeOnBackends, stepThrough, values } from './helpers.js';

const BASE: NetworkConfig = { dIn: 3, dModel: 8, dOut: 2, nLayers: 2, cell: { type: 'bmru', dState: 6 } };

describeOnBackends('networks', () => {
  it('validates configs with clear errors and fills defaults', () => {
    const r = resolveNetworkConfig(BASE);
    expect(r).toMatchObject({
      readout: 'last',
      norm: 'layer',
      dropout: 0.1,
      mlpExpansion: 4,
      outGate: true,
      switchPenalty: 0,
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(() => createNetwork({ ...BASE, nLayers: 0 })).toThrow(/nLayers must be a positive integer/);
    expect(() => createNetwork({ ...BASE, readout: 'first' as any })).toThrow(/readout must be/);
    expect(() => createNetwork({ ...BASE, cell: { type: 'lstm' as any, dState: 4 } })).toThrow(
      /unknown cell type 'lstm'/,
    );
    expect(() => createNetwork({ ...BASE, cell: { type: 'bmru', dState: 0 } })).toThrow(ValueError);
    expect(() =>
      createNetwork({
        ...BASE,
        cell: {
          type: 'hybrid',
          combine: 'sum',
          cells: [
            { type: 'bmru', dState: 5 },
            { type: 'lru', dState: 4 },
          ],
        },
      }),
    ).toThrow(/hybrid 'sum' needs cells of one output width, got bmru: 5, lru: 8/);
  });

  it("the block's fused gate and residual equal the composite path, values and gradients", async () => {
    // Dropout at a rate whose keep factor rounds to 1 in float32 takes the composite path of the block
    // (drawing a mask) while computing the same function as the fused path without dropout.
    const config: NetworkConfig = { ...BASE, readout: 'all', mlpExpansion: 2 };
    const fused = createNetwork({ ...config, dropout: 0 });
    const composite = createNetwork({ ...config, dropout: 1e-12 });
    const params = fused.init(3);
    const x = randn([2, 9, 3], 0, 1, { seed: 4 });
    const w = randn([2, 9, 2], 0, 1, { seed: 5 });
    const loss = (net: typeof fused) => (p: ParamTree) =>
      sum(mul(net.apply(p, x, { train: true, seed: 1 }), w));
    const a = valueAndGrad(loss(fused))(params);
    const b = valueAndGrad(loss(composite))(params);
    expect((await values(a.value))[0]).toBe((await values(b.value))[0]);
    const fa = flattenTree(a.grads);
    const fb = flattenTree(b.grads);
    for (const name of Object.keys(fb)) {
      const ref = await values(fb[name]);
      const scale = Math.max(1, ...ref.map(Math.abs));
      expect(maxAbsDiff(await values(fa[name]), ref) / scale, name).toBeLessThan(1e-5);
    }
    dispose([a, b, x, w, params]);
  });

  it('readouts: last and mean give [B, dOut], all gives [B, T, dOut]', () => {
    const x = randn([4, 7, 3], 0, 1, { seed: 1 });
    for (const [readout, shape] of [
      ['last', [4, 2]],
      ['mean', [4, 2]],
      ['all', [4, 7, 2]],
    ] as const) {
      const net = createNetwork({ ...BASE, readout });
      expect(net.apply(net.init(0), x).shape).toEqual(shape);
    }
    const tokens = createNetwork({ ...BASE, vocabSize: 16, dIn: 1 });
    expect(tokens.apply(tokens.init(0), randint([4, 7], 0, 16, { seed: 2 })).shape).toEqual([4, 2]);
    expect(() => tokens.apply(tokens.init(0), x)).toThrow(ValueError);
  });

  it('the step form equals the parallel form through every cell type, hybrids included', async () => {
    const net = createNetwork({
      dIn: 3,
      dModel: 8,
      dOut: 2,
      nLayers: CELL_TYPES.length + 2,
      readout: 'all',
      cell: [
        ...CELL_TYPES.map((type) => ({ type, dState: 4 })),
        {
          type: 'hybrid',
          cells: [
            { type: 'bmru', dState: 4 },
            { type: 'lru', dState: 4 },
          ],
        },
        {
          type: 'hybrid',
          combine: 'sum',
          cells: [
            { type: 'cmru', dState: 8 },
            { type: 'lru', dState: 6 },
          ],
        },
      ],
    });
    const params = net.init(5);
    const x = randn([2, 30, 3], 0, 1, { seed: 6 });
    const full = await values(net.apply(params, x));
    const stepped = await values(stepThrough(net, params, x));
    expect(maxAbsDiff(stepped, full)).toBeLessThan(1e-4);
    const last = createNetwork({ ...BASE, readout: 'last' });
    const pl = last.init(1);
    const y = await values(last.apply(pl, x));
    const ys = await values(stepThrough(last, pl, x));
    expect(maxAbsDiff([ys[58], ys[59], ys[118], ys[119]], y)).toBeLessThan(1e-5);
  });

  it('the parallel form continues from a state like the step form', async () => {
    const net = createNetwork({
      ...BASE,
      readout: 'all',
      cell: [
        { type: 'lru', dState: 4 },
        { type: 'mingru', dState: 4 },
      ],
    });
    const p = net.init(2);
    const x = randn([2, 12, 3], 0, 1, { seed: 3 });
    const whole = await values(net.apply(p, x));
    const first = net.applyWithStats(p, slice(x, [0, 0], [null, 5]));
    const second = net.applyWithStats(p, slice(x, [0, 5]), {}, first.state);
    const a = await values(first.output);
    const b = await values(second.output);
    const joined: number[] = [];
    for (let i = 0; i < 2; i++) joined.push(...a.slice(i * 10, i * 10 + 10), ...b.slice(i * 14, i * 14 + 14));
    expect(maxAbsDiff(joined, whole)).toBeLessThan(1e-5);
  });

  it('parameter groups reach the network: LRU recurrent parameters at half rate, no decay on norms and gains', () => {
    const net = createNetwork({
      ...BASE,
      cell: {
        type: 'hybrid',
        cells: [
          { type: 'bmru', dState: 4 },
          { type: 'lru', dState: 4 },
        ],
      },
    });
    const specs = net.paramSpecs();
    expect(specs['layers.0.cell1.nu_log']).toMatchObject({ lrScale: 0.5, decay: false });
    expect(specs['layers.1.cell1.B_re']).toMatchObject({ lrScale: 0.5, decay: false });
    expect(specs['layers.0.norm1.weight'].decay).toBe(false);
    expect(specs['layers.0.gamma1'].decay).toBe(false);
    expect(specs['layers.0.cell0.wc.weight'].decay).toBe(true);
    expect(specs['layers.0.gate.bias'].decay).toBe(false);
    expect(Object.keys(flattenTree(net.init(0)))).toEqual(Object.keys(specs));
  });

  it('initialises the output gate bias to 4 and the gains γ to 1', async () => {
    const net = createNetwork(BASE);
    const p = flattenTree(net.init(0));
    expect(new Set(await values(p['layers.0.gate.bias']))).toEqual(new Set([4]));
    expect(new Set(await values(p['layers.1.gamma2']))).toEqual(new Set([1]));
    expect(new Set(await values(p['layers.0.cell.wbeta.bias']))).toEqual(new Set([1]));
  });

  it('dropout is active only in training mode and is reproducible from the seed', async () => {
    const net = createNetwork({ ...BASE, dropout: 0.5 });
    const p = net.init(0);
    const x = randn([3, 5, 3], 0, 1, { seed: 1 });
    const e1 = await values(net.apply(p, x));
    expect(await values(net.apply(p, x))).toEqual(e1);
    const t1 = await values(net.apply(p, x, { train: true, seed: 3 }));
    expect(await values(net.apply(p, x, { train: true, seed: 3 }))).toEqual(t1);
    expect(t1).not.toEqual(e1);
    expect(await values(net.apply(p, x, { train: true, seed: 4 }))).not.toEqual(t1);
  });

  it('ε is an input of apply for every BMRU/CMRU cell; the switching penalty adds to the loss', async () => {
    const net = createNetwork({
      ...BASE,
      cell: [
        { type: 'bmru', dState: 4 },
        { type: 'cmru', dState: 4 },
      ],
      switchPenalty: 0.5,
    });
    const p = net.init(1);
    const x = randn([2, 9, 3], 0, 1, { seed: 2 });
    const y = randn([2, 2], 0, 1, { seed: 3 });
    // The context's ε reaches every cell; the cells keep their own (0 and 1) outside it.
    const fixed = createNetwork({
      ...BASE,
      cell: [
        { type: 'bmru', dState: 4, epsilon: 0.25 },
        { type: 'cmru', dState: 4, epsilon: 0.25 },
      ],
    });
    const atQuarter = await values(net.apply(p, x, { epsilon: 0.25 }));
    expect(atQuarter).toEqual(await values(fixed.apply(p, x)));
    expect(await values(net.apply(p, x))).not.toEqual(atQuarter);
    expect(net.cells().map((c) => (c as Bmru).epsilon)).toEqual([0, 1]);
    // A config-level ε is the default of every call, and a call's ε overrides it.
    const configured = createNetwork({ ...net.config, switchPenalty: 0, epsilon: 0.25 });
    expect(await values(configured.apply(p, x))).toEqual(atQuarter);
    expect(await values(configured.apply(p, x, { epsilon: 0.5 }))).toEqual(
      await values(net.apply(p, x, { epsilon: 0.5 })),
    );
    // The step form takes ε too: stepping reproduces apply at the same ε (readout 'last').
    let state = net.initialState(p, 2);
    let last: Tensor | null = null;
    for (let t = 0; t < 9; t++) {
      const r = net.step(p, reshape(slice(x, [0, t], [null, t + 1]), [2, 3]), state, { epsilon: 0.25 });
      state = r.state;
      last = r.output;
    }
    const stepped = await values(last!);
    for (const [i, v] of stepped.entries()) expect(v).toBeCloseTo(atQuarter[i], 4);
    const { output, switchRate } = net.applyWithStats(p, x, { epsilon: 0.25 });
    const rate = (await values(switchRate!))[0];
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(1);
    const plain = createNetwork({
      ...BASE,
      cell: [
        { type: 'bmru', dState: 4 },
        { type: 'cmru', dState: 4 },
      ],
    });
    const l0 = (await values(plain.loss(p, x, y, { epsilon: 0.25 })))[0];
    const l1 = (await values(net.loss(p, x, y, { epsilon: 0.25 })))[0];
    expect(l1 - l0).toBeCloseTo(0.5 * rate * rate, 5);
    expect(output.shape).toEqual([2, 2]);
  });

  it('gradients reach every parameter of a hybrid network', async () => {
    const net = createNetwork({
      ...BASE,
      cell: [
        {
          type: 'hybrid',
          cells: [
            { type: 'cmru', dState: 4 },
            { type: 'lru', dState: 4 },
          ],
        },
        { type: 'mingru', dState: 4 },
      ],
      readout: 'all',
      dOut: 3,
    });
    const p = net.init(0);
    const x = randn([2, 6, 3], 0, 1, { seed: 1 });
    const labels = randint([2, 6], 0, 3, { seed: 2 });
    const { value, grads } = valueAndGrad((q: ParamTree) => net.loss(q, x, labels, { loss: 'crossEntropy' }))(
      p,
    );
    expect(Number.isFinite((await values(value))[0])).toBe(true);
    let zero = 0;
    for (const [name, g] of Object.entries(flattenTree(grads))) {
      const gs = await values(g);
      expect(gs.every(Number.isFinite), name).toBe(true);
      if (gs.every((v) => v === 0)) zero++;
    }
    expect(zero).toBe(0);
    dispose([value, grads]);
  });

  it('block wiring (LayerNorm, projection, OutGate, γ1, GLU MLP, γ2, readout) matches finite differences', async () => {
    // Smooth cells only, so every parameter can be checked against central differences.
    const net = createNetwork({
      ...BASE,
      cell: [
        { type: 'lru', dState: 4 },
        { type: 'mingru', dState: 4 },
      ],
      mlpExpansion: 2,
      dropout: 0,
    });
    const x = randn([2, 5, 3], 0, 1, { seed: 3 });
    const target = randn([2, 2], 0, 1, { seed: 4 });
    await checkGradients((p) => net.loss(p, x, target), net.init(7), { seed: 5, h: 1e-2 });
  });

  it('in a BMRU network, every parameter downstream of the last switch matches finite differences', async () => {
    // The hard steps make finite differences meaningless upstream of the last cell's gates, but α, s_0 of
    // the last BMRU and everything after it (projection, gate, γ, MLP, readout) are smooth: their
    // gradients through the network must equal central differences exactly (no surrogate involved).
    const net = createNetwork({ ...BASE, mlpExpansion: 2, dropout: 0 });
    const x = randn([2, 6, 3], 0, 1, { seed: 8 });
    const target = randn([2, 2], 0, 1, { seed: 9 });
    const flat = flattenTree(net.init(3));
    const smooth = (name: string) =>
      name.startsWith('readout.') ||
      (name.startsWith('layers.1.') &&
        !name.includes('.wc.') &&
        !name.includes('.wbeta.') &&
        !name.includes('norm1'));
    const fixed = Object.fromEntries(Object.entries(flat).filter(([n]) => !smooth(n)));
    const free = Object.fromEntries(Object.entries(flat).filter(([n]) => smooth(n)));
    expect(Object.keys(free)).toEqual(
      expect.arrayContaining([
        'layers.1.cell.alpha',
        'layers.1.cell.s0',
        'layers.1.gate.bias',
        'layers.1.gamma1',
      ]),
    );
    const report = await checkGradients(
      (p) => net.loss(unflattenTree({ ...fixed, ...flattenTree(p) }), x, target),
      unflattenTree(free),
      { seed: 6, h: 1e-3 },
    );
    expect(report.some((r) => r.name === 'layers.1.cell.s0' && r.analytic !== 0)).toBe(true);
  });
});
