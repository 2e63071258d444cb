/**
 * A tiny BMRU network learns copy-first-input (MODELS.md task 1): `x_t ~ N(0, 1)` for T = 50 steps,
 * target `x_1` at the last step, MSE (chance ≈ 1).
 *
 * How a BMRU can solve it: the network is time-invariant but for the initial states `s_0`. A first-layer
 * unit that leaves `s_0` for good once `x_t > θ` tells a second-layer unit, which writes only while the
 * first is still at `s_0`, whether `x_1 > θ`: many thresholds give a thermometer code of `x_1`. Learning it
 * with the hard BMRU alone is slow and unstable (each switch blocks the gradient), so the test follows
 * the MODELS.md recipe of ε annealing: train as a CMRU (ε = 1) and decay ε linearly to 0 over the first
 * half of the run; the second half and the evaluation are a plain BMRU (ε = 0).
 *
 * Budget: 300 steps of batch 32 (the only bound: no wall-clock timeout), about 15 s alone on one slow
 * core; fixed seeds, so the run is exactly reproducible on a given backend. CPU only: the cell, network and gradient suites run on WebGPU
 * too, and this run takes about two minutes on a software adapter (Mesa lavapipe).
 */
import { dispose, randn, reshape, slice, type Tensor, tidy } from '@mru/core';
import { expect, it } from 'vitest';
import { AdamW, cosineSchedule, createNetwork, trainStep } from '../src/index.js';
import { CPU, describeOnBackends, values } from './helpers.js';

function batch(size: number, T: number, seed: number): { x: Tensor; y: Tensor } {
  return tidy(() => {
    const x = randn([size, T, 1], 0, 1, { seed });
    return { x, y: reshape(slice(x, [0, 0], [null, 1]), [size, 1]) };
  });
}

describeOnBackends('learning', () => {
  // Bounded by its 300 steps, never by seconds: a loaded CI machine once took 92 s and the default
  // 120 s timeout failed a run that was learning fine. `timeout: 0` lifts vitest's wall-clock limit.
  it('a small BMRU network learns copy-first-input (T = 50) to MSE < 0.05', { timeout: 0 }, async () => {
    const T = 50;
    const steps = 300;
    const net = createNetwork({
      dIn: 1,
      dModel: 32,
      dOut: 1,
      nLayers: 2,
      cell: { type: 'bmru', dState: 32 },
      dropout: 0,
      mlpExpansion: 0,
      readout: 'last',
    });
    let params = net.init(0);
    const opt = new AdamW({
      lr: cosineSchedule({ peak: 1e-2, totalSteps: steps, warmupSteps: 10 }),
      weightDecay: 0,
      meta: net.paramSpecs(),
      clipNorm: 1,
    });
    // ε from 1 (CMRU) linearly to 0 over the first half, then the plain BMRU.
    const epsilon = { totalSteps: steps, hold: 0, ramp: 0.5 };
    const seen: number[] = [];
    for (let step = 0; step < steps; step++) {
      const { x, y } = batch(32, T, 1000 + step);
      const out = await trainStep({ network: net, optimizer: opt, epsilon }, params, {
        inputs: x,
        targets: y,
        loss: 'mse',
      });
      params = out.params;
      seen.push(out.metrics.epsilon ?? Number.NaN);
      dispose([x, y]);
    }
    expect(seen[0]).toBe(1);
    expect(seen[75]).toBe(0.5);
    expect(seen.slice(150)).toEqual(new Array(150).fill(0));
    const test = batch(256, T, 99);
    // Evaluated at the cells' own ε = 0: the network itself never changed during training.
    const mse = (await values(net.loss(params, test.x, test.y)))[0];
    // Chance is the variance of x_1, about 1.
    expect(mse).toBeLessThan(0.05);
  });
}, [CPU]);
