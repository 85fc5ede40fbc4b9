import { defineConfig } from 'vitest/config';

// Three projects so CI can run them as separate jobs: `vitest run --project unit` etc.
// Integration and e2e tests run on PGlite always and on a PostgreSQL server when
// INSTAPRO_TEST_DATABASE_URL is set; each test file uses its own schemas, so files run in parallel.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 } },
    ],
  },
});
