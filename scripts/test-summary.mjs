// Prints "N passed, N failed, N skipped" from vitest's JSON report (see vitest.config.ts), and exits
// non-zero when the report is missing, a test failed, a test file or suite errored outside a test
// (a throwing beforeAll/afterAll hook, a file that fails to load), no test ran, or a required suite
// (.ci/required-suites.json) is absent or has fewer passing cases than its minimum.
//
// Usage: node scripts/test-summary.mjs [REPORT] [--required FILE|none]
//
// Why the hook rule: when a beforeAll throws, vitest marks the suite's tests "skipped" and the file
// "failed" with no failed test, so counting failed tests alone printed "1 passed, 0 failed, 2 skipped"
// for a broken suite. Why the required suites: a suite that silently stops being collected (a renamed
// file, a describe that throws while collecting, a backend that skips) would otherwise leave CI green.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let file = 'test-results.json';
let requiredPath = join(root, '.ci', 'required-suites.json');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--required') requiredPath = args[++i];
  else file = args[i];
}

if (!existsSync(file)) {
  console.log('0 passed, 1 failed');
  console.error(`test-summary: ${file} was not written (build or setup failed before the tests)`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const files = r.testResults ?? [];
const problems = [];

const passed = r.numPassedTests ?? 0;
// A file that failed without a failed test errored outside the tests: a hook, the suite's collection,
// or the file's import. Each counts as one failure.
const fileErrors = files.filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
);
for (const f of fileErrors) {
  const why = (f.message ?? '').split('\n')[0] || 'a hook or the suite itself failed outside any test';
  problems.push(`${relative(root, f.name)}: ${why}`);
}
let failed = (r.numFailedTests ?? 0) + fileErrors.length;
if (r.success === false && failed === 0) {
  failed = 1;
  problems.push('vitest reported the run as failed without a failed test or file');
}

// Required suites: { name, file, suite?, test?, min }. `file` is a path from the repository root (a
// directory when it ends with '/'); `suite` a regular expression on the top-level describe title;
// `test` one on the test's full name; `min` the least number of passing cases.
if (requiredPath !== 'none') {
  if (!existsSync(requiredPath)) {
    failed++;
    problems.push(`the required-suites file ${requiredPath} is missing`);
  } else {
    const { suites } = JSON.parse(readFileSync(requiredPath, 'utf8'));
    for (const s of suites) {
      const suite = s.suite ? new RegExp(s.suite) : null;
      const test = s.test ? new RegExp(s.test) : null;
      let count = 0;
      for (const f of files) {
        const rel = relative(root, f.name).split(sep).join('/');
        if (s.file.endsWith('/') ? !rel.startsWith(s.file) : rel !== s.file) continue;
        for (const a of f.assertionResults ?? []) {
          if (a.status !== 'passed') continue;
          if (suite && !suite.test((a.ancestorTitles ?? [])[0] ?? '')) continue;
          if (test && !test.test(a.fullName ?? a.title ?? '')) continue;
          count++;
        }
      }
      if (count < s.min) {
        failed++;
        problems.push(`required suite '${s.name}' has ${count} passing cases, needs at least ${s.min}`);
      }
    }
  }
}

const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
for (const p of problems) console.error(`test-summary: ${p}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
