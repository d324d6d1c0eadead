import { App } from 'aws-cdk-lib'
import { InvalidSettingError } from '../policy/errors.js'
import { buildApp } from './cdk-app.js'

// A settings mistake is the deployer's to fix: print its one sentence, not a stack trace.
try {
  const app = new App()
  await buildApp(app)
  // A finding makes synth throw with cdk-nag's report; reaching here means the checks ran and passed.
  app.synth()
  console.error(
    "cdk-nag: AWS Solutions checks passed on every stack (no finding that isn't acknowledged with its reason).",
  )
} catch (error) {
  if (!(error instanceof InvalidSettingError)) throw error
  console.error(error.message)
  process.exitCode = 1
}
