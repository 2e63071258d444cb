/**
 * Composites at infinities, on the CPU backend only: WGSL lets a GPU assume that no value is infinite,
 * so this behaviour is not part of the conformance kit.
 */
import { logsumexp, setBackend, tensor } from '@mru/core';
import { beforeAll, expect, it } from 'vitest';
import { cpuBackend } from '../src/index.js';

beforeAll(async () => {
  await setBackend(cpuBackend());
});

it('logsumexp: +inf dominates and an all -inf row is -inf, never NaN from inf - inf', () => {
  const x = tensor([
    [Number.POSITIVE_INFINITY, 1],
    [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
    [Number.NEGATIVE_INFINITY, 0],
  ]);
  expect([...logsumexp(x, 1).dataSync()]).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0]);
});
