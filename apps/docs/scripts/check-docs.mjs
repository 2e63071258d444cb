// Checks what typedoc's own validation does not: `notDocumented` covers declarations, not their
// parameters, so this walks the JSON model and fails when a parameter of a public function, method or
// constructor has no description (`@param name - text`), or when a page links to a raw markdown file
// copied into media/ (a guide or README link typedoc could not turn into a page), or when a guide in
// guides/ is missing from typedoc.json's projectDocuments (listed one by one: that list is the order of
// the guides in the site's navigation, which a glob would make alphabetical).
// Usage: node scripts/check-docs.mjs site/api.json
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const jsonPath = process.argv[2] ?? 'site/api.json';
const project = JSON.parse(readFileSync(jsonPath, 'utf8'));
const CALLABLE = new Set([64 /* Function */, 512 /* Constructor */, 2048 /* Method */]);
const missing = [];
let total = 0;

function hasText(parts) {
  return Array.isArray(parts) && parts.some((p) => p.text.trim() !== '');
}

function visit(node, path) {
  const name = node.variant === 'project' ? '' : node.name;
  const here = name ? [...path, name] : path;
  if (CALLABLE.has(node.kind) && !node.flags?.isExternal) {
    for (const sig of node.signatures ?? []) {
      // An inherited or implemented member is documented where it is declared.
      if (sig.inheritedFrom || sig.implementationOf) continue;
      for (const p of sig.parameters ?? []) {
        total++;
        if (!hasText(p.comment?.summary)) missing.push(`${here.join('.')}(${p.name})`);
      }
    }
  }
  for (const child of node.children ?? []) visit(child, here);
}
visit(project, []);

const rawMarkdown = [];
const mediaDir = join(dirname(jsonPath), 'media');
if (existsSync(mediaDir)) {
  for (const f of readdirSync(mediaDir)) if (f.endsWith('.md')) rawMarkdown.push(`media/${f}`);
}

const here = dirname(new URL(import.meta.url).pathname);
const listed = new Set(JSON.parse(readFileSync(join(here, '..', 'typedoc.json'), 'utf8')).projectDocuments);
const unlisted = readdirSync(join(here, '..', 'guides'))
  .filter((f) => f.endsWith('.md') && !listed.has(`guides/${f}`))
  .map((f) => `guides/${f}`);

if (missing.length > 0 || rawMarkdown.length > 0 || unlisted.length > 0) {
  if (unlisted.length > 0) {
    console.error(`guides missing from projectDocuments in typedoc.json (add them in reading order):`);
    for (const m of unlisted) console.error(`  ${m}`);
  }
  if (missing.length > 0) {
    console.error(`${missing.length} of ${total} parameters of the public API have no @param text:`);
    for (const m of missing) console.error(`  ${m}`);
  }
  if (rawMarkdown.length > 0) {
    console.error(`pages link to raw markdown copied into the site (link a guide or an absolute URL):`);
    for (const m of rawMarkdown) console.error(`  ${m}`);
  }
  process.exit(1);
}
console.log(
  `docs check: all ${total} parameters of the public API are described; every guide is in the site; no raw markdown in media/`,
);
