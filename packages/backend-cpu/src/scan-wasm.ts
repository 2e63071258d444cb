/**
 * The real scan `h_t = a_t * h_{t-1} + x_t` as WebAssembly SIMD generated at run time: the fast path
 * of `scanKernel` (scan.ts) for `a` that varies over time (the BMRU's coefficients and the backward
 * scans over them), with the JS loop as the fallback.
 *
 * Same bits: the JS kernel computes `a * prev + x` in float64 (the product of two float32 is exact
 * there, the sum rounds once) and the store rounds to float32. The kernel does exactly that two
 * channels at a time: promote to f64x2, multiply, add, demote to float32 (round to nearest even, like
 * the store). There is no fused multiply-add in Wasm SIMD, so nothing else can change the rounding.
 * Subnormals are kept (Wasm does not flush them), as in JS.
 *
 * Layout: per batch row, the time steps are cut into chunks of at most `CHUNK` elements; the chunk's
 * rows of `a` and `x` are copied into the module's memory, scanned from the state row `P` (h0, zeros,
 * or the last row of the previous chunk), and the states copied out. A reverse scan visits the chunks
 * and their rows from the end. Channels go in pairs, so an odd count is left to JS.
 */
import {
  BLOCK,
  Body,
  BR,
  BR_IF,
  END,
  functionBody,
  I32,
  I32_ADD,
  I32_GE_S,
  I32_MUL,
  I32_SUB,
  LOOP,
  moduleBytes,
  OP,
  VOID,
} from './wasm-emit.js';

/** Elements of `a`, `x` or `h` per chunk (32 KiB each), so that a chunk stays in L2. */
const CHUNK = 8192;
/** Bytes per region. */
const REGION = CHUNK * 4;
/** Byte offsets of the regions. */
const A = 0;
const X = REGION;
const H = 2 * REGION;
const P = 3 * REGION;
/** Below this many elements the JS loop is as fast. */
const MIN_SIZE = 8192;

type Run = (rows: number, rowBytes: number, reverse: number) => void;

/** undefined: not built yet; null: unavailable. */
let kernel: { run: Run; memory: WebAssembly.Memory } | null | undefined;

/**
 * `run(rows, rowBytes, reverse)`: scans `rows` rows of the chunk in memory (in reverse order when
 * `reverse` is 1) from the state row at `P`, writing the states to `H`.
 */
function build(): Uint8Array<ArrayBuffer> {
  // Locals: 0 rows, 1 rowBytes, 2 reverse; 3 t, 4 off (byte offset of the row), 5 prev (byte address
  // of the previous state row), 6 c (byte offset in the row), 7 step, 8 addr.
  const [ROWS, ROW_BYTES, REVERSE, T, OFF, PREV, C, STEP, ADDR] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const b = new Body();
  // off = reverse ? (rows - 1) * rowBytes : 0; step = reverse ? -rowBytes : rowBytes.
  b.get(ROWS).i32(1).op(I32_SUB).get(ROW_BYTES).op(I32_MUL).get(REVERSE).op(I32_MUL).set(OFF);
  b.get(ROW_BYTES).i32(1).get(REVERSE).i32(1).op(0x74, I32_SUB).op(I32_MUL).set(STEP);
  b.i32(P).set(PREV);
  b.i32(0).set(T);
  b.op(BLOCK, VOID, LOOP, VOID);
  b.get(T).get(ROWS).op(I32_GE_S, BR_IF, 1);
  b.i32(0).set(C);
  b.op(BLOCK, VOID, LOOP, VOID);
  b.get(C).get(ROW_BYTES).op(I32_GE_S, BR_IF, 1);
  b.get(OFF).get(C).op(I32_ADD).set(ADDR);
  b.get(ADDR); // the store's address
  b.get(ADDR).mem(OP.load64Zero, A).simd(OP.promoteLowF32x4);
  b.get(PREV).get(C).op(I32_ADD).mem(OP.load64Zero, 0).simd(OP.promoteLowF32x4);
  b.simd(OP.f64x2Mul);
  b.get(ADDR).mem(OP.load64Zero, X).simd(OP.promoteLowF32x4);
  b.simd(OP.f64x2Add).simd(OP.demoteF64x2Zero);
  b.storeLane64(H, 0);
  b.get(C).i32(8).op(I32_ADD).set(C);
  b.op(BR, 0, END, END);
  b.get(OFF).i32(H).op(I32_ADD).set(PREV);
  b.get(OFF).get(STEP).op(I32_ADD).set(OFF);
  b.get(T).i32(1).op(I32_ADD).set(T);
  b.op(BR, 0, END, END, END);
  return moduleBytes(3, ['run'], [functionBody([[6, I32]], b.code)]);
}

function load(): { run: Run; memory: WebAssembly.Memory } | null {
  try {
    if (typeof WebAssembly !== 'object') return null;
    const bytes = build();
    if (!WebAssembly.validate(bytes)) return null;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((4 * REGION) / 65536) });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return { run: instance.exports.run as Run, memory };
  } catch {
    return null;
  }
}

/**
 * The real scan of `scanKernel` into `h` for `a` with a time stride of `C` (`aBatchStride` 0 or
 * `T * C`), `x` and `h` `[B, T, C]`, `h0` `[B, C]` or null. Returns false, having written nothing,
 * where the Wasm path does not apply; the caller then runs the JS loop.
 */
export function wasmScan(
  B: number,
  T: number,
  C: number,
  a: Float32Array,
  aBatchStride: number,
  x: Float32Array,
  h0: Float32Array | null,
  reverse: boolean,
  h: Float32Array,
): boolean {
  // An odd channel count would spill a lane into a row a reverse scan has already written.
  if (B * T * C < MIN_SIZE || C % 2 !== 0 || C > CHUNK) return false;
  if (kernel === undefined) kernel = load();
  if (!kernel) return false;
  const f32 = new Float32Array(kernel.memory.buffer);
  const rowsPerChunk = Math.floor(CHUNK / C);
  const rowBytes = 4 * C;
  const pAt = P / 4;
  const hAt = H / 4;
  for (let b = 0; b < B; b++) {
    if (h0) f32.set(h0.subarray(b * C, b * C + C), pAt);
    else f32.fill(0, pAt, pAt + C);
    const aBase = b * aBatchStride;
    const xBase = b * T * C;
    for (let done = 0; done < T; done += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, T - done);
      // Forward: rows [done, done + rows); reverse: the same count from the end.
      const t0 = reverse ? T - done - rows : done;
      const len = rows * C;
      f32.set(a.subarray(aBase + t0 * C, aBase + t0 * C + len), A / 4);
      f32.set(x.subarray(xBase + t0 * C, xBase + t0 * C + len), X / 4);
      kernel.run(rows, rowBytes, reverse ? 1 : 0);
      h.set(f32.subarray(hAt, hAt + len), xBase + t0 * C);
      // The state the next chunk starts from: the last row computed.
      const lastRow = reverse ? 0 : rows - 1;
      f32.copyWithin(pAt, hAt + lastRow * C, hAt + lastRow * C + C);
    }
  }
  return true;
}
