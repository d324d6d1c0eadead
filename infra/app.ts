import { App } from 'aws-cdk-lib'
import { InvalidSettingError } from '../policy/errors.js'
import { buildApp } from './cdk-app.js'

// A settings mistake is the deployer's to fix: print its one sentence, not a stack trace.
try {
  const app = new App()
  await buildApp(app)
  app.synth()
} catch (error) {
  if (!(error instanceof InvalidSettingError)) throw error
  console.error(error.message)
  process.exitCode = 1
}
