/**
 * Reverse-mode automatic differentiation.
 *
 * `valueAndGrad(fn)` opens a tape, runs `fn`, and every op whose inputs depend on the differentiated
 * arguments records a node holding its vector-Jacobian product (VJPs live next to their ops, in
 * `ops/`). The backward pass walks the nodes in reverse creation order, which is a valid reverse
 * topological order because an op's inputs always exist before it runs. The backward pass itself is
 * not recorded (no higher-order gradients). Every tensor created while the tape is open is freed when
 * it closes, except the value, the gradients and the aux output: this is what keeps training loops in
 * constant memory without the user managing intermediates.
 */
import {
  adopt,
  assertLive,
  closeTape,
  collectTensors,
  noGrad,
  openTape,
  record,
  releaseNow,
  shareStorage,
} from './engine.js';
import { DTypeError, fmtShape, ShapeError, ValueError } from './errors.js';
import { describeValue } from './ops/validate.js';
import { shapesEqual } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * A tensor, or arrays / plain objects nesting tensors: the shape of differentiable arguments.
 *
 * @category Autograd
 */
export type Tree = Tensor | readonly Tree[] | { readonly [key: string]: Tree };

/**
 * Maps a tree of tensors to the same structure (used for gradients). A tree type that already has
 * only tensors at its leaves (every `Tree`, a model's `ParamTree`) maps to itself, which keeps the
 * gradient assignable wherever the parameters are (an optimizer's `step(params, grads)`) and keeps
 * the compiler from unfolding recursive tree types level by level.
 *
 * @category Autograd
 */
export type TreeLike<P> = P extends Tree
  ? P
  : P extends Tensor
    ? Tensor
    : P extends readonly unknown[]
      ? { [K in keyof P]: TreeLike<P[K]> }
      : P extends object
        ? { [K in keyof P]: TreeLike<P[K]> }
        : never;

/**
 * Result of a function differentiated with `valueAndGrad`.
 *
 * @category Autograd
 */
export interface ValueAndGrad<P, A> {
  /** The scalar value of the function. */
  readonly value: Tensor;
  /** Gradients of the value with respect to the first argument, with its structure. */
  readonly grads: TreeLike<P>;
  /** What the function returned beside the loss when `hasAux` is set. */
  readonly aux: A;
}

/**
 * Options of `valueAndGrad`.
 *
 * @category Autograd
 */
export interface ValueAndGradOptions {
  /** The function returns `[loss, aux]`; `aux` (tensors included) is passed through. */
  readonly hasAux?: boolean;
}

function leaves(tree: unknown, op: string): Tensor[] {
  const out: Tensor[] = [];
  const walk = (x: unknown): void => {
    if (x instanceof Tensor) out.push(x);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x !== null && typeof x === 'object') Object.values(x).forEach(walk);
    else
      throw new ValueError(
        op,
        `differentiable arguments must be tensors, arrays or objects of tensors, got ${typeof x}`,
      );
  };
  walk(tree);
  return out;
}

function rebuild(tree: unknown, map: Map<Tensor, Tensor>): unknown {
  if (tree instanceof Tensor) return map.get(tree);
  if (Array.isArray(tree)) return tree.map((x) => rebuild(x, map));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree as object)) out[k] = rebuild(v, map);
  return out;
}

// Typing: `P` is what `fn` declares for its first parameter. An unannotated callback, the first thing
// every user writes (`valueAndGrad((p) => net.loss(p, x, y))(params)`), gives the compiler nothing to
// infer `P` from at this call, so `P` falls back to its default, `any`: the callback body then
// typechecks against whatever it passes `p` to (a `ParamTree`, a `Tensor`). The returned function is
// generic in the argument it is actually called with (`Q`), so `grads` still gets the exact structure
// of `params`. A default of `Tree` instead would type `p` as a union that no consumer accepts (TS2345).
/**
 * Turns `fn(params, ...rest)` returning a scalar float32 tensor into a function returning the value and
 * the gradient with respect to `params` (a tensor or a tree of tensors). The one way to differentiate
 * in mru.
 *
 * Every tensor created while `fn` runs is released when the call returns, except the value, the
 * gradients and the aux output (and tensors `fn` passed to `keep`). A tensor that appears at two
 * places of `params` is one input: both places receive its total gradient.
 *
 * ```ts
 * const { value, grads } = valueAndGrad((p: { w: Tensor }) => sum(square(p.w)))({ w });
 * ```
 *
 * @param fn - The function to differentiate: `(params, ...rest)` returning a scalar float32 tensor
 *   (or `[loss, aux]` with `hasAux`). Its first parameter may be left unannotated.
 * @param options - `hasAux`: the function returns `[loss, aux]`.
 * @returns A function of `(params, ...rest)` returning `{ value, grads, aux }`, with `grads` shaped
 *   like `params`.
 * @category Autograd
 */
