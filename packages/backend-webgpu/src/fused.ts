/**
 * Fused elementwise programs (`Backend.elementwise`) as WGSL compute kernels.
 *
 * Why: a chain of elementwise primitives costs one dispatch, one read and one write of a full tensor,
 * and one pooled buffer per node; core's `fuse` hands the whole chain over as one `ElementwiseProgram`
 * so that it can run as one kernel that reads every operand once, keeps every intermediate in a
 * register and writes every output once.
 *
 * Design:
 * - One kernel per program and *layout variant*, never per shape or per value. The source depends on
 *   the program's key, the subset of outputs it writes (see bindings below) and how each operand is
 *   addressed: `c` contiguous (the operand has the output's size: index `i`), `s` one element
 *   (index 0), `r` a row broadcast over the collapsed leading dims (a `[C]` bias over `[B, T, C]`:
 *   index `i % C`), or `g` general (the linear index decomposed over the collapsed output shape, with
 *   the operand's broadcast strides). Shapes, strides, sizes and the scalar parameters travel in the
 *   backend's uniform block at dispatch time, so a changing learning rate or a new batch size reuses
 *   the compiled pipeline.
 * - Exactly the primitives' WGSL. Every node is a call of a small function whose body is the very
 *   expression the unary, binary, where and cast kernels use (`unaryExpr`, `binaryExpr`, `castExpr`
 *   and their helpers in wgsl.ts): int32 wraps, int32 division by zero gives 0, NaN propagates
 *   through maximum/minimum, comparisons spell out NaN, float-to-int casts saturate, sigmoid and tanh
 *   are the stable forms. WGSL's f32 arithmetic rounds every node to float32, as storing it between
 *   primitives would. What WGSL does not promise is that a driver keeps `a * b + c` as two roundings
 *   (it may contract it into a fused multiply-add) or evaluates a builtin such as `exp` the same way
 *   when inlined into a larger expression; so on some devices a fused program may differ from the
 *   chain of primitives by a rounding or a few ulps (on lavapipe it is bit-identical in our tests).
 * - Storage as everywhere in this backend: one 32-bit word per element, bool as `u32` 0 or 1.
 * - Bindings. A kernel binds the operands its outputs read and its outputs, which must fit the
 *   device's `maxStorageBuffersPerShaderStage` (8 by default, often 10 or 16). A program with more is
 *   split: its outputs are grouped greedily so that each group's operands and outputs fit, one
 *   dispatch per group (each recomputes the nodes it needs). An output that alone needs more operands
 *   than fit, or a layout whose parameters overflow the uniform block, runs one primitive per node
 *   (`runPrimitives`, the reference).
 */
import {
  BackendError,
  type DType,
  DTypeError,
  type ElementwiseProgram,
  type ExprNode,
  fmtShape,
  type KernelTensor,
  operandsOf,
  ShapeError,
  sizeOf,
} from '@mru/core';
import * as W from './wgsl.js';

/** How a kernel addresses one operand; see the file comment. */
export type OperandMode = 'c' | 's' | 'r' | 'g';

/** One dispatch of a fused program: which operands and outputs it binds, and how. */
export interface FusedGroup {
  /** Operand indices bound by this dispatch, in binding order. */
  readonly inputs: readonly number[];
  /** How each bound operand is addressed (parallel to `inputs`). */
  readonly modes: readonly OperandMode[];
  /** Positions in `program.outputs` written by this dispatch, in binding order. */
  readonly outputs: readonly number[];
  /** The kernel cache key: program key, outputs and operand modes. */
  readonly key: string;
  /** The uniform parameter words of the dispatch (see `fusedKernel`). */
  readonly params: readonly number[];
}

/** Parameter words before the scalars: `[n, rank, inner, zero]`. */
const HEADER_WORDS = 4;

/**
 * `keep_f32(x)` is `x`, but through an integer XOR with a word the compiler cannot see (the 0 of the
 * parameter block's word 3), so no rewrite crosses a node boundary: no `a * b + c` contracted into a
 * fused multiply-add, no `exp(1.5 * x)` folded into `exp`'s own scaling (lavapipe's LLVM does both
 * without it). Each node is then compiled as in its primitive kernel, which reads its operands from
 * memory.
 */
const KEEP_F32 = /* wgsl */ `fn keep_f32(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) ^ prm(3u)); }`;

const f32Bits = (() => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return (v: number): number => {
    f[0] = v;
    return u[0];
  };
})();

/**
 * The 32-bit word of scalar parameter `value` of `dtype`, as `fill` stores the same number (which is
 * what the primitive path makes of a scalar): float32 rounded, int32 truncated and saturated (NaN 0),
 * bool 0 or 1.
 */
export function scalarWord(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return f32Bits(value);
    case 'int32':
      if (Number.isNaN(value)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value))) >>> 0;
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

