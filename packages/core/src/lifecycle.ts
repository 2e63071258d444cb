/**
 * Tensor ownership and release: the storage a tensor views, the autograd tape that may own it, the
 * engine's global state, and disposal. It sits below tensor.ts, which needs `dispose` and
 * `assertLive`, while engine.ts (which makes tensors) sits above it: before, tensor.ts and engine.ts
 * imported each other, so which of them was initialised first depended on the entry point.
 * Only types come from tensor.ts, and those are erased.
 */
import type { Backend, DataId } from './backend.js';
import { DisposedError } from './errors.js';
import type { Tensor } from './tensor.js';

/** A backend buffer shared by the tensors that view it (reshape shares storage). */
export interface Storage {
  readonly backend: Backend;
  readonly id: DataId;
  refs: number;
}

/** One recorded op: how to map output cotangents to input cotangents. */
export interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** Returns one cotangent per input (null where the input gets no gradient). */
  readonly vjp: (cotangents: readonly (Tensor | null)[]) => readonly (Tensor | null)[];
}

/** The record of one `valueAndGrad` evaluation. */
export class Tape {
  readonly nodes: TapeNode[] = [];
  /** Tensors whose value depends on a differentiated input. */
  readonly tracked = new Set<Tensor>();
  /** Every tensor created while this tape was open; freed when it closes, but for the results. */
  readonly created: Tensor[] = [];
  paused = 0;
  open = true;
}

/** A backend factory registered under a name; instantiated on first use. @internal */
export interface Registration {
  readonly factory: () => Backend | Promise<Backend>;
  instance: Backend | null;
}

/** The engine's global state. @internal */
export interface EngineState {
  registry: Map<string, Registration>;
  current: Backend | null;
  scopes: Set<Tensor>[];
  tape: Tape | null;
  liveTensors: Map<Backend, number>;
  seed: number;
  randomOffset: number;
}

const KEY = Symbol.for('@mru/core/engine');
const g = globalThis as unknown as { [KEY]?: EngineState };
g[KEY] ??= {
  registry: new Map(),
  current: null,
  scopes: [],
  tape: null,
  liveTensors: new Map(),
  seed: 0,
  randomOffset: 0,
};
/** The one engine state of this realm, shared by every copy of core. @internal */
export const state: EngineState = g[KEY];

/** Frees a tensor's hold on its storage now (or when the open tape closes, if it needs it). @internal */
export function disposeTensor(t: Tensor): void {
  if (t.isDisposed) return;
  const tape = state.tape;
  if (tape && t.ownerTape === tape) {
    t.pendingDispose = true;
    return;
  }
  reallyDispose(t);
}

/**
 * Frees a tensor now, even one owned by the open tape: for the backward pass, which knows when a
 * tape-owned intermediate is dead before the tape closes. @internal
 */
export function releaseNow(t: Tensor): void {
  reallyDispose(t);
}

/** Frees a tensor now, whoever owns it. @internal */
export function reallyDispose(t: Tensor): void {
  if (t.isDisposed) return;
  t.markDisposed();
  const s = t.storage;
  s.refs--;
  if (s.refs === 0) s.backend.free(s.id);
  state.liveTensors.set(t.backend, (state.liveTensors.get(t.backend) ?? 1) - 1);
}

/** Throws a `DisposedError` if `t` was disposed. @internal */
export function assertLive(op: string, t: Tensor): void {
  if (t.isDisposed)
    throw new DisposedError(op, `a tensor of shape [${t.shape.join(',')}] was used after dispose()`);
}
