import type { ProvidedContext } from 'vitest'
import type { TestProject } from 'vitest/node'
import { MOTO_INSTALL_HINT, motoServerOnPath, startMoto, stopMoto } from './moto.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the moto_server shared by every test file of this run. */
    motoEndpoint: string
  }
}

/** The one sentence `npm test` prints without moto_server: the fix, and how to run the rest meanwhile. */
export const MOTO_MISSING_FOR_TESTS = `${MOTO_INSTALL_HINT.slice(0, -1)}, or run npm run test:unit for the tests that need no moto_server.`

/** One moto_server for the whole run; test files read it with `inject('motoEndpoint')`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!motoServerOnPath()) {
    // Thrown, vitest would first report "No test files found" and then bury the reason in a code frame.
    process.stderr.write(`${MOTO_MISSING_FOR_TESTS}\n`)
    process.exit(1)
  }
  const server = await startMoto()
  const motoEndpoint: ProvidedContext['motoEndpoint'] = server.endpoint
  project.provide('motoEndpoint', motoEndpoint)
  // Each worker points the AWS SDK's environment at it: test/support/moto-env.ts.
  return () => stopMoto(server)
}
