import { inject } from 'vitest'

// Every test file of the integration project starts here: clients built without an explicit endpoint reach the
// run's moto_server too, never AWS, and so do the processes a test spawns. Set in each worker, not in the global
// setup: vitest hands a project's workers the environment the run had before any global setup ran.
process.env.AWS_ENDPOINT_URL = inject('motoEndpoint')
process.env.AWS_ACCESS_KEY_ID = 'testing'
process.env.AWS_SECRET_ACCESS_KEY = 'testing'
process.env.AWS_REGION = 'us-east-1'