export function valueAndGrad<P extends Tree = any, R extends unknown[] = [], A = undefined>(
  fn: (params: P, ...rest: R) => Tensor | [Tensor, A],
  options: ValueAndGradOptions = {},
): <Q extends P>(params: Q, ...rest: R) => ValueAndGrad<Q, A> {
  if (typeof fn !== 'function') {
    throw new ValueError('valueAndGrad', `expects a function, got ${describeValue(fn)}`);
  }
  return <Q extends P>(params: Q, ...rest: R): ValueAndGrad<Q, A> => {
    const inputs = leaves(params, 'valueAndGrad');
    for (const x of inputs) {
      // Before the tape opens: a disposed input would otherwise run the function on a freed buffer
      // and fail only when the tape releases it, leaving everything the function made behind.
      assertLive('valueAndGrad', x);
      if (x.dtype !== 'float32') {
        throw new DTypeError(
          'valueAndGrad',
          `can only differentiate float32 tensors, got ${x.dtype}${fmtShape(x.shape)}`,
        );
      }
    }
    const tape = openTape();
    let value: Tensor;
    let aux: A = undefined as A;
    const results = new Set<Tensor>();
    let gradMap: Map<Tensor, Tensor>;
    try {
      // Fresh views so that the same tensor passed twice, or also captured by fn, is tracked cleanly.
      const views = new Map<Tensor, Tensor>();
      for (const x of inputs) if (!views.has(x)) views.set(x, shareStorage(x, x.shape));
      for (const v of views.values()) tape.tracked.add(v);
      const out = fn(rebuild(params, views) as P, ...rest) as unknown;
      if (isThenable(out)) {
        // The tape cannot wait for an async function; its later rejection must not crash the process.
        Promise.resolve(out).catch(() => {});
        throw new ValueError(
          'valueAndGrad',
          'the function returned a Promise (is it async?); valueAndGrad needs a synchronous function returning a scalar tensor',
        );
      }
      if (options.hasAux) {
        if (!Array.isArray(out) || out.length !== 2) {
          throw new ValueError('valueAndGrad', 'with hasAux the function must return [loss, aux]');
        }
        value = out[0] as Tensor;
        aux = out[1] as A;
      } else value = out as Tensor;
      if (isThenable(value)) {
        Promise.resolve(value).catch(() => {});
        throw new ValueError(
          'valueAndGrad',
          'the function returned a Promise as its loss; it must be synchronous',
        );
      }
      if (!(value instanceof Tensor) || value.size !== 1 || value.dtype !== 'float32') {
        throw new ShapeError(
          'valueAndGrad',
          `the function must return a scalar float32 tensor, got ${value instanceof Tensor ? `${value.dtype}${fmtShape(value.shape)}` : typeof value}`,
        );
      }
      const keepAlive = collectTensors(aux);
      keepAlive.add(value);
      const grads = backward(tape, value, keepAlive);
      gradMap = new Map();
      for (const [x, v] of views) {
        let g = noGrad(() => grads.get(v) ?? zerosLikeFloat(x));
        // Two inputs can receive the very same cotangent tensor (add's VJP is [g, g]): give each its
        // own handle, so disposing one gradient never invalidates another.
        if (results.has(g)) g = shareStorage(g, g.shape);
        gradMap.set(x, g);
        results.add(g);
      }
      results.add(value);
      for (const t of collectTensors(aux)) results.add(t);
    } finally {
      closeTape(tape, results);
    }
    return { value, grads: rebuild(params, gradMap) as TreeLike<Q>, aux };
  };
}

function isThenable(x: unknown): boolean {
  return x !== null && typeof x === 'object' && typeof (x as { then?: unknown }).then === 'function';
}

function zerosLikeFloat(x: Tensor): Tensor {
  const b = x.backend;
  return adopt(b, b.fill(x.size, 'float32', 0), x.shape, 'float32');
}