/** The operand indices that the nodes reachable from `roots` read. */
function reachable(program: ElementwiseProgram, roots: readonly number[]): boolean[] {
  const keep = new Array<boolean>(program.nodes.length).fill(false);
  for (const r of roots) keep[r] = true;
  for (let i = program.nodes.length - 1; i >= 0; i--) {
    if (!keep[i]) continue;
    for (const j of operandsOf(program.nodes[i])) keep[j] = true;
  }
  return keep;
}

function inputsOf(program: ElementwiseProgram, keep: readonly boolean[]): number[] {
  const set = new Set<number>();
  program.nodes.forEach((n, i) => {
    if (keep[i] && n.kind === 'input') set.add(n.index);
  });
  return [...set].sort((a, b) => a - b);
}

/**
 * The collapsed layout of a call: the output shape with size-1 dims dropped and neighbours merged
 * where contiguous in every operand (`collapseDims` in backend.ts), and the strides of the output
 * (first) and of each operand over it.
 */
export interface CollapsedLayout {
  readonly shape: readonly number[];
  readonly strides: readonly (readonly number[])[];
}

/**
 * Checks a call of `program` (operand count, dtypes, broadcasting, scalar count) and plans its
 * dispatches for a device binding at most `maxBindings` storage buffers per kernel. `layout` is
 * the collapsed layout of the output and every operand's broadcast strides. Returns null when
 * the program cannot run fused here (an output needs more operands than fit, or the layout needs more
 * parameter words than the uniform block holds): the caller then runs the primitives.
 */
export function planElementwise(
  program: ElementwiseProgram,
  inputs: readonly KernelTensor[],
  scalars: readonly number[],
  outShape: readonly number[],
  layout: () => CollapsedLayout,
  maxBindings: number,
): FusedGroup[] | null {
  const op = 'elementwise';
  if (inputs.length !== program.inputDTypes.length) {
    throw new BackendError(op, `${inputs.length} operands for a program of ${program.inputDTypes.length}`);
  }
  if (scalars.length !== program.scalarDTypes.length) {
    throw new BackendError(
      op,
      `${scalars.length} scalar values for a program of ${program.scalarDTypes.length} parameters`,
    );
  }
  inputs.forEach((x, k) => {
    if (x.dtype !== program.inputDTypes[k]) {
      throw new DTypeError(op, `operand ${k} is ${x.dtype}, the program expects ${program.inputDTypes[k]}`);
    }
    const off = outShape.length - x.shape.length;
    if (off < 0 || x.shape.some((d, i) => d !== 1 && d !== outShape[off + i])) {
      throw new ShapeError(
        op,
        `operand ${k} of shape ${fmtShape(x.shape)} does not broadcast to ${fmtShape(outShape)}`,
      );
    }
  });
  const n = sizeOf(outShape);

  // Group the outputs so that each dispatch's operands and outputs fit the binding limit.
  const needs = program.outputs.map((o) => inputsOf(program, reachable(program, [o])));
  const groups: { outputs: number[]; inputs: Set<number> }[] = [];
  for (let k = 0; k < program.outputs.length; k++) {
    if (needs[k].length + 1 > maxBindings) return null;
    const last = groups[groups.length - 1];
    if (last) {
      const union = new Set([...last.inputs, ...needs[k]]);
      if (union.size + last.outputs.length + 1 <= maxBindings) {
        last.outputs.push(k);
        last.inputs = union;
        continue;
      }
    }
    groups.push({ outputs: [k], inputs: new Set(needs[k]) });
  }

  // One collapsed layout for every operand (merging dims contiguous in all of them).
  const c = layout();
  const rank = c.shape.length;
  const inner = rank > 0 ? c.shape[rank - 1] : 1;
  const modeOf = (k: number): OperandMode => {
    const size = sizeOf(inputs[k].shape);
    if (size === n) return 'c';
    if (size === 1) return 's';
    const s = c.strides[k + 1];
    if (s[rank - 1] === 1 && s.slice(0, rank - 1).every((v) => v === 0)) return 'r';
    return 'g';
  };
  const scalarWords = scalars.map((v, i) => scalarWord(v, program.scalarDTypes[i]));

  const plans: FusedGroup[] = [];
  for (const g of groups) {
    const ins = [...g.inputs].sort((a, b) => a - b);
    const modes = ins.map(modeOf);
    const params = [n, rank, inner, 0, ...scalarWords, ...c.shape];
    ins.forEach((k, j) => {
      if (modes[j] === 'g') params.push(...c.strides[k + 1]);
    });
    if (params.length > W.PARAM_WORDS - 1) return null;
    const key = `fused/${program.key}/${g.outputs.join(',')}/${ins.map((k, j) => `${k}${modes[j]}`).join(',')}`;
    plans.push({ inputs: ins, modes, outputs: g.outputs, key, params });
  }
  return plans;
}

