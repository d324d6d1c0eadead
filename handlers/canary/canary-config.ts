import { ConfigError } from '../aws/errors.js'
import type { CanaryConfig } from './canary-check.js'

/** The canary Lambda's settings, as the stack writes them into its environment. */
export function readCanaryConfig(
  env: Readonly<Record<string, string | undefined>>,
): CanaryConfig & { readonly region: string } {
  const text = (name: string) => {
    const value = env[name]
    if (value === undefined || value === '')
      throw new ConfigError(`${name} is not set: deploy the canary with the stack.`)
    return value
  }
  const seconds = (name: string) => {
    const value = Number(text(name))
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`${name} "${env[name]}" must be a whole number of seconds above 0.`)
    }
    return value * 1000
  }
  return {
    region: text('AWS_REGION'),
    credentialsParameter: text('CANARY_CREDENTIALS_PARAMETER'),
    measurementParameter: text('CANARY_MEASUREMENT_PARAMETER'),
    staleAfterMs: seconds('CANARY_STALE_AFTER_SECONDS'),
    timeToLockLimitMs: seconds('CANARY_TIME_TO_LOCK_LIMIT_SECONDS'),
  }
}
