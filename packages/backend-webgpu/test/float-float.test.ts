/**
 * The error-free transformations under the scan's float-float carries, run on this device: TwoSum and
 * TwoProduct must return the exact rounding errors (checked bit for bit against float64, which holds
 * the sum and the product of two float32 of nearby magnitudes exactly). A driver that simplifies
 * `(a + b) - a` to `b` (Mesa's NIR does, unless guarded) or computes `fma` unfused would zero them and
 * silently bring back the chunked scan's drift at |a| = 1.
 */

import { mulberry32 } from '@mru/core/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import * as W from '../src/wgsl.js';
import { perFile } from './helpers.js';

const shared = perFile();
let be: WebGPUBackend;
beforeEach(async () => {
  be = await shared.get();
});
afterAll(() => shared.dispose());

// GPUBufferUsage and GPUMapMode flags (not globals in Node).
const STORAGE = 0x80;
const UNIFORM = 0x40;
const COPY_DST = 0x8;
const COPY_SRC = 0x4;
const MAP_READ = 0x1;

/** Runs `ffSelfTestKernel` on `pairs` (a, b interleaved) and returns `(s, e, p, f)` per pair. */
async function selfTest(pairs: Float32Array<ArrayBuffer>): Promise<Float32Array> {
  const device = be.device;
  const n = pairs.length / 2;
  const wg = be.kernelLimits.workgroupSize;
  const module = device.createShaderModule({ code: W.ffSelfTestKernel(wg).code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const params = new Uint32Array(W.PARAM_WORDS);
  params[0] = n;
  // The last word is the opaque 1.0 every kernel reads (see wgsl.ts).
  params[W.PARAM_WORDS - 1] = new Uint32Array(Float32Array.of(1).buffer)[0];
  const input = device.createBuffer({ size: pairs.byteLength, usage: STORAGE | COPY_DST });
  const output = device.createBuffer({ size: n * 16, usage: STORAGE | COPY_SRC });
  const uniform = device.createBuffer({ size: params.byteLength, usage: UNIFORM | COPY_DST });
  const readback = device.createBuffer({ size: n * 16, usage: MAP_READ | COPY_DST });
  device.queue.writeBuffer(input, 0, pairs);
  device.queue.writeBuffer(uniform, 0, params);
  const groups = [
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 1, resource: { buffer: input } },
        { binding: 2, resource: { buffer: output } },
      ],
    }),
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(1),
      entries: [{ binding: 0, resource: { buffer: uniform } }],
    }),
  ];
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, groups[0]);
  pass.setBindGroup(1, groups[1]);
  pass.dispatchWorkgroups(Math.ceil(n / wg));
  pass.end();
  encoder.copyBufferToBuffer(output, 0, readback, 0, n * 16);
  device.queue.submit([encoder.finish()]);
  try {
    await readback.mapAsync(MAP_READ);
    return new Float32Array(readback.getMappedRange().slice(0));
  } finally {
    for (const b of [input, output, uniform, readback]) b.destroy();
  }
}

describe('float-float building blocks on the device', () => {
  it('TwoSum and TwoProduct return the exact rounding errors (bit for bit against float64)', async () => {
    const r = mulberry32(7);
    const n = 4096;
    const pairs = new Float32Array(2 * n);
    // Magnitudes within 2^±8 of each other, so float64 holds a + b and a * b exactly.
    for (let i = 0; i < 2 * n; i++) pairs[i] = (2 * r() - 1) * 2 ** Math.floor(16 * r() - 8);
    const y = await selfTest(pairs);
    const wrong = { sum: 0, sumError: 0, product: 0, productError: 0 };
    for (let i = 0; i < n; i++) {
      const a = pairs[2 * i];
      const b = pairs[2 * i + 1];
      const s = Math.fround(a + b);
      const p = Math.fround(a * b);
      if (y[4 * i] !== s) wrong.sum++;
      if (y[4 * i + 1] !== a + b - s) wrong.sumError++;
      if (y[4 * i + 2] !== p) wrong.product++;
      if (y[4 * i + 3] !== a * b - p) wrong.productError++;
    }
    expect(wrong).toEqual({ sum: 0, sumError: 0, product: 0, productError: 0 });
  });
});
