import type { ProvidedContext } from 'vitest'
import type { TestProject } from 'vitest/node'
import { startMoto, stopMoto } from './moto.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the moto_server shared by every test file of this run. */
    motoEndpoint: string
  }
}

/** One moto_server for the whole run; test files read it with `inject('motoEndpoint')`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startMoto()
  const motoEndpoint: ProvidedContext['motoEndpoint'] = server.endpoint
  project.provide('motoEndpoint', motoEndpoint)
  // Each worker points the AWS SDK's environment at it: test/support/moto-env.ts.
  return () => stopMoto(server)
}
