/**
 * Checkpoints: parameters (and optionally optimizer moments) with the network config, as safetensors
 * bytes. Browser-safe; the Node entry (`@mru/models/node`) adds atomic file writes on top.
 *
 * Naming: parameters are stored under their dotted names (`flattenTree`); optimizer moments under
 * `'@optimizer/<slot>.<name>'`, a prefix no parameter name can take. Metadata: `format`
 * (`'mru-checkpoint-1'`), `config` (the JSON of the network config, so `networkFromCheckpoint` rebuilds
 * the same network), `optimizer_step` when moments are stored, and any user strings.
 *
 * Loading can check the tensors against what a model expects (`expect`: a module, or a map of shapes):
 * every expected tensor present, nothing unexpected, dtype and shape equal, each error naming the tensor.
 */
import { type DType, fmtShape, shapesEqual, type Tensor, tensor } from '@mru/core';
import { createNetwork, type Network, type NetworkConfig } from '../network.js';
import { Module } from '../nn/module.js';
import type { OptimizerState } from '../optim/optimizers.js';
import { flattenTree, type ParamTree, RESERVED_SEGMENTS, unflattenTree } from '../tree.js';
import { CheckpointError, decodeSafetensors, encodeSafetensors, type HostTensor } from './safetensors.js';

/**
 * Prefix of optimizer tensors in a checkpoint.
 *
 * @category Checkpoints
 */
export const OPTIMIZER_PREFIX = '@optimizer/';
/**
 * Value of the `format` metadata key.
 *
 * @category Checkpoints
 */
export const CHECKPOINT_FORMAT = 'mru-checkpoint-1';

/**
 * What to store beside the parameters.
 *
 * @category Checkpoints
 */
export interface CheckpointOptions {
  /** A JSON-serialisable config (normally the network's `config`), stored as metadata `config`. */
  readonly config?: unknown;
  /** Optimizer state from `optimizer.stateDict()`. */
  readonly optimizer?: OptimizerState;
  /** Extra metadata strings (e.g. `{ step: '1000', task: 'copy-first-input' }`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * The expected tensors: a module (its `paramSpecs()`, all float32) or explicit shapes and dtypes.
 *
 * @category Checkpoints
 */
export type CheckpointExpectation = Module | Readonly<Record<string, ExpectedTensor>>;

/**
 * What a model expects of one stored tensor.
 *
 * @category Checkpoints
 */
export interface ExpectedTensor {
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its dtype (default float32). */
  readonly dtype?: DType;
}

/**
 * Options of `deserializeCheckpoint`.
 *
 * @category Checkpoints
 */
export interface LoadOptions {
  /** Check the parameters against this model (missing, unexpected, dtype, shape). */
  readonly expect?: CheckpointExpectation;
  /** Name of the source for error messages (e.g. the path). */
  readonly source?: string;
  /**
   * Accept NaN or infinite values in float32 tensors (default false: such a checkpoint is refused
   * with a `CheckpointError` naming the tensor, since every result computed from it would be NaN).
   */
  readonly allowNonFinite?: boolean;
}

/**
 * A loaded checkpoint; its tensors are on the current backend and owned by the caller.
 *
 * @category Checkpoints
 */
export interface LoadedCheckpoint {
  /** The parameter tree. */
  readonly params: ParamTree;
  /** The parsed `config` metadata, if stored. */
  readonly config: unknown;
  /** Every metadata string. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Optimizer state, if stored (pass to `optimizer.loadStateDict`). */
  readonly optimizer?: OptimizerState;
}

/**
 * A loaded checkpoint with the network rebuilt from its config.
 *
 * @category Checkpoints
 */
export interface LoadedNetwork extends LoadedCheckpoint {
  /** The network described by the stored config. */
  readonly network: Network;
}

async function toHost(t: Tensor): Promise<HostTensor> {
  return { dtype: t.dtype, shape: [...t.shape], data: await t.data() };
}

/**
 * Encodes parameters (and the config, optimizer state and metadata) as safetensors bytes.
 *
 * @param params - The parameters.
 * @param options - Network config, optimizer state and metadata to store.
 * @category Checkpoints
 */
export async function serializeCheckpoint(
  params: ParamTree,
  options: CheckpointOptions = {},
): Promise<Uint8Array> {
  const host: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(flattenTree(params))) host[name] = await toHost(t);
  const metadata: Record<string, string> = { ...options.metadata, format: CHECKPOINT_FORMAT };
  if (options.config !== undefined) metadata.config = JSON.stringify(options.config);
  if (options.optimizer) {
    metadata.optimizer_step = String(options.optimizer.step);
    for (const [name, t] of Object.entries(options.optimizer.tensors))
      host[OPTIMIZER_PREFIX + name] = await toHost(t);
  }
  return encodeSafetensors(host, metadata);
}

