/**
 * Just enough of vitest's API for core's conformance kit to run in a browser page, where vitest
 * itself does not: `describe`, `it`, the four hooks and the `expect` matchers the kit uses (`toBe`,
 * `toEqual`, `toBeInstanceOf`, `toContain`, `toMatch` with a string or RegExp, `toThrow` with a
 * class, string or RegExp, and `rejects.toBeInstanceOf`). index.html maps the bare specifier `vitest` here, so the kit's built
 * `dist/testing` loads unchanged. `describe` bodies run at once and collect tests; `runCollected`
 * runs them in order with their hooks (outer `beforeAll` before inner ones, `beforeEach` from the
 * outside in) and reports each test's name, pass or failure message, and duration. A test that
 * throws fails; nothing is skipped.
 */

/** @typedef {{ name: string, fn: () => unknown, suite: Suite }} Test */
/** @typedef {{ name: string, parent: Suite | null, beforeAll: Function[], beforeEach: Function[], afterAll: Function[], tests: Test[], children: Suite[] }} Suite */

function newSuite(name, parent) {
  return { name, parent, beforeAll: [], beforeEach: [], afterAll: [], tests: [], children: [] };
}

const root = newSuite('', null);
let current = root;

export function describe(name, body) {
  const suite = newSuite(name, current);
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
}

export function it(name, fn) {
  current.tests.push({ name, fn, suite: current });
}
export const test = it;

export function beforeAll(fn) {
  current.beforeAll.push(fn);
}
export function beforeEach(fn) {
  current.beforeEach.push(fn);
}
export function afterAll(fn) {
  current.afterAll.push(fn);
}
export function afterEach() {
  throw new Error('vitest-shim: afterEach is not supported (the kit does not use it)');
}

function fmt(v) {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

function deepEqual(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual(a[k], b[k]));
}

function thrownMatches(err, expected) {
  if (expected === undefined) return true;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof expected === 'function') return err instanceof expected;
  if (expected instanceof RegExp) return expected.test(message);
  return message.includes(String(expected));
}

export function expect(actual, what) {
  const fail = (text) => {
    throw new Error(what ? `${what}: ${text}` : text);
  };
  return {
    toBe(expected) {
      if (!Object.is(actual, expected)) fail(`expected ${fmt(actual)} to be ${fmt(expected)}`);
    },
    toEqual(expected) {
      if (!deepEqual(actual, expected)) fail(`expected ${fmt(actual)} to equal ${fmt(expected)}`);
    },
    toBeInstanceOf(cls) {
      if (!(actual instanceof cls)) fail(`expected ${String(actual)} to be an instance of ${cls.name}`);
    },
    toMatch(expected) {
      // As vitest (jest's toMatch): the value must be a string; a string pattern is a substring
      // test, a RegExp is tested afresh (a copy, so a global regex's lastIndex cannot leak in).
      if (typeof actual !== 'string') {
        throw new TypeError(`toMatch: the received value must be a string, got ${fmt(actual)}`);
      }
      if (typeof expected !== 'string' && !(expected instanceof RegExp)) {
        throw new TypeError(`toMatch: the expected value must be a string or a RegExp, got ${fmt(expected)}`);
      }
      const ok = typeof expected === 'string' ? actual.includes(expected) : new RegExp(expected).test(actual);
      const shown = typeof expected === 'string' ? fmt(expected) : String(expected);
      if (!ok) fail(`expected ${fmt(actual)} to match ${shown}`);
    },
    toContain(item) {
      if (!(actual?.includes?.(item) ?? false)) fail(`expected ${fmt(actual)} to contain ${fmt(item)}`);
    },
    toThrow(expected) {
      try {
        actual();
      } catch (err) {
        if (!thrownMatches(err, expected)) {
          fail(`threw ${String(err)}, expected ${expected?.name ?? String(expected)}`);
        }
        return;
      }
      fail(`expected the function to throw ${expected?.name ?? String(expected ?? '')}`);
    },
    rejects: {
      async toBeInstanceOf(cls) {
        try {
          await actual;
        } catch (err) {
          if (!(err instanceof cls)) fail(`rejected with ${String(err)}, expected ${cls.name}`);
          return;
        }
        fail(`expected the promise to reject with ${cls.name}`);
      },
    },
  };
}

function chain(suite) {
  const out = [];
  for (let s = suite; s; s = s.parent) out.unshift(s);
  return out;
}

/**
 * Runs every collected test in declaration order; `onResult` sees each result as it lands. Returns
 * the results: `{ name, ok, error, ms }` with `name` the suite path and test name joined by ' > '.
 */
export async function runCollected(onResult = () => {}) {
  const results = [];
  const started = new Set();
  const failedHooks = new Map();
  async function enter(suite) {
    if (started.has(suite)) return;
    if (suite.parent) await enter(suite.parent);
    started.add(suite);
    try {
      for (const h of suite.beforeAll) await h();
    } catch (err) {
      failedHooks.set(suite, err);
    }
  }
  async function runSuite(suite) {
    for (const t of suite.tests) {
      await enter(suite);
      const name = [
        ...chain(suite)
          .map((s) => s.name)
          .filter(Boolean),
        t.name,
      ].join(' > ');
      const start = performance.now();
      let error = null;
      try {
        for (const s of chain(suite)) if (failedHooks.has(s)) throw failedHooks.get(s);
        for (const s of chain(suite)) for (const h of s.beforeEach) await h();
        await t.fn();
      } catch (err) {
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
      const r = { name, ok: error === null, error, ms: performance.now() - start };
      results.push(r);
      onResult(r);
    }
    for (const c of suite.children) await runSuite(c);
    if (started.has(suite)) for (const h of suite.afterAll) await h();
  }
  await runSuite(root);
  return results;
}
