/**
 * One `@mru/core` per process. Engine state is shared through `globalThis`, but a tensor is recognised
 * with `instanceof`: with two copies of core loaded (npm nests a second copy when a package pins
 * another version), a tensor made by one copy is "not a Tensor" to the other and every op fails with a
 * misleading dtype error. So each copy, when its module initialises, signs a list on `globalThis`
 * (keyed by a `Symbol.for`, which every copy and every realm-sharing bundle sees) with its own record:
 * its version and where it was loaded from. The second signature raises a `DuplicateCoreError`
 * naming both copies and how to dedupe; afterwards either copy's `registerBackend`/`setBackend`
 * raises it too, so a program cannot go on with two cores silently.
 *
 * A copy is recognised by the identity of its record, a fresh object per module evaluation, not by
 * the URL: a bundler that inlines two copies into one chunk gives both the same `import.meta.url`.
 */
import { DuplicateCoreError } from './errors.js';
import { VERSION } from './version.js';

/** One loaded copy of core. */
interface CoreCopy {
  readonly version: string;
  readonly url: string;
}

const KEY = Symbol.for('@mru/core/copies');
const g = globalThis as unknown as { [KEY]?: CoreCopy[] };
const self: CoreCopy = Object.freeze({ version: VERSION, url: import.meta.url });

function describe(copies: readonly CoreCopy[]): string {
  return copies.map((c) => `${c.version} (${c.url})`).join(' and ');
}

function duplicateError(op: string, copies: readonly CoreCopy[]): DuplicateCoreError {
  return new DuplicateCoreError(
    op,
    `${copies.length} copies of @mru/core are loaded: ${describe(copies)}. A tensor of one copy is not ` +
      'a tensor of the other, so mru needs exactly one. Install a single @mru/core: packages that extend ' +
      'it (backends, models) must declare it as a peer dependency; run `npm ls @mru/core` (or `pnpm why ' +
      '@mru/core`) to find the nested copy, align the versions, then `npm dedupe` (or `pnpm dedupe`); in ' +
      "a bundle, point every import at one copy (vite: `resolve: { dedupe: ['@mru/core'] }`).",
  );
}

/**
 * Signs this copy into the process-wide list; throws if another copy signed first. Called once, when
 * the engine module initialises. @internal
 */
export function claimCore(): void {
  g[KEY] ??= [];
  const copies = g[KEY];
  if (!copies.includes(self)) copies.push(self);
  if (copies.length > 1) throw duplicateError('@mru/core', copies);
}

/** Throws `DuplicateCoreError` if more than one copy of core has loaded. @internal */
export function assertSingleCore(op: string): void {
  const copies = g[KEY] ?? [];
  if (copies.length > 1) throw duplicateError(op, copies);
}
