// AssemblyScript source of the WebAssembly SIMD matmul kernel of @mru/backend-cpu. Compiled by
// scripts/build-wasm.mjs (run by the package's `build`) into src/matmul-wasm.generated.ts; the
// TypeScript side (src/matmul-wasm.ts) owns the memory layout, feeds chunks and calls `gemm`.
//
// Design (measured with Node 20.20 on a 2-core AMD EPYC shared with other jobs; GFLOP/s are the
// best of 12 to 20 interleaved samples of the kernel alone, operands already in Wasm memory):
// - Exactness first: the CPU backend is the reference, and its contract (and its tests, bit for bit)
//   is float64 accumulation in k order with one rounding per output. A float32 x float32 product is
//   exact in float64 (24 + 24 significand bits < 53), so `acc += f64(a) * f64(b)` in f64x2 lanes
//   gives exactly the plain-JS kernel's result, for any k (12,800 and 64,000 included) and any
//   blocking. Float32 accumulation (f32x4, twice the lanes) would change the rounding and fail those
//   tests, and blocked or pairwise sums would change the order; so every sum here is f64x2, in order.
//   That caps the kernel: each step of a tile is one f64x2 multiply and one add per 2 outputs.
// - GotoBLAS-style packing: B into panels of NR = 4 columns, A into panels of MR = 4 rows, both
//   k-major and converted to float64 once (instead of once per use). A 4x4 register tile keeps 8
//   f64x2 accumulators and walks k with 2 vector loads of B, 4 splat loads of A, 8 multiplies and 8
//   adds per step; V8 keeps all of it in registers. Packing also makes the four transpose
//   combinations and every stride the same inner loop. Measured 15 to 19 GFLOP/s at the training
//   step's shapes and 19.6 at 256^3, against 1 to 3.8 for the JS kernel in the same runs.
// - Tried and dropped (same harness): a 6x4 tile (12 accumulators) ran at 5 to 16 GFLOP/s (V8 spills
//   at 15 live vectors); unrolling k by 2 or 4 ran at 5 to 15 (V8 hoists the loads of both steps and
//   spills); A packed pre-splatted (so splats become plain loads with folded offsets) and a
//   pointer-compare loop were within noise of this one (16 to 18).
// - k is blocked by KC so that a B panel (KC x NR float64) stays in L1 and the packed A block in L2
//   for long k (the weight gradient has k = 64 T). Between k blocks the partial sums are stored as
//   float64 in an accumulator buffer and reloaded: the same additions in the same order, only
//   spilled to memory, so the result does not depend on KC (or on the host's k chunks).
// - Edge tiles (m or n not a multiple of 4) are computed in full on zero-padded panels; only the
//   valid part is stored, through a small scratch tile.

/** Rows of the register tile. */
const MR: i32 = 4;
/** Columns of the register tile (two f64x2 vectors). */
const NR: i32 = 4;
/** k per block: one packed B panel (KC * NR float64 = 8 KiB) stays in L1. */
const KC: i32 = 256;
/** Rows of A per packed block (MC * KC float64 = 256 KiB, for L2). */
const MC: i32 = 128;
/** Columns of B per packed block (KC * NC float64 = 512 KiB). */
const NC: i32 = 256;

/** Bytes the caller must reserve for the packed A block. */
export function packedABytes(): i32 {
  return MC * KC * 8;
}

/** Bytes the caller must reserve for the packed B block. */
export function packedBBytes(): i32 {
  return NC * KC * 8;
}

/** Block size of k: products with k > kBlock() need an m x n float64 accumulator buffer. */
export function kBlock(): i32 {
  return KC;
}

/**
 * Packs rows [i0, i0 + mc) and k-steps [p0, p0 + kc) of opA(A) into MR-row panels of float64:
 * panel q holds, for each step p, the MR values of rows i0 + q MR + r. Rows past m are zeros.
 * opA(A)[i, p] is the float32 at a + 4 (i aRow + p aStep).
 */
