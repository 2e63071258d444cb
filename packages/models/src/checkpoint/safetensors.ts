/**
 * The safetensors format, bytes in and bytes out (no file system: works in browsers).
 *
 * Layout: 8 bytes of little-endian u64 `N`, then `N` bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, ..., __metadata__: { key: string } }`, then the
 * data section, where each tensor's row-major little-endian bytes lie at `[begin, end)` relative to the
 * start of the data. We write the JSON padded with spaces to a multiple of 8 bytes (as the reference
 * implementation does) and tensors in the given order, packed. We read only F32, I32 and BOOL (the
 * dtypes mru tensors have) and refuse anything malformed with a `CheckpointError` that names the tensor:
 * a header length beyond the file, offsets outside the data, gaps, overlaps or trailing bytes, sizes that
 * disagree with the shape.
 */
import { type DType, MruError, type TypedArray } from '@mru/core';

/**
 * A checkpoint (or safetensors file) that cannot be read or does not fit the model.
 *
 * @category Checkpoints
 */
export class CheckpointError extends MruError {
  /**
   * @param op - The function that failed.
   * @param message - What is wrong with the file.
   */
  constructor(op: string, message: string) {
    super(op, message);
    // Explicit, so the name survives minification (see MruError).
    this.name = 'CheckpointError';
  }
}

/**
 * A tensor on the host: dtype, shape and row-major values.
 *
 * @category Checkpoints
 */
export interface HostTensor {
  /** Element type. */
  readonly dtype: DType;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Values, row-major; length = product of `shape`. */
  readonly data: TypedArray;
}

/**
 * The decoded contents of a safetensors file.
 *
 * @category Checkpoints
 */
export interface SafetensorsContents {
  /** Tensors by name, in file order. */
  readonly tensors: Record<string, HostTensor>;
  /** The `__metadata__` strings (empty when absent). */
  readonly metadata: Record<string, string>;
}

const DTYPE_TO_ST: Record<DType, string> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
const ST_TO_DTYPE: Record<string, DType> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
const BYTES: Record<DType, number> = { float32: 4, int32: 4, bool: 1 };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Largest header we accept (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Copies `data` as little-endian bytes into `out` at `offset`. */
function writeLE(data: TypedArray, out: Uint8Array, offset: number): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) {
    out.set(bytes, offset);
    return;
  }
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w)
    for (let j = 0; j < w; j++) out[offset + i + j] = bytes[i + w - 1 - j];
}

/** Reads little-endian bytes into a fresh, aligned typed array. */
function readLE(bytes: Uint8Array, dtype: DType, count: number): TypedArray {
  const w = BYTES[dtype];
  const buf = new ArrayBuffer(count * w);
  const dst = new Uint8Array(buf);
  if (LITTLE_ENDIAN || w === 1) dst.set(bytes.subarray(0, count * w));
  else for (let i = 0; i < count * w; i += w) for (let j = 0; j < w; j++) dst[i + j] = bytes[i + w - 1 - j];
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'bool':
      return dst;
  }
}

/**
 * Encodes tensors and string metadata as a safetensors file. Names must be unique non-empty strings;
 * `'__metadata__'` is reserved.
 *
 * @param tensors - Tensors by name.
 * @param metadata - String metadata for the header.
 * @category Checkpoints
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, HostTensor>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const op = 'encodeSafetensors';
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string')
      throw new CheckpointError(op, `metadata '${k}' must be a string, got ${typeof v}`);
    meta[k] = v;
  }
  if (Object.keys(meta).length > 0) header.__metadata__ = meta;
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (!name || name === '__metadata__') throw new CheckpointError(op, `invalid tensor name '${name}'`);
    const st = DTYPE_TO_ST[t.dtype];
    if (!st) throw new CheckpointError(op, `tensor '${name}' has unsupported dtype ${t.dtype}`);
    const n = sizeOf(t.shape);
    if (t.data.length !== n) {
      throw new CheckpointError(
        op,
        `tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(',')}]`,
      );
    }
    const len = n * BYTES[t.dtype];
    header[name] = { dtype: st, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, Math.floor(json.length / 2 ** 32), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of entries) {
    writeLE(t.data, out, at);
    at += t.data.byteLength;
  }
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Decodes and validates a safetensors file. `source` (e.g. a path) is included in error messages.
 * Throws a `CheckpointError` naming the offending tensor for any inconsistency.
 *
 * @param bytes - The file contents.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  const op = 'decodeSafetensors';
  const fail = (msg: string): never => {
    throw new CheckpointError(op, `${source}: ${msg}`);
  };
  if (bytes.length < 8)
    fail(`${bytes.length} bytes is shorter than the 8-byte header length (truncated file?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > bytes.length - 8) {
    fail(
      `header length ${headerLen} exceeds the ${bytes.length - 8} bytes after the length field (truncated file?)`,
    );
  }
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} exceeds the limit of ${MAX_HEADER} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) return fail('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  // Null prototypes: a tensor or key named `__proto__` must be an entry, not a prototype switch.
  const metadata: Record<string, string> = Object.create(null);
  if (header.__metadata__ !== undefined) {
    if (!isRecord(header.__metadata__)) fail('__metadata__ is not an object');
    for (const [k, v] of Object.entries(header.__metadata__ as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`__metadata__ '${k}' is not a string`);
      metadata[k] = v as string;
    }
  }
  interface Entry {
    name: string;
    dtype: DType;
    shape: number[];
    begin: number;
    end: number;
  }
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isRecord(raw)) fail(`tensor '${name}': header entry is not an object`);
    const info = raw as Record<string, unknown>;
    const dtype = ST_TO_DTYPE[String(info.dtype)];
    if (!dtype)
      fail(`tensor '${name}': unsupported dtype ${JSON.stringify(info.dtype)} (supported: F32, I32, BOOL)`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}': invalid shape ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}': invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (begin > end) fail(`tensor '${name}': data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLen) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] exceed the data section of ${dataLen} bytes (truncated file?)`,
      );
    }
    const need = sizeOf(shape as number[]) * BYTES[dtype];
    if (end - begin !== need) {
      fail(
        `tensor '${name}': shape [${(shape as number[]).join(',')}] ${String(info.dtype)} needs ${need} bytes but data_offsets give ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) {
      fail(
        `tensor '${e.name}' starts at byte ${e.begin} of the data section, expected ${at} (${e.begin > at ? 'gap' : 'overlap'})`,
      );
    }
    at = e.end;
  }
  if (at !== dataLen) fail(`tensors cover ${at} bytes but the data section has ${dataLen} (trailing bytes)`);
  const tensors: Record<string, HostTensor> = Object.create(null);
  for (const e of entries) {
    const count = sizeOf(e.shape);
    tensors[e.name] = {
      dtype: e.dtype,
      shape: e.shape,
      data: readLE(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, count),
    };
  }
  return { tensors, metadata };
}
