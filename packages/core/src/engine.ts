/**
 * The engine: global state shared by every op. It keeps the backend registry and the current backend,
 * the `tidy` scope stack, the autograd tape, the random stream and live-tensor counts.
 *
 * Why global: ops are plain functions (`add(a, b)`), so the context they need (which backend, which
 * scope, whether gradients are being recorded) lives here rather than being threaded through every
 * call. The state is stored on `globalThis` under a symbol; a second copy of @mru/core refuses to
 * load (copies.ts), because its tensors would not be tensors to this one. The state itself, the tape
 * and disposal live in lifecycle.ts, below tensor.ts, so that the Tensor class can release itself
 * without importing this module.
 */
import type { Backend, BackendMemory, DataId } from './backend.js';
import { assertSingleCore, claimCore } from './copies.js';
import { bytesPerElement, type DType } from './dtype.js';
import { BackendError, ValueError } from './errors.js';
import { disposeTensor, reallyDispose, state, Tape, type TapeNode } from './lifecycle.js';
import { checkBackendArg } from './ops/validate.js';
import { sizeOf } from './shape.js';
import { Tensor } from './tensor.js';

// A second copy of core throws here, before it can register or select a backend (see copies.ts).
claimCore();

// Defined below Tensor so that tensor.ts need not import this module; re-exported for the ops.
export {
  assertLive,
  disposeTensor,
  releaseNow,
  type Storage,
  Tape,
  type TapeNode,
} from './lifecycle.js';

// ---------------------------------------------------------------------------------------------------
// Backends

/**
 * Registers a backend factory under `name`. The factory runs on the first `setBackend(name)`.
 * Registering a name twice replaces the factory (and disposes an instance already made).
 *
 * @param name - The name to select it by in `setBackend`.
 * @param factory - Creates the backend (possibly async); called on first use.
 * @category Backends
 */
export function registerBackend(name: string, factory: () => Backend | Promise<Backend>): void {
  assertSingleCore('registerBackend');
  const old = state.registry.get(name);
  if (old?.instance) {
    if (state.current === old.instance) state.current = null;
    old.instance.dispose();
  }
  state.registry.set(name, { factory, instance: null });
}

/**
 * Names of the registered backends.
 *
 * @category Backends
 */
export function backendNames(): string[] {
  return [...state.registry.keys()];
}

/**
 * Makes a backend current: by registered name (instantiating it if needed) or by instance.
 * Resolves to the backend. New tensors are created on the current backend.
 *
 * @param nameOrBackend - A registered name, or a backend instance.
 * @category Backends
 */
export async function setBackend(nameOrBackend: string | Backend): Promise<Backend> {
  assertSingleCore('setBackend');
  if (typeof nameOrBackend !== 'string') {
    // Checked before it becomes current: `setBackend(42)` would otherwise break every later op.
    state.current = checkBackendArg('setBackend', nameOrBackend);
    return nameOrBackend;
  }
  const reg = state.registry.get(nameOrBackend);
  if (!reg) {
    throw new BackendError(
      'setBackend',
      `no backend named '${nameOrBackend}' is registered (registered: ${backendNames().join(', ') || 'none'})`,
    );
  }
  reg.instance ??= await reg.factory();
  state.current = reg.instance;
  return reg.instance;
}

/**
 * The current backend, or a `BackendError` telling how to get one.
 *
 * @category Backends
 */
export function getBackend(): Backend {
  if (!state.current) {
    throw new BackendError(
      'getBackend',
      'no backend is set: import a backend package and call setBackend, e.g. ' +
        "`import { cpuBackend } from '@mru/backend-cpu'; await setBackend(cpuBackend())`",
    );
  }
  return state.current;
}

// ---------------------------------------------------------------------------------------------------
// Tensor lifecycle

/** Wraps a freshly allocated backend buffer as a tensor owned by the current scope. @internal */
export function adopt(backend: Backend, id: DataId, shape: readonly number[], dtype: DType): Tensor {
  return register(new Tensor({ backend, id, refs: 1 }, shape, dtype));
}

/** A new tensor sharing `t`'s storage with another shape of equal size. @internal */
export function shareStorage(t: Tensor, shape: readonly number[]): Tensor {
  const s = t.storage;
  s.refs++;
  return register(new Tensor(s, shape, t.dtype));
}

function register(t: Tensor): Tensor {
  state.liveTensors.set(t.backend, (state.liveTensors.get(t.backend) ?? 0) + 1);
  const scope = state.scopes[state.scopes.length - 1];
  scope?.add(t);
  if (state.tape) {
    state.tape.created.push(t);
    t.ownerTape = state.tape;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------
// Scopes

/**
 * Anything a `tidy` function may return: tensors nested in arrays and plain objects are kept.
 *
 * @category Memory
 */
export type TensorContainer =
  | Tensor
  | undefined
  | null
  | number
  | string
  | boolean
  | TensorContainer[]
  | { [key: string]: TensorContainer }
  | readonly TensorContainer[];

/** Collects every tensor nested in arrays and plain objects. */
export function collectTensors(x: unknown, out: Set<Tensor> = new Set()): Set<Tensor> {
  if (x instanceof Tensor) out.add(x);
  else if (Array.isArray(x)) for (const v of x) collectTensors(v, out);
  else if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) collectTensors(v, out);
  }
  return out;
}

