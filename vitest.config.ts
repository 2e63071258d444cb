import { defineConfig } from 'vitest/config';

// One vitest run covers every package; each package's tests live in its test/ folder.
export default defineConfig({
  test: {
    // The last pattern serves `vitest run` inside one package (`pnpm --filter <pkg> test`).
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run summarises into "N passed, N failed".
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