/**
 * Accumulates cotangents from `root` back through the tape, freeing as it goes what no later step can
 * need: a node's forward outputs once its VJP has run (only nodes recorded before it, which cannot
 * refer to them, remain), the cotangents it consumed, and the temporaries of its VJP and of the
 * accumulation. Without this every intermediate of the backward pass would live until the tape
 * closes. Tensors in `keepAlive` (the value, the aux output), kept ones and live gradients are spared.
 */
function backward(
  tape: ReturnType<typeof openTape>,
  root: Tensor,
  keepAlive: ReadonlySet<Tensor>,
): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>();
  if (!tape.tracked.has(root)) return grads;
  tape.paused++;
  // Tensors made during the backward pass: the only cotangents it may free (a VJP may hand back a
  // forward tensor as a cotangent, which an earlier node's VJP can still need).
  const made = new Set<Tensor>();
  const noteMade = (from: number): void => {
    for (let k = from; k < tape.created.length; k++) made.add(tape.created[k]);
  };
  try {
    const b = root.backend;
    let mark = tape.created.length;
    grads.set(root, adopt(b, b.fill(root.size, 'float32', 1), root.shape, 'float32'));
    noteMade(mark);
    for (let i = tape.nodes.length - 1; i >= 0; i--) {
      const node = tape.nodes[i];
      const cts = node.outputs.map((o) => grads.get(o) ?? null);
      const dead: Tensor[] = [...node.outputs];
      if (!cts.every((c) => c === null)) {
        mark = tape.created.length;
        const ins = node.vjp(cts);
        node.inputs.forEach((x, j) => {
          const g = ins[j];
          if (!g || !tape.tracked.has(x)) return;
          if (!shapesEqual(g.shape, x.shape)) {
            throw new ShapeError(
              `vjp of ${node.name}`,
              `cotangent of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(x.shape)}`,
            );
          }
          const prev = grads.get(x);
          if (prev) {
            grads.set(x, addSame(prev, g));
            dead.push(prev, g);
          } else grads.set(x, g);
        });
        noteMade(mark);
        for (let k = mark; k < tape.created.length; k++) dead.push(tape.created[k]);
      }
      for (const o of node.outputs) {
        const c = grads.get(o);
        if (c) {
          grads.delete(o);
          dead.push(c);
        }
      }
      const live = new Set(grads.values());
      for (const t of dead) {
        if (live.has(t) || keepAlive.has(t) || t.kept || t.ownerTape !== tape) continue;
        if (made.has(t) || node.outputs.includes(t)) releaseNow(t);
      }
    }
  } finally {
    tape.paused--;
  }
  return grads;
}

function addSame(a: Tensor, b: Tensor): Tensor {
  return adopt(a.backend, a.backend.binary('add', a, b, a.shape), a.shape, 'float32');
}

/**
 * Defines a function with a hand-written gradient. `forward` computes the outputs (not recorded);
 * `vjp(cotangent, inputs, output)` returns one cotangent per input (null for none). Used for
 * surrogate gradients of step functions.
 *
 * @param forward - Computes the output from the inputs (not recorded on the tape).
 * @param vjp - Returns one cotangent per input (or null) from the output's cotangent, the inputs and the output.
 * @category Autograd
 */
export function customVjp<I extends Tensor[]>(
  forward: (...inputs: I) => Tensor,
  vjp: (cotangent: Tensor, inputs: I, output: Tensor) => readonly (Tensor | null)[],
): (...inputs: I) => Tensor {
  return (...inputs: I) => {
    const raw = noGrad(() => forward(...inputs));
    // A forward that returns one of its inputs (an identity with a custom gradient) must still give a
    // new tensor, or the cotangent would reach that input twice: directly and through the VJP.
    const out = inputs.includes(raw) ? shareStorage(raw, raw.shape) : raw;
    record('customVjp', inputs, [out], ([g]) => {
      const r = vjp(g as Tensor, inputs, out);
      if (r.length !== inputs.length) {
        throw new ValueError('customVjp', `vjp returned ${r.length} cotangents for ${inputs.length} inputs`);
      }
      return r;
    });
    return out;
  };
}

/**
 * The same values, cut from the gradient: nothing flows back through the result.
 *
 * @param x - The input tensor.
 * @category Autograd
 */
export function stopGradient(x: Tensor): Tensor {
  return shareStorage(x, x.shape);
}
