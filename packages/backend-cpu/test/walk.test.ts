import { describe, expect, it } from 'vitest';
import { broadcastStridesOrNull, coalesce, forEachRow } from '../src/walk.js';

describe('coalesce', () => {
  it('merges contiguous and jointly broadcast runs and drops extent-1 dimensions', () => {
    expect(coalesce([2, 3, 4], [[12, 4, 1]])).toEqual({ shape: [24], strides: [[1]] });
    expect(
      coalesce(
        [2, 3, 4],
        [
          [12, 4, 1],
          [0, 0, 0],
        ],
      ),
    ).toEqual({ shape: [24], strides: [[1], [0]] });
    // A row vector broadcast over rows keeps two dimensions.
    expect(
      coalesce(
        [5, 4],
        [
          [4, 1],
          [0, 1],
        ],
      ),
    ).toEqual({
      shape: [5, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    });
    expect(coalesce([1, 1], [[1, 1]])).toEqual({ shape: [1], strides: [[0]] });
    expect(coalesce([], [[], []])).toEqual({ shape: [1], strides: [[0], [0]] });
    // A permuted operand blocks merging.
    expect(
      coalesce(
        [3, 4],
        [
          [4, 1],
          [1, 3],
        ],
      ),
    ).toEqual({
      shape: [3, 4],
      strides: [
        [4, 1],
        [1, 3],
      ],
    });
  });
});

describe('forEachRow', () => {
  it('visits every row once, in row-major order, with odometer offsets', () => {
    const layout = {
      shape: [2, 3, 2],
      strides: [
        [6, 2, 1],
        [1, 10, 0],
      ],
    };
    const seen: [number, number][] = [];
    forEachRow(layout, [0, 100], (o0, o1) => seen.push([o0, o1]));
    expect(seen).toEqual([
      [0, 100],
      [2, 110],
      [4, 120],
      [6, 101],
      [8, 111],
      [10, 121],
    ]);
    let calls = 0;
    forEachRow({ shape: [3, 0], strides: [[0, 1]] }, [0], () => calls++);
    expect(calls).toBe(0);
  });
});

describe('broadcastStridesOrNull', () => {
  it('gives stride 0 to broadcast dimensions and null to an invalid source', () => {
    expect(broadcastStridesOrNull([3, 1], [2, 3, 4])).toEqual([0, 1, 0]);
    expect(broadcastStridesOrNull([], [2])).toEqual([0]);
    expect(broadcastStridesOrNull([2], [3])).toBeNull();
    expect(broadcastStridesOrNull([1, 2], [2])).toBeNull();
  });
});
