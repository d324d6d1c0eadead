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
  // Set before the workers start, so clients built without an explicit endpoint reach moto too, never AWS.
  process.env.AWS_ENDPOINT_URL = motoEndpoint
  process.env.AWS_ACCESS_KEY_ID = 'testing'
  process.env.AWS_SECRET_ACCESS_KEY = 'testing'
  process.env.AWS_REGION = 'us-east-1'
  return () => stopMoto(server)
}