function packA(
  a: usize,
  aRow: i32,
  aStep: i32,
  m: i32,
  i0: i32,
  p0: i32,
  mc: i32,
  kc: i32,
  dst: usize,
): void {
  for (let q = 0; q < mc; q += MR) {
    const rows = min(MR, m - i0 - q);
    const panel = dst + <usize>(q * kc) * 8;
    if (aRow === 1 && rows === MR) {
      // A stored transposed: the MR values of a step are contiguous.
      let src = a + (<usize>(i0 + q) + <usize>p0 * <usize>aStep) * 4;
      const stride = <usize>aStep * 4;
      let out = panel;
      for (let p = 0; p < kc; p++) {
        const v = v128.load(src);
        v128.store(out, f64x2.promote_low_f32x4(v));
        v128.store(out, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), 16);
        src += stride;
        out += MR * 8;
      }
      continue;
    }
    for (let r = 0; r < MR; r++) {
      let out = panel + <usize>r * 8;
      if (r < rows) {
        let src = a + (<usize>(i0 + q + r) * <usize>aRow + <usize>p0 * <usize>aStep) * 4;
        const stride = <usize>aStep * 4;
        for (let p = 0; p < kc; p++) {
          store<f64>(out, <f64>load<f32>(src));
          src += stride;
          out += MR * 8;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          store<f64>(out, 0.0);
          out += MR * 8;
        }
      }
    }
  }
}

/**
 * Packs columns [j0, j0 + nc) and k-steps [p0, p0 + kc) of opB(B) into NR-column panels of float64:
 * panel q holds, for each step p, the NR values of columns j0 + q NR + c. Columns past n are zeros.
 * opB(B)[p, j] is the float32 at b + 4 (p bStep + j bCol).
 */
function packB(
  b: usize,
  bCol: i32,
  bStep: i32,
  n: i32,
  j0: i32,
  p0: i32,
  nc: i32,
  kc: i32,
  dst: usize,
): void {
  for (let q = 0; q < nc; q += NR) {
    const cols = min(NR, n - j0 - q);
    const panel = dst + <usize>(q * kc) * 8;
    if (bCol === 1 && cols === NR) {
      // B not transposed: the NR values of a step are contiguous.
      let src = b + (<usize>p0 * <usize>bStep + <usize>(j0 + q)) * 4;
      const stride = <usize>bStep * 4;
      let out = panel;
      for (let p = 0; p < kc; p++) {
        const v = v128.load(src);
        v128.store(out, f64x2.promote_low_f32x4(v));
        v128.store(out, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), 16);
        src += stride;
        out += NR * 8;
      }
      continue;
    }
    for (let c = 0; c < NR; c++) {
      let out = panel + <usize>c * 8;
      if (c < cols) {
        let src = b + (<usize>p0 * <usize>bStep + <usize>(j0 + q + c) * <usize>bCol) * 4;
        const stride = <usize>bStep * 4;
        for (let p = 0; p < kc; p++) {
          store<f64>(out, <f64>load<f32>(src));
          src += stride;
          out += NR * 8;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          store<f64>(out, 0.0);
          out += NR * 8;
        }
      }
    }
  }
}

/**
 * One MR x NR tile: acc (zero on the first k block, else reloaded from the float64 buffer `acc` with
 * row stride n) plus the kc steps of panels pa and pb; stored as float32 into `c` (row stride n) on
 * the last k block, else as float64 back into `acc`. Only rows < mr and columns < nr are stored.
 */