/**
 * Runs `fn` in a scope: every tensor created inside and not returned (nor `keep`-ed) is disposed
 * when `fn` returns. Returned tensors move to the enclosing scope. `fn` must be synchronous.
 *
 * @param fn - The function whose intermediate tensors are freed when it returns.
 * @category Memory
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  state.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    // Nothing escapes a scope whose function threw: release what it made so far.
    state.scopes.pop();
    for (const t of scope) if (!t.kept) disposeTensor(t);
    throw error;
  }
  state.scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) if (!t.kept) disposeTensor(t);
    throw new ValueError('tidy', 'the function returned a Promise; tidy scopes must be synchronous');
  }
  const keepSet = collectTensors(result);
  const parent = state.scopes[state.scopes.length - 1];
  for (const t of scope) {
    if (keepSet.has(t) || t.kept) {
      if (keepSet.has(t)) parent?.add(t);
    } else disposeTensor(t);
  }
  return result;
}

/**
 * Exempts a tensor from disposal by the enclosing `tidy` scopes. Returns it.
 *
 * @param t - The tensor to keep alive past the enclosing `tidy` or `valueAndGrad`.
 * @category Memory
 */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

/**
 * Disposes every tensor nested in `x` (arrays and plain objects are walked).
 *
 * @param x - A tensor, or an object or array holding tensors (anything else is ignored).
 * @category Memory
 */
export function dispose(x: unknown): void {
  for (const t of collectTensors(x)) disposeTensor(t);
}

/**
 * Live bytes, buffers and tensors of a backend (default: the current one).
 *
 * @category Memory
 */
export interface MemoryInfo extends BackendMemory {
  /** The backend's name. */
  readonly backend: string;
  /** Live tensors (views that share storage count separately). */
  readonly tensors: number;
}

/**
 * Memory held by a backend (default: the current one): bytes, buffers and live tensors.
 *
 * @param backend - The backend to report on (default: the current one).
 * @category Memory
 */
export function memory(backend: Backend = getBackend()): MemoryInfo {
  return { backend: backend.name, ...backend.memory(), tensors: state.liveTensors.get(backend) ?? 0 };
}

/** Bytes a tensor of this shape and dtype occupies. */
export function tensorBytes(shape: readonly number[], dtype: DType): number {
  return sizeOf(shape) * bytesPerElement(dtype);
}

// ---------------------------------------------------------------------------------------------------
// Autograd tape

/** The open tape, if any. @internal */
export function currentTape(): Tape | null {
  return state.tape;
}

/** Opens a tape (valueAndGrad). Nesting is not supported. @internal */
export function openTape(): Tape {
  if (state.tape)
    throw new ValueError('valueAndGrad', 'nested valueAndGrad (higher-order gradients) is not supported');
  const tape = new Tape();
  state.tape = tape;
  return tape;
}

/**
 * Closes the tape: frees every tensor created under it except `results` and kept ones, which move to
 * the current scope. @internal
 */
export function closeTape(tape: Tape, results: Set<Tensor>): void {
  tape.open = false;
  state.tape = null;
  const scope = state.scopes[state.scopes.length - 1];
  for (const t of tape.created) {
    t.ownerTape = null;
    if (results.has(t)) {
      t.pendingDispose = false;
      scope?.add(t);
    } else if (t.kept && !t.pendingDispose) {
      scope?.add(t);
    } else reallyDispose(t);
  }
}

/**
 * Records an op on the open tape when one of its inputs is tracked. Ops call this after computing
 * their outputs; `vjp` maps output cotangents to input cotangents. @internal
 */
export function record(
  name: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  vjp: TapeNode['vjp'],
): void {
  const tape = state.tape;
  if (!tape || tape.paused > 0) return;
  if (!inputs.some((x) => tape.tracked.has(x))) return;
  for (const o of outputs) if (o.dtype === 'float32') tape.tracked.add(o);
  tape.nodes.push({ name, inputs, outputs, vjp });
}

/**
 * Runs `fn` without recording on the tape (gradients do not flow through its results).
 *
 * @param fn - The function to run without recording gradients.
 * @category Autograd
 */
export function noGrad<T>(fn: () => T): T {
  const tape = state.tape;
  if (!tape) return fn();
  tape.paused++;
  try {
    return fn();
  } finally {
    tape.paused--;
  }
}

// ---------------------------------------------------------------------------------------------------
// Random stream

/**
 * Seeds the global random stream. Every random op without an explicit seed draws the next disjoint
 * block of Philox counters of the stream, so a program replays exactly after the same `seed(n)`.
 *
 * @param n - The seed, a non-negative safe integer.
 * @category Random
 */
export function seed(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ValueError('seed', `seed must be a non-negative safe integer, got ${n}`);
  state.seed = n;
  state.randomOffset = 0;
}

/** Claims `blocks` counters of the global stream: returns the key and the first counter. @internal */
export function nextRandom(blocks: number): { key: [number, number]; offset: number } {
  const offset = state.randomOffset;
  // Checked before claiming, so a refused draw leaves the stream as it was.
  if (offset + blocks > 2 ** 32) {
    throw new ValueError(
      'random',
      'the random stream of this seed is exhausted (2^32 blocks); call seed() again',
    );
  }
  state.randomOffset = offset + blocks;
  return { key: seedToKey(state.seed), offset };
}

/**
 * The Philox key of a seed: low and high 32 bits.
 *
 * @param n - The seed, a non-negative safe integer.
 * @category Random
 */
export function seedToKey(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / 2 ** 32) >>> 0];
}
