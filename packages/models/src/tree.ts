/**
 * Parameter trees: the one representation of a model's weights.
 *
 * Design: a model's parameters are a plain nested object of tensors (`ParamTree`), passed explicitly
 * to every forward function, so `valueAndGrad(loss)(params)` differentiates the whole model and the
 * gradient comes back with the same structure. Two views exist: the tree (what forward code reads,
 * `params.layers['0'].cell.wc.weight`) and the flat map with dotted names (`'layers.0.cell.wc.weight'`),
 * which is what optimizers key their state by and what checkpoints store. `flattenTree` and
 * `unflattenTree` convert between them and are exact inverses for trees whose keys contain no dots.
 *
 * Seeds: every random initialisation and every dropout mask draws from the counter-based generator of
 * `@mru/core` with a seed derived from a root seed and the parameter's (or module's) dotted name, so a
 * network initialises identically on every backend and independently of construction order.
 */
import { Tensor, ValueError } from '@mru/core';

/**
 * A nested object of tensors: the parameters (or gradients, or optimizer moments) of a model.
 *
 * @category Parameter trees
 */
export interface ParamTree {
  /** A tensor or a nested tree, by name (names contain no dots). */
  readonly [name: string]: Tensor | ParamTree;
}

/**
 * Walks a tree and returns its leaves keyed by dotted path, in insertion order.
 *
 * @param tree - The parameter tree.
 * @param prefix - Prepended to every name (default none).
 * @category Parameter trees
 */
export function flattenTree(tree: ParamTree, prefix = ''): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const walk = (node: ParamTree, path: string): void => {
    for (const [key, value] of Object.entries(node)) {
      if (key.includes('.'))
        throw new ValueError('flattenTree', `parameter name '${key}' must not contain a dot`);
      const name = path ? `${path}.${key}` : key;
      if (value instanceof Tensor) out[name] = value;
      else if (value !== null && typeof value === 'object') walk(value, name);
      else throw new ValueError('flattenTree', `'${name}' is neither a tensor nor a tree of tensors`);
    }
  };
  walk(tree, prefix);
  return out;
}

/**
 * Path segments that no parameter name may contain: assigning them on a plain object reaches its
 * prototype (prototype pollution), so a tree built from untrusted names must refuse them.
 *
 * @category Parameter trees
 */
export const RESERVED_SEGMENTS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * Rebuilds the nested tree from a flat map with dotted names (the inverse of `flattenTree`).
 *
 * @param flat - Tensors by dotted name.
 * @category Parameter trees
 */
export function unflattenTree(flat: Readonly<Record<string, Tensor>>): ParamTree {
  const root: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(flat)) {
    const parts = name.split('.');
    // Names can come from a file: `__proto__.reverse` would set a property of Object.prototype.
    const bad = parts.find((p) => RESERVED_SEGMENTS.includes(p));
    if (bad !== undefined) {
      throw new ValueError('unflattenTree', `'${name}' contains the reserved name '${bad}'`);
    }
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      // Own properties only: an inherited `toString` is not a sub-tree to write into.
      const existing = Object.hasOwn(node, parts[i]) ? node[parts[i]] : undefined;
      if (existing instanceof Tensor) {
        throw new ValueError(
          'unflattenTree',
          `'${parts.slice(0, i + 1).join('.')}' is both a tensor and a prefix of '${name}'`,
        );
      }
      let child = existing as Record<string, unknown> | undefined;
      if (!child) {
        child = {};
        node[parts[i]] = child;
      }
      node = child;
    }
    const leaf = parts[parts.length - 1];
    if (Object.hasOwn(node, leaf)) {
      throw new ValueError('unflattenTree', `'${name}' is both a tensor and a prefix of another name`);
    }
    node[leaf] = value;
  }
  return root as ParamTree;
}

/**
 * Applies `fn` to every leaf, keeping the structure (e.g. to copy or cast a tree).
 *
 * @param tree - The tree.
 * @param fn - Maps a leaf and its dotted name to the new leaf.
 * @category Parameter trees
 */
export function mapTree(tree: ParamTree, fn: (t: Tensor, name: string) => Tensor): ParamTree {
  const flat = flattenTree(tree);
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(flat)) out[name] = fn(t, name);
  return unflattenTree(out);
}

/**
 * Reads a leaf tensor of `tree`, with an error naming the owner and the missing name.
 *
 * @param tree - The tree.
 * @param name - The key.
 * @param owner - The module to name in the error.
 * @category Parameter trees
 */
export function getTensor(tree: ParamTree | undefined, name: string, owner: string): Tensor {
  const v = tree?.[name];
  if (!(v instanceof Tensor)) {
    throw new ValueError(
      owner,
      `missing parameter '${name}' (have: ${tree ? Object.keys(tree).join(', ') || 'none' : 'no tree'})`,
    );
  }
  return v;
}

/**
 * Reads a sub-tree of `tree`, with an error naming the owner and the missing name.
 *
 * @param tree - The tree.
 * @param name - The key.
 * @param owner - The module to name in the error.
 * @category Parameter trees
 */
export function getSubtree(tree: ParamTree | undefined, name: string, owner: string): ParamTree {
  const v = tree?.[name];
  if (v === undefined || v instanceof Tensor) {
    throw new ValueError(
      owner,
      `missing parameter group '${name}' (have: ${tree ? Object.keys(tree).join(', ') || 'none' : 'no tree'})`,
    );
  }
  return v;
}

function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so that similar names give unrelated seeds.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A seed for the random draw of one named thing (a parameter, a dropout mask) under a root seed: a
 * 53-bit hash of both, usable as the `seed` option of core's random functions. Different names or
 * roots give unrelated Philox streams.
 *
 * @param root - The root seed.
 * @param name - The dotted name it is derived for.
 * @category Parameter trees
 */
export function deriveSeed(root: number, name: string): number {
  if (!Number.isSafeInteger(root) || root < 0) {
    throw new ValueError('deriveSeed', `seed must be a non-negative safe integer, got ${root}`);
  }
  const text = `${root}\u0000${name}`;
  const lo = fnv1a(text, 0x811c9dc5);
  const hi = fnv1a(text, 0x050c5d1f) & 0x1fffff;
  return hi * 2 ** 32 + lo;
}
