import { defineConfig } from 'vitest/config'
import shared from './vitest.config.js'

/**
 * The tests mutation testing runs: everything but the files that need moto_server or synthesize the CDK app.
 * Under Stryker, code run in a `beforeAll` (the moto story builds its world there) counts as covered by no
 * test, so each of those mutants would re-run the whole suite; and the CDK tests import nothing from policy/
 * or handlers/. `npm run mutate:integration` re-runs the survivors against the moto story instead.
 */
export default defineConfig({
  test: {
    ...shared.test,
    globalSetup: [],
    exclude: [
      'test/reconcile.integration.test.ts',
      'test/event-patterns.test.ts',
      'test/support.test.ts',
      'test/infra.test.ts',
      'test/nag.test.ts',
      '**/node_modules/**',
    ],
  },
})
