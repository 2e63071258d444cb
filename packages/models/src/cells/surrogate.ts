/**
 * Hard steps with surrogate gradients.
 *
 * The forward pass of the memory units uses the exact Heaviside step `H(x)` (`H(0) = 1`) and sign
 * (`sign(0) = +1`); their true derivative is zero almost everywhere, so the backward pass substitutes
 * the derivative of a scaled arctangent, `H'(x) ≈ k / (1 + (π k x)^2)` (`k = 1` by default; see the models guide)
 * and `sign'(x) ≈ 2 H'(x)`. Both are `customVjp` functions: the forward is not recorded, the VJP
 * multiplies the cotangent by the surrogate.
 */
import { add, cast, customVjp, div, ge, mul, square, type Tensor, ValueError, where } from '@mru/core';

/**
 * The surrogate derivative `k / (1 + (π k x)^2)` of the Heaviside step, as a tensor.
 *
 * @param x - The input.
 * @param k - The sharpness (default 1).
 * @category Cells
 */
export function heavisideSurrogateGrad(x: Tensor, k: number): Tensor {
  return div(k, add(square(mul(x, Math.PI * k)), 1));
}

function checkK(k: number): void {
  if (!(k > 0) || !Number.isFinite(k))
    throw new ValueError('surrogate', `sharpness k must be positive and finite, got ${k}`);
}

/**
 * `H(x)`: 1 where `x >= 0`, else 0 (float32); backward uses `k / (1 + (π k x)^2)`.
 *
 * @param x - The input.
 * @param k - The sharpness of the surrogate gradient (default 1).
 * @category Cells
 */
export function heaviside(x: Tensor, k = 1): Tensor {
  checkK(k);
  return customVjp(
    (v: Tensor) => cast(ge(v, 0), 'float32'),
    (g, [v]) => [mul(g, heavisideSurrogateGrad(v, k))],
  )(x);
}

/**
 * `sign(x)` with `sign(0) = +1` (float32 ±1); backward uses `2 k / (1 + (π k x)^2)`.
 *
 * @param x - The input.
 * @param k - The sharpness of the surrogate gradient (default 1).
 * @category Cells
 */
export function signSte(x: Tensor, k = 1): Tensor {
  checkK(k);
  return customVjp(
    (v: Tensor) => where(ge(v, 0), 1, -1),
    (g, [v]) => [mul(g, mul(heavisideSurrogateGrad(v, k), 2))],
  )(x);
}
