// Writes src/version.ts from package.json, so the running core knows its own version without reading a
// file at run time (browsers cannot). Runs before every build; `changeset version` changes package.json
// and the release's build picks the new version up. test/version.test.ts checks the two agree.
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const file = new URL('src/version.ts', root);
const text = `// Generated from package.json by scripts/write-version.mjs (run by \`build\`): do not edit.

/** The version of this copy of @mru/core, as in its package.json. */
export const VERSION = '${version}';
`;
let old = '';
try {
  old = readFileSync(file, 'utf8');
} catch {}
if (old !== text) writeFileSync(file, text);
