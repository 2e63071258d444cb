/**
 * Vitest settings for running this package alone (`pnpm --filter @mru/backend-webgpu test`); the
 * repository root's config covers the workspace-wide run.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