function expectedSpecs(
  expect: CheckpointExpectation,
): Record<string, { shape: readonly number[]; dtype: DType }> {
  const out: Record<string, { shape: readonly number[]; dtype: DType }> = {};
  if (expect instanceof Module) {
    for (const [name, spec] of Object.entries(expect.paramSpecs()))
      out[name] = { shape: spec.shape, dtype: 'float32' };
  } else {
    for (const [name, spec] of Object.entries(expect))
      out[name] = { shape: spec.shape, dtype: spec.dtype ?? 'float32' };
  }
  return out;
}

/**
 * Checks decoded parameters against the model's expectation; throws a `CheckpointError` naming the
 * first offending tensor (missing, unexpected, wrong dtype or wrong shape).
 *
 * @param tensors - The tensors read.
 * @param expect - The module or network they must fit.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function checkTensors(
  tensors: Readonly<Record<string, HostTensor>>,
  expect: CheckpointExpectation,
  source = 'checkpoint',
): void {
  const op = 'loadCheckpoint';
  const specs = expectedSpecs(expect);
  for (const [name, spec] of Object.entries(specs)) {
    const t = tensors[name];
    if (!t)
      throw new CheckpointError(
        op,
        `${source}: missing tensor '${name}' (the model expects ${spec.dtype}${fmtShape(spec.shape)})`,
      );
    if (t.dtype !== spec.dtype) {
      throw new CheckpointError(
        op,
        `${source}: tensor '${name}' is ${t.dtype} in the checkpoint but ${spec.dtype} in the model`,
      );
    }
    if (!shapesEqual(t.shape, spec.shape)) {
      throw new CheckpointError(
        op,
        `${source}: tensor '${name}' has shape ${fmtShape(t.shape)} in the checkpoint but ${fmtShape(spec.shape)} in the model`,
      );
    }
  }
  for (const name of Object.keys(tensors)) {
    if (!(name in specs))
      throw new CheckpointError(op, `${source}: unexpected tensor '${name}' (not a parameter of the model)`);
  }
}

/**
 * Refuses tensor names that would reach an object's prototype when the tree is rebuilt
 * (`__proto__.reverse` once set `Object.prototype.reverse`, reversing every later scan).
 *
 * @param names - The tensor names read.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function checkTensorNames(names: Iterable<string>, source = 'checkpoint'): void {
  for (const full of names) {
    const name = full.startsWith(OPTIMIZER_PREFIX) ? full.slice(OPTIMIZER_PREFIX.length) : full;
    const bad = name.split('.').find((p) => RESERVED_SEGMENTS.includes(p));
    if (bad !== undefined) {
      throw new CheckpointError(
        'loadCheckpoint',
        `${source}: tensor name '${full}' contains the reserved segment '${bad}' (${RESERVED_SEGMENTS.join(', ')} are refused)`,
      );
    }
  }
}

/**
 * Refuses NaN and infinite float32 values, naming the first tensor that holds one.
 *
 * @param tensors - The tensors read.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function checkFinite(tensors: Readonly<Record<string, HostTensor>>, source = 'checkpoint'): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') continue;
    let bad = 0;
    let first = -1;
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        if (first < 0) first = i;
        bad++;
      }
    }
    if (bad > 0) {
      throw new CheckpointError(
        'loadCheckpoint',
        `${source}: tensor '${name}' holds ${bad} non-finite value${bad === 1 ? '' : 's'} (the first, ${t.data[first]}, at index ${first}); the checkpoint is unusable`,
      );
    }
  }
}

/**
 * Checks a stored network config against the tensors beside it before anything is built: a config
 * edited to absurd sizes (`nLayers: 1e7`) would otherwise hang or exhaust memory while the network
 * is constructed, before the tensors are compared. Every width the config names is a dimension of
 * some stored tensor, and every layer owns at least one tensor, so both are bounded by the file.
 *
 * @param config - The network config read.
 * @param tensors - The tensors read.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function checkConfigAgainstTensors(
  config: unknown,
  tensors: Readonly<Record<string, HostTensor>>,
  source = 'checkpoint',
): void {
  const op = 'networkFromCheckpoint';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new CheckpointError(op, `${source}: the stored config is not an object`);
  }
  const list = Object.values(tensors);
  const maxDim = Math.max(1, ...list.flatMap((t) => t.shape));
  const c = config as Record<string, unknown>;
  const bound = (name: string, v: unknown, max: number, what: string) => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
      throw new CheckpointError(
        op,
        `${source}: the stored config has ${name} = ${JSON.stringify(v)}, but ${what} (${max}); the config does not match its tensors`,
      );
    }
  };
  const dims = `the largest dimension of a stored tensor is ${maxDim}`;
  bound('nLayers', c.nLayers, list.length, 'there are only this many stored tensors');
  for (const k of ['dIn', 'dModel', 'dOut', 'vocabSize', 'mlpExpansion']) bound(k, c[k], maxDim, dims);
  const cells = Array.isArray(c.cell) ? c.cell : [c.cell];
  bound(
    'the number of cell configs',
    cells.length,
    Math.max(1, list.length),
    'there are only this many stored tensors',
  );
  // Hybrids nest cell configs: bound every dState, at any depth (the depth itself is JSON-bounded).
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object') return;
    for (const [k, v] of Object.entries(x)) {
      if (k === 'dState') bound('cell dState', v, maxDim, dims);
      else walk(v);
    }
  };
  walk(cells);
}

/**
 * Decodes checkpoint bytes into tensors on the current backend, checking them against `expect`.
 *
 * @param bytes - The file contents.
 * @param options - A module or network the tensors must fit, and a name for errors.
 * @category Checkpoints
 */