function tile(
  kc: i32,
  pa: usize,
  pb: usize,
  mr: i32,
  nr: i32,
  n: i32,
  c: usize,
  acc: usize,
  first: bool,
  last: bool,
  scratch: usize,
): void {
  let c00 = f64x2.splat(0);
  let c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0);
  let c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0);
  let c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0);
  let c31 = f64x2.splat(0);
  const full = mr === MR && nr === NR;
  const ldAcc = <usize>n * 8;
  if (!first) {
    // Reload the partial sums: straight from the buffer for a full tile, via scratch otherwise.
    let src = acc;
    let ld = ldAcc;
    if (!full) {
      for (let i = 0; i < MR * NR; i++) store<f64>(scratch + <usize>i * 8, 0.0);
      for (let r = 0; r < mr; r++) {
        for (let q = 0; q < nr; q++) {
          store<f64>(scratch + <usize>(r * NR + q) * 8, load<f64>(acc + <usize>r * ldAcc + <usize>q * 8));
        }
      }
      src = scratch;
      ld = NR * 8;
    }
    c00 = v128.load(src);
    c01 = v128.load(src, 16);
    c10 = v128.load(src + ld);
    c11 = v128.load(src + ld, 16);
    c20 = v128.load(src + 2 * ld);
    c21 = v128.load(src + 2 * ld, 16);
    c30 = v128.load(src + 3 * ld);
    c31 = v128.load(src + 3 * ld, 16);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load64_splat(pa);
    c00 = f64x2.add(c00, f64x2.mul(x, b0));
    c01 = f64x2.add(c01, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 8);
    c10 = f64x2.add(c10, f64x2.mul(x, b0));
    c11 = f64x2.add(c11, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 16);
    c20 = f64x2.add(c20, f64x2.mul(x, b0));
    c21 = f64x2.add(c21, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 24);
    c30 = f64x2.add(c30, f64x2.mul(x, b0));
    c31 = f64x2.add(c31, f64x2.mul(x, b1));
    pa += MR * 8;
    pb += NR * 8;
  }
  if (last && full) {
    const ldc = <usize>n * 4;
    v128.store(c, joinF32(c00, c01));
    v128.store(c + ldc, joinF32(c10, c11));
    v128.store(c + 2 * ldc, joinF32(c20, c21));
    v128.store(c + 3 * ldc, joinF32(c30, c31));
    return;
  }
  if (!last && full) {
    v128.store(acc, c00);
    v128.store(acc, c01, 16);
    v128.store(acc + ldAcc, c10);
    v128.store(acc + ldAcc, c11, 16);
    v128.store(acc + 2 * ldAcc, c20);
    v128.store(acc + 2 * ldAcc, c21, 16);
    v128.store(acc + 3 * ldAcc, c30);
    v128.store(acc + 3 * ldAcc, c31, 16);
    return;
  }
  // Edge tile: spill all 16 sums, then store the valid ones.
  v128.store(scratch, c00);
  v128.store(scratch, c01, 16);
  v128.store(scratch, c10, 32);
  v128.store(scratch, c11, 48);
  v128.store(scratch, c20, 64);
  v128.store(scratch, c21, 80);
  v128.store(scratch, c30, 96);
  v128.store(scratch, c31, 112);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nr; q++) {
      const v = load<f64>(scratch + <usize>(r * NR + q) * 8);
      if (last) store<f32>(c + <usize>r * <usize>n * 4 + <usize>q * 4, <f32>v);
      else store<f64>(acc + <usize>r * ldAcc + <usize>q * 8, v);
    }
  }
}

/** Four float32 lanes from two f64x2 vectors, each rounded once (round to nearest even). */
function joinF32(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/**
 * One product `C = opA(A) @ opB(B)` of m x k by k x n, with opA(A)[i, p] at a + 4 (i aRow + p aStep)
 * and opB(B)[p, j] at b + 4 (p bStep + j bCol) (byte addresses). The sums start from zero, or with
 * `accIn` from the float64 partial sums in `acc`; they end as float32 in the row-major `c`, or with
 * `accOut` as float64 partial sums in `acc` (so the host can feed k in chunks and keep the k order).
 * `acc` is an m x n float64 buffer, needed when k > kBlock(), accIn or accOut. `ap` and `bp` are
 * packing buffers of packedABytes() and packedBBytes() bytes, `scratch` 128 bytes. Requires k > 0.
 */
export function gemm(
  m: i32,
  k: i32,
  n: i32,
  a: usize,
  aRow: i32,
  aStep: i32,
  b: usize,
  bCol: i32,
  bStep: i32,
  c: usize,
  ap: usize,
  bp: usize,
  acc: usize,
  scratch: usize,
  accIn: bool,
  accOut: bool,
): void {
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const first = pc === 0 && !accIn;
      const last = pc + kc === k && !accOut;
      packB(b, bCol, bStep, n, jc, pc, nc, kc, bp);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, aRow, aStep, m, ic, pc, mc, kc, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = bp + <usize>(jr * kc) * 8;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const i = ic + ir;
            const j = jc + jr;
            tile(
              kc,
              ap + <usize>(ir * kc) * 8,
              pb,
              mr,
              nr,
              n,
              c + (<usize>i * <usize>n + <usize>j) * 4,
              acc + (<usize>i * <usize>n + <usize>j) * 8,
              first,
              last,
              scratch,
            );
          }
        }
      }
    }
  }
}
