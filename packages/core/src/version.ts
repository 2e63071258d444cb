// Generated from package.json by scripts/write-version.mjs (run by `build`): do not edit.

/** The version of this copy of @mru/core, as in its package.json. */
export const VERSION = '0.0.0';