export function deserializeCheckpoint(bytes: Uint8Array, options: LoadOptions = {}): LoadedCheckpoint {
  const source = options.source ?? 'checkpoint';
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  checkTensorNames(Object.keys(tensors), source);
  if (!options.allowNonFinite) checkFinite(tensors, source);
  const paramHost: Record<string, HostTensor> = {};
  const optimHost: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimHost[name.slice(OPTIMIZER_PREFIX.length)] = t;
    else paramHost[name] = t;
  }
  if (options.expect) checkTensors(paramHost, options.expect, source);
  let config: unknown;
  if (metadata.config !== undefined) {
    try {
      config = JSON.parse(metadata.config);
    } catch (e) {
      throw new CheckpointError(
        'loadCheckpoint',
        `${source}: metadata 'config' is not valid JSON (${(e as Error).message})`,
      );
    }
  }
  const upload = (h: HostTensor): Tensor => tensor(h.data, { shape: h.shape, dtype: h.dtype });
  const flat: Record<string, Tensor> = {};
  for (const [name, h] of Object.entries(paramHost)) flat[name] = upload(h);
  let optimizer: LoadedCheckpoint['optimizer'];
  if (metadata.optimizer_step !== undefined) {
    const step = Number(metadata.optimizer_step);
    if (!Number.isInteger(step) || step < 0) {
      throw new CheckpointError(
        'loadCheckpoint',
        `${source}: metadata 'optimizer_step' is not a step count: '${metadata.optimizer_step}'`,
      );
    }
    const ot: Record<string, Tensor> = {};
    for (const [name, h] of Object.entries(optimHost)) ot[name] = upload(h);
    optimizer = { step, tensors: ot };
  }
  return { params: unflattenTree(flat), config, metadata, optimizer };
}

/**
 * Rebuilds the network stored in a checkpoint from its `config` metadata, and loads its parameters
 * (checked against the rebuilt network).
 *
 * @param bytes - The file contents.
 * @param source - What to name in error messages (a file path, for example).
 * @category Checkpoints
 */
export function networkFromCheckpoint(bytes: Uint8Array, source = 'checkpoint'): LoadedNetwork {
  const { metadata, tensors } = decodeSafetensors(bytes, source);
  if (metadata.config === undefined) {
    throw new CheckpointError(
      'networkFromCheckpoint',
      `${source}: no 'config' metadata; load it with deserializeCheckpoint`,
    );
  }
  let stored: unknown;
  try {
    stored = JSON.parse(metadata.config);
  } catch (e) {
    throw new CheckpointError(
      'networkFromCheckpoint',
      `${source}: metadata 'config' is not valid JSON (${(e as Error).message})`,
    );
  }
  checkTensorNames(Object.keys(tensors), source);
  const params: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(tensors)) if (!name.startsWith(OPTIMIZER_PREFIX)) params[name] = t;
  checkConfigAgainstTensors(stored, params, source);
  let network: Network;
  try {
    network = createNetwork(stored as NetworkConfig);
  } catch (e) {
    throw new CheckpointError(
      'networkFromCheckpoint',
      `${source}: the stored config does not build a network (${(e as Error).message})`,
    );
  }
  return { ...deserializeCheckpoint(bytes, { expect: network, source }), network };
}
