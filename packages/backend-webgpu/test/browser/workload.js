/**
 * The computation the browser test runs twice: in Chromium on the WebGPU backend (served to the page
 * as is) and in Node on the CPU backend (imported by browser.test.ts). Sharing the module means both
 * sides run the same core calls on the same inputs, so any difference comes from the backends.
 *
 * Inputs are deterministic, never `Math.random`: the matmul operands come from an integer formula
 * (rounded to float32 identically on both sides, but not exactly representable, so the products
 * really round), and the scan operands from core's `rand` with an explicit `seed`, which is a pure
 * function of the seed and bit-identical across backends. A fingerprint of the bits of each `rand`
 * draw travels back so the test can check that claim too, without shipping the inputs.
 *
 * Plain JavaScript without imports: core is passed in, so this file needs no import map entry and no
 * build step.
 */

/** Matmul shape: `[M, K] @ [K, N]`; 80 is not a multiple of the 64-wide tile, so edges are covered. */
export const MATMUL = { M: 64, K: 96, N: 80 };

/** Scan shape `[1, T, C]` and the cases run at that shape. */
export const SCAN = {
  T: 100_000,
  C: 4,
  cases: [
    // Short, sign-alternating memory: every step matters, errors stay O(eps).
    { name: 'uniform', aLo: -1, aHi: 1, aSeed: 101, bSeed: 102 },
    // Memory of about a thousand steps: carries cross many chunks of the parallel plan.
    { name: 'near-one', aLo: 0.999, aHi: 1, aSeed: 103, bSeed: 104 },
  ],
};

/** Element `(i, j)` of the left (`which = 0`) or right (`which = 1`) matmul operand. */
export function matmulEntry(which, i, j) {
  const k = which === 0 ? (i * 37 + j * 11 + 5) % 101 : (i * 13 + j * 29 + 7) % 103;
  return k / (which === 0 ? 101 : 103) - 0.5;
}

/** The `rows x cols` operand `which` as a flat row-major array. */
export function matmulOperand(which, rows, cols) {
  const out = new Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = matmulEntry(which, i, j);
  return out;
}

/** FNV-1a over the float32 bit patterns of `values`: equal fingerprints mean equal bits. */
export function fingerprint(values) {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) {
    for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((bits[i] >>> s) & 0xff), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * One scan case's results.
 * @typedef {{ h: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, aPrint: string,
 *   bPrint: string, scanDispatches: number | null }} ScanResult
 */

/**
 * Runs the workload on core's current backend. Returns the matmul product, and per scan case the
 * output `h` and the inputs `a` and `b` (each `[1, T, C]` flattened), their fingerprints, and the dispatches the scan
 * encoded when the backend counts them (`stats()`, WebGPU only; null otherwise).
 */
export async function workload(core) {
  const { M, K, N } = MATMUL;
  const x = core.tensor(Float32Array.from(matmulOperand(0, M, K)), { shape: [M, K] });
  const y = core.tensor(Float32Array.from(matmulOperand(1, K, N)), { shape: [K, N] });
  const prod = core.matmul(x, y);
  const matmul = await prod.data();
  core.dispose([x, y, prod]);

  const be = core.getBackend();
  const dispatches = () => (typeof be.stats === 'function' ? be.stats().dispatches : null);
  /** @type {Record<string, ScanResult>} */
  const scans = {};
  for (const c of SCAN.cases) {
    const shape = [1, SCAN.T, SCAN.C];
    const a = core.rand(shape, c.aLo, c.aHi, { seed: c.aSeed });
    const b = core.rand(shape, -1, 1, { seed: c.bSeed });
    const aValues = await a.data();
    const bValues = await b.data();
    const before = dispatches();
    const h = core.scan(a, b);
    const hValues = await h.data();
    const after = dispatches();
    scans[c.name] = {
      h: hValues,
      a: aValues,
      b: bValues,
      aPrint: fingerprint(aValues),
      bPrint: fingerprint(bValues),
      scanDispatches: before === null ? null : after - before,
    };
    core.dispose([a, b, h]);
  }
  return { matmul, scans };
}