/** The WGSL value of node `n` (of `dtype`) from the locals `v<j>`. */
function nodeExpr(program: ElementwiseProgram, n: ExprNode, dtype: DType, fns: Map<string, string>): string {
  const t = (d: DType) => W.wgslType(d);
  switch (n.kind) {
    case 'input':
    case 'scalar':
      throw new BackendError('elementwise', 'internal: operands are not expressions');
    case 'unary': {
      const tx = t(program.dtypes[n.x]);
      const name = `u_${n.op}_${tx}`;
      fns.set(name, `fn ${name}(v: ${tx}) -> ${tx} { return ${W.unaryExpr(n.op, tx)}; }`);
      return `${name}(v${n.x})`;
    }
    case 'binary': {
      const ta = t(program.dtypes[n.a]);
      const name = `b_${n.op}_${ta}`;
      fns.set(name, `fn ${name}(a: ${ta}, b: ${ta}) -> ${t(dtype)} { return ${W.binaryExpr(n.op, ta)}; }`);
      return `${name}(v${n.a}, v${n.b})`;
    }
    case 'where':
      return `select(v${n.b}, v${n.a}, v${n.cond} != 0u)`;
    case 'cast': {
      const from = program.dtypes[n.x];
      const name = `c_${t(from)}_${t(dtype)}`;
      fns.set(name, `fn ${name}(v: ${t(from)}) -> ${t(dtype)} { return ${W.castExpr(from, dtype)}; }`);
      return `${name}(v${n.x})`;
    }
  }
}

/**
 * The kernel of one dispatch `group` of `program`: one invocation per output element. Parameter
 * words: `[n, rank, inner, 0, scalars[S], shape[rank], strides[rank] of each 'g' operand in binding
 * order]`, with `shape` the collapsed output shape and `inner` its last dim.
 */
export function fusedKernel(wg: number, program: ElementwiseProgram, group: FusedGroup): W.KernelSource {
  const S = program.scalarDTypes.length;
  const shapeAt = HEADER_WORDS + S;
  const roots = group.outputs.map((k) => program.outputs[k]);
  const keep = reachable(program, roots);
  const fns = new Map<string, string>();
  const lines: string[] = ['  if (i >= prm(0u)) { return; }'];
  const slot = new Map<number, number>(); // operand index -> binding position
  group.inputs.forEach((k, j) => {
    slot.set(k, j);
  });
  const general = group.inputs.filter((_, j) => group.modes[j] === 'g');
  if (general.length > 0) {
    lines.push('  let rank = prm(1u);');
    general.forEach((_, g) => {
      lines.push(`  var off${g} = 0u;`);
    });
    lines.push('  var rem = i;');
    lines.push('  for (var d = rank; d > 0u; d = d - 1u) {');
    lines.push(`    let c = rem % prm(${shapeAt}u + d - 1u);`);
    lines.push(`    rem = rem / prm(${shapeAt}u + d - 1u);`);
    general.forEach((_, g) => {
      lines.push(`    off${g} = off${g} + c * prm(${shapeAt}u + ${g + 1}u * rank + d - 1u);`);
    });
    lines.push('  }');
  }
  let usesFloat = false;
  let usesCast = false;
  program.nodes.forEach((n, i) => {
    if (!keep[i]) return;
    const dt = program.dtypes[i];
    if (n.kind === 'input') {
      const j = slot.get(n.index) as number;
      const mode = group.modes[j];
      const at =
        mode === 'c'
          ? 'i'
          : mode === 's'
            ? '0u'
            : mode === 'r'
              ? 'i % prm(2u)'
              : `off${general.indexOf(n.index)}`;
      lines.push(`  let v${i} = x${j}[${at}];`);
      return;
    }
    if (n.kind === 'scalar') {
      const w = `prm(${HEADER_WORDS + n.index}u)`;
      const v = dt === 'float32' ? `bitcast<f32>(${w})` : dt === 'int32' ? `bitcast<i32>(${w})` : w;
      lines.push(`  let v${i} = ${v};`);
      return;
    }
    if (
      (n.kind === 'unary' || n.kind === 'binary') &&
      program.dtypes[n.kind === 'unary' ? n.x : n.a] === 'float32'
    )
      usesFloat = true;
    if (n.kind === 'cast' && program.dtypes[n.x] === 'float32') usesCast = true;
    const value = nodeExpr(program, n, dt, fns);
    const kept = dt === 'float32' && n.kind !== 'where' ? `keep_f32(${value})` : value;
    lines.push(`  let v${i}: ${W.wgslType(dt)} = ${kept};`);
  });
  group.outputs.forEach((k, j) => {
    lines.push(`  y${j}[i] = v${program.outputs[k]};`);
  });
  const helpers = [
    KEEP_F32,
    usesFloat ? W.FLOAT_HELPERS : '',
    usesCast ? W.CAST_HELPERS : '',
    ...fns.values(),
  ].join('\n');
  return W.elementKernel(
    wg,
    group.inputs.map((k, j) => ({ name: `x${j}`, type: W.wgslType(program.inputDTypes[k]) })),
    group.outputs.map((k, j) => ({
      name: `y${j}`,
      type: W.wgslType(program.dtypes[program.outputs[k]]),
    })),
    lines.join('\n'),
    helpers,
  );
}
