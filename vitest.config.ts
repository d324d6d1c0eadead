import { defineConfig } from 'vitest/config'
import { everyTest, unitTests } from './vitest.unit.config.js'

/**
 * Every test (`npm test`), in three projects: the unit tests (`npm run test:unit`, see vitest.unit.config.ts), the
 * CDK tests that synthesize the app (test/infra/), and the integration tests that talk to one moto_server started
 * for the whole run (test/integration/). Only the last starts moto.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
    projects: [
      { test: unitTests },
      { test: { ...everyTest, name: 'infra', include: ['test/infra/**/*.test.ts'] } },
      {
        test: {
          ...everyTest,
          name: 'integration',
          // The moto stories build whole accounts (a fleet of workers, 2,000 instances): on two busy cores one
          // story can take more than the minute a unit test gets.
          testTimeout: 180_000,
          hookTimeout: 180_000,
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/moto-global-setup.ts'],
          setupFiles: ['test/support/moto-env.ts'],
        },
      },
    ],
  },
})
