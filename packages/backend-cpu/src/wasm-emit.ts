/**
 * A minimal WebAssembly binary encoder for the kernels the CPU backend generates at run time (fused
 * programs in fused-wasm.ts, the scan in scan-wasm.ts): LEB128 numbers, sections, a function body
 * builder and the opcodes those kernels use. Opcodes are those of the WebAssembly 2.0 binary format
 * (SIMD instructions after the 0xfd prefix).
 */

/** Appends `v` as unsigned LEB128. */
export function uleb(out: number[], v: number): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** Appends `v` as signed LEB128. */
export function sleb(out: number[], v: number): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Appends section `id` with its byte length. */
export function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (const b of body) out.push(b);
}

/** Value types. */
export const I32 = 0x7f;
/** The SIMD vector type. */
export const V128 = 0x7b;
/** SIMD opcodes (after the 0xfd prefix). */
export const OP = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  i32x4Eq: 0x37,
  i32x4Ne: 0x38,
  f32x4Eq: 0x41,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  f32x4Le: 0x45,
  f32x4Ge: 0x46,
  not: 0x4d,
  and: 0x4e,
  andnot: 0x4f,
  or: 0x50,
  bitselect: 0x52,
  floor: 0x68,
  abs: 0xe0,
  neg: 0xe1,
  sqrt: 0xe3,
  add: 0xe4,
  sub: 0xe5,
  mul: 0xe6,
  div: 0xe7,
  min: 0xe8,
  max: 0xe9,
  load64Zero: 0x5d,
  store64Lane: 0x5b,
  demoteF64x2Zero: 0x5e,
  promoteLowF32x4: 0x5f,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

/** Builds the code of a function body, one chainable instruction at a time. */
export class Body {
  /** The bytes so far. */
  readonly code: number[] = [];
  /** A SIMD instruction without immediates. */
  simd(op: number): this {
    this.code.push(0xfd);
    uleb(this.code, op);
    return this;
  }
  /** A SIMD memory access with alignment hint 0 and a constant offset. */
  mem(op: number, offset: number): this {
    this.simd(op);
    this.code.push(0);
    uleb(this.code, offset);
    return this;
  }
  /** `v128.store64_lane` of lane `lane` at a constant offset. */
  storeLane64(offset: number, lane: number): this {
    this.mem(OP.store64Lane, offset);
    this.code.push(lane);
    return this;
  }
  /** `local.get i`. */
  get(i: number): this {
    this.code.push(0x20);
    uleb(this.code, i);
    return this;
  }
  /** `local.set i`. */
  set(i: number): this {
    this.code.push(0x21);
    uleb(this.code, i);
    return this;
  }
  /** `i32.const v`. */
  i32(v: number): this {
    this.code.push(0x41);
    sleb(this.code, v);
    return this;
  }
  /** Raw bytes (core opcodes and their immediates). */
  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  /** `v128.const` with `value` in the four float32 lanes. */
  f32x4Splat(value: number): this {
    this.simd(OP.const);
    const bytes = new Uint8Array(new Float32Array([value, value, value, value]).buffer);
    for (const b of bytes) this.code.push(b);
    return this;
  }
}

/** Core opcodes. */
export const I32_ADD = 0x6a;
/** i32 subtraction. */
export const I32_SUB = 0x6b;
/** i32 multiplication. */
export const I32_MUL = 0x6c;
/** i32 shift left. */
export const I32_SHL = 0x74;
/** i32 signed comparison. */
export const I32_GE_S = 0x4e;
/** Control flow. */
export const BLOCK = 0x02;
/** A loop (branches to it continue it). */
export const LOOP = 0x03;
/** Unconditional branch. */
export const BR = 0x0c;
/** Conditional branch. */
export const BR_IF = 0x0d;
/** End of a block, loop or function. */
export const END = 0x0b;
/** The empty block type. */
export const VOID = 0x40;

/** One function type `(i32 x params) -> ()`, the memory imported as `env.memory`, and `bodies` as functions exported as `names`. */
export function moduleBytes(
  params: number,
  names: readonly string[],
  bodies: readonly number[][],
): Uint8Array<ArrayBuffer> {
  const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  section(bytes, 1, [1, 0x60, params, ...new Array<number>(params).fill(I32), 0]);
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
  section(bytes, 2, [1, 3, ...ascii('env'), 6, ...ascii('memory'), 0x02, 0x00, 0x01]);
  const functions: number[] = [];
  uleb(functions, bodies.length);
  for (let k = 0; k < bodies.length; k++) functions.push(0);
  section(bytes, 3, functions);
  const exports: number[] = [];
  uleb(exports, names.length);
  names.forEach((name, k) => {
    exports.push(name.length, ...ascii(name), 0x00);
    uleb(exports, k);
  });
  section(bytes, 7, exports);
  const code: number[] = [];
  uleb(code, bodies.length);
  for (const fn of bodies) {
    uleb(code, fn.length);
    for (const x of fn) code.push(x);
  }
  section(bytes, 10, code);
  return new Uint8Array(bytes);
}

/** A function body: local declarations (`[count, type]` runs) followed by the code and its `end`. */
export function functionBody(
  locals: readonly (readonly [number, number])[],
  code: readonly number[],
): number[] {
  const fn: number[] = [];
  uleb(fn, locals.length);
  for (const [count, type] of locals) {
    uleb(fn, count);
    fn.push(type);
  }
  for (const x of code) fn.push(x);
  return fn;
}
