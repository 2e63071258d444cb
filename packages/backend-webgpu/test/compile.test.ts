/** Every kernel source compiles on this device without WGSL errors or warnings. */
import type { BinaryOp, DType, UnaryOp } from '@mru/core';
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

function sources(wg: number): [string, W.KernelSource][] {
  const out: [string, W.KernelSource][] = [];
  const unary: [UnaryOp, DType][] = [
    ['neg', 'float32'],
    ['neg', 'int32'],
    ['abs', 'float32'],
    ['abs', 'int32'],
    ['sign', 'float32'],
    ['sign', 'int32'],
    ['exp', 'float32'],
    ['log', 'float32'],
    ['log1p', 'float32'],
    ['sqrt', 'float32'],
    ['tanh', 'float32'],
    ['sigmoid', 'float32'],
    ['sin', 'float32'],
    ['cos', 'float32'],
    ['floor', 'float32'],
    ['not', 'bool'],
  ];
  for (const [op, dt] of unary) out.push([`unary ${op} ${dt}`, W.unaryKernel(wg, op, dt)]);
  const arith: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
  const cmp: BinaryOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];
  for (const dt of ['float32', 'int32'] as DType[]) {
    for (const op of [...arith, ...cmp]) out.push([`binary ${op} ${dt}`, W.binaryKernel(wg, op, dt)]);
  }
  out.push(['binary pow', W.binaryKernel(wg, 'pow', 'float32')]);
  for (const op of ['and', 'or', 'eq', 'ne'] as BinaryOp[])
    out.push([`binary ${op} bool`, W.binaryKernel(wg, op, 'bool')]);
  for (const dt of ['float32', 'int32', 'bool'] as DType[]) {
    out.push([`where ${dt}`, W.whereKernel(wg, dt)]);
    for (const to of ['float32', 'int32', 'bool'] as DType[])
      out.push([`cast ${dt} ${to}`, W.castKernel(wg, dt, to)]);
    out.push([`sum serial ${dt}`, W.reduceSerialKernel(wg, 'sum', dt)]);
    out.push([`sum tree ${dt}`, W.reduceTreeKernel(wg, 'sum', dt)]);
  }
  for (const dt of ['float32', 'int32'] as DType[]) {
    for (const op of ['max', 'min'] as const) {
      out.push([`${op} serial ${dt}`, W.reduceSerialKernel(wg, op, dt)]);
      out.push([`${op} tree ${dt}`, W.reduceTreeKernel(wg, op, dt)]);
    }
    for (const op of ['argmax', 'argmin'] as const) out.push([`${op} ${dt}`, W.argReduceKernel(wg, op, dt)]);
  }
  out.push(['fill', W.fillKernel(wg)], ['strided', W.stridedKernel(wg)], ['pad', W.padKernel(wg)]);
  out.push(['concat', W.concatKernel(wg)], ['gather', W.gatherKernel(wg)]);
  out.push(['scatter count', W.scatterCountKernel(wg)], ['scatter offsets', W.scatterOffsetsKernel(wg)]);
  out.push(['scatter list', W.scatterListKernel(wg)], ['scatter sum', W.scatterSumKernel(wg)]);
  out.push(['matmul 16', W.matmulKernel(16)], ['matmul 8', W.matmulKernel(8)]);
  for (const d of ['uniform', 'normal', 'bits'] as const) out.push([`random ${d}`, W.randomKernel(wg, d)]);
  for (const c of [false, true]) {
    out.push(
      [`scan reduce ${c}`, W.scanReduceKernel(wg, c, false)],
      [`scan chunk ${c}`, W.scanChunkKernel(wg, c, false)],
    );
    out.push(
      [`scan reduce ff ${c}`, W.scanReduceKernel(wg, c, true)],
      [`scan chunk ff carry ${c}`, W.scanChunkKernel(wg, c, true)],
    );
    out.push([`scan chunk ff ${c}`, W.scanChunkFFKernel(wg, c)], [`scan pack ${c}`, W.scanPackKernel(wg, c)]);
  }
  return out;
}

describe('kernel sources', () => {
  it('compile without messages', async () => {
    const failures: string[] = [];
    for (const [name, k] of sources(be.kernelLimits.workgroupSize)) {
      const module = be.device.createShaderModule({ code: k.code });
      const info = await module.getCompilationInfo();
      for (const m of info.messages)
        failures.push(`${name}: ${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
    }
    expect(failures).toEqual([]);
  });
});
