/**
 * The browser kit's stand-in for vitest (test/browser/vitest-shim.js) must fail what vitest fails,
 * or kit.test.ts could pass a broken backend. Each matcher is checked both ways, and the runner for
 * hook order, failing hooks and failing tests.
 */
import { describe as vDescribe, expect as vExpect, it as vIt } from 'vitest';
import * as shim from './browser/vitest-shim.js';

class KindError extends Error {}

vDescribe('vitest shim of the browser kit', () => {
  vIt('passes true expectations and fails false ones', async () => {
    const { expect } = shim;
    expect(1).toBe(1);
    vExpect(() => expect(1).toBe(2)).toThrow(/expected 1 to be 2/);
    expect([1, { a: [2] }]).toEqual([1, { a: [2] }]);
    vExpect(() => expect([1, { a: [2] }]).toEqual([1, { a: [3] }])).toThrow();
    expect(new KindError('x')).toBeInstanceOf(KindError);
    vExpect(() => expect(new Error('x')).toBeInstanceOf(KindError)).toThrow();
    expect('matmul [2,3]').toContain('[2,3]');
    vExpect(() => expect('matmul').toContain('int32')).toThrow();
    expect('call setBackend first').toMatch(/setBackend/);
    expect('call setBackend first').toMatch('Backend f');
    vExpect(() => expect('call setBackend first').toMatch(/getBackend/)).toThrow(/to match/);
    vExpect(() => expect('call setBackend first').toMatch('backend first')).toThrow(/to match/);
    vExpect(() => expect(42).toMatch(/42/)).toThrow(TypeError);
    const globalRe = /a/g;
    expect('a').toMatch(globalRe);
    expect('a').toMatch(globalRe);
    expect(() => {
      throw new KindError('shape [2,3] bad');
    }).toThrow(KindError);
    expect(() => {
      throw new KindError('shape [2,3] bad');
    }).toThrow(/\[2,3\]/);
    vExpect(() =>
      expect(() => {
        throw new Error('other');
      }).toThrow(KindError),
    ).toThrow();
    vExpect(() => expect(() => {}).toThrow()).toThrow(/to throw/);
    await expect(Promise.reject(new KindError('x'))).rejects.toBeInstanceOf(KindError);
    await vExpect(expect(Promise.resolve(1)).rejects.toBeInstanceOf(KindError)).rejects.toThrow();
  });

  vIt('runs hooks in order and reports failing tests and hooks as failures', async () => {
    const order: string[] = [];
    shim.describe('outer', () => {
      shim.beforeAll(() => order.push('beforeAll outer'));
      shim.beforeEach(() => order.push('beforeEach outer'));
      shim.afterAll(() => order.push('afterAll outer'));
      shim.it('passes', () => order.push('test 1'));
      shim.it('fails', () => {
        throw new Error('boom');
      });
      shim.describe('inner', () => {
        shim.beforeAll(() => {
          throw new Error('hook broke');
        });
        shim.it('never runs its body', () => order.push('inner body'));
      });
    });
    const results = await shim.runCollected();
    vExpect(results.map((r: { name: string; ok: boolean }) => [r.name, r.ok])).toEqual([
      ['outer > passes', true],
      ['outer > fails', false],
      ['outer > inner > never runs its body', false],
    ]);
    vExpect(results[1].error).toContain('boom');
    vExpect(results[2].error).toContain('hook broke');
    vExpect(order).toEqual([
      'beforeAll outer',
      'beforeEach outer',
      'test 1',
      'beforeEach outer',
      'afterAll outer',
    ]);
  });
});
