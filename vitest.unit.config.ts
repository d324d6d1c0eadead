import { defineConfig } from 'vitest/config'
import shared from './vitest.config.js'

/**
 * The tests mutation testing runs (`npm run mutate`): everything but the files that need moto_server or
 * synthesize the CDK app. Under Stryker, code run in a `beforeAll` (the moto story builds its world and runs
 * every chapter there) counts as covered by no test, so every handler mutant would re-run the whole story, for
 * minutes each; and the CDK tests import nothing from policy/ or handlers/. Both stay in `npm test`; the unit
 * tests are written to kill, on their own, every mutant the moto story would.
 */
export default defineConfig({
  test: {
    ...shared.test,
    globalSetup: [],
    exclude: [
      // Every file that talks to moto_server: this config starts none.
      'test/*.integration.test.ts',
      'test/integration/**',
      'test/plan.test.ts',
      'test/lockdown.test.ts',
      'test/lockdown-bundle.test.ts',
      'test/event-patterns.test.ts',
      'test/support.test.ts',
      'test/infra.test.ts',
      'test/nag.test.ts',
      '**/node_modules/**',
    ],
  },
})
