// @ts-check
/**
 * Mutation testing of the controller's logic: `npm run mutate`, or `npm run mutate -- --mutate handlers/aws/events.ts`
 * for one file. Not in CI: a whole run takes 30-40 minutes here.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts' },
  // No type checker: TypeScript 7's native tsc has no JS API for Stryker's checker. A mutant that does not
  // type-check still runs (Stryker adds @ts-nocheck) and is usually killed by the tests anyway.
  checkers: [],
  // Stryker rewrites the tsconfig's extends/references through the TypeScript JS API, which TS 7 lacks (the
  // run stops with "ts.parseConfigFileTextToJson is not a function"). Ours has neither, and Vitest never
  // reads it, so point Stryker at a file that does not exist and it leaves tsconfig.json alone.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  mutate: [
    'policy/**/*.ts',
    'handlers/**/*.ts',
    // Entry modules that only read the environment and build SDK clients; no unit test can load them.
    '!handlers/controller/reconcile.ts',
    '!handlers/plan/plan.ts',
  ],
  coverageAnalysis: 'perTest',
  // Two cores shared by several agents.
  concurrency: 2,
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['cdk.out', 'cdk.out.demo', 'reports', 'coverage', 'dist'],
  thresholds: { high: 90, low: 80, break: null },
}
