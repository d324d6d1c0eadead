import { defineConfig } from 'vitest/config'

/** What every test file runs with, whichever project it belongs to. */
export const everyTest = {
  // Metrics are asserted through an injected fake; EMF lines on stdout would only bury the test report.
  env: { POWERTOOLS_METRICS_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  testTimeout: 60_000,
  hookTimeout: 60_000,
}

/**
 * The unit tests: the folders whose tests need no moto_server and synthesize no CDK app (AWS is mocked with
 * aws-sdk-client-mock). A test that needs moto_server belongs in test/integration/, one that synthesizes the app
 * in test/infra/. They are what mutation testing runs (`npm run mutate`, stryker.config.mjs points here): under
 * Stryker, code run in a `beforeAll` (the moto stories build their world and run every chapter there) counts as
 * covered by no test, so every handler mutant would re-run a whole story, for minutes each. The unit tests are
 * written to kill, on their own, every mutant the moto stories would.
 *
 * `npm run test:unit` runs them with `--isolate=false`: loading the AWS SDK again for every file is most of an
 * isolated run (about a minute on two busy cores, against 15 seconds). Every file resets its mocks in a
 * `beforeEach`, so the order does not matter; `npm test` runs the same files isolated, and stays the one to trust.
 */
export const unitTests = {
  ...everyTest,
  name: 'unit',
  include: [
    'test/{policy,aws,controller,plan,lockdown,host-proxy,boot-provider,findings,canary}/**/*.test.ts',
  ],
}

export default defineConfig({
  test: { ...unitTests, reporters: ['default', './test/support/plain-summary-reporter.ts'] },
})
