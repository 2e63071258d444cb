/**
 * The CLI's version, read from its package.json at load time: a literal in the source is one more
 * thing a release must remember to bump, and changesets bump only package.json. The file sits one
 * level above both `src/` and `dist/`, and npm always packs it, so the same relative path works from
 * the sources (tests), the build and an installed package.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const version = (pkg as { version?: unknown }).version;
  if (typeof version !== 'string' || version === '') {
    throw new Error(`@mru/cli: package.json has no version string (got ${JSON.stringify(version)})`);
  }
  return version;
}

/** The version of `@mru/cli`, as its package.json states it. */
export const CLI_VERSION: string = readVersion();
