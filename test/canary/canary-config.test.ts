import { describe, expect, it } from 'vitest'
import { readCanaryConfig } from '../../handlers/canary/canary-config.js'

const ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  CANARY_CREDENTIALS_PARAMETER: '/credential-lock/canary/credentials',
  CANARY_MEASUREMENT_PARAMETER: '/credential-lock/canary/time-to-lock',
  CANARY_STALE_AFTER_SECONDS: '900',
  CANARY_TIME_TO_LOCK_LIMIT_SECONDS: '300',
}

describe('the canary settings the stack writes into the environment', () => {
  it('reads the parameters and turns seconds into milliseconds', () => {
    // Act
    const config = readCanaryConfig(ENVIRONMENT)

    // Assess
    expect(config).toEqual({
      region: 'eu-west-1',
      credentialsParameter: '/credential-lock/canary/credentials',
      measurementParameter: '/credential-lock/canary/time-to-lock',
      staleAfterMs: 900_000,
      timeToLockLimitMs: 300_000,
    })
  })

  it.each([
    [{ CANARY_CREDENTIALS_PARAMETER: undefined }, /CANARY_CREDENTIALS_PARAMETER is not set/],
    [{ CANARY_STALE_AFTER_SECONDS: '15m' }, /whole number of seconds/],
    [{ CANARY_TIME_TO_LOCK_LIMIT_SECONDS: '0' }, /whole number of seconds/],
  ])('refuses %j with one sentence', (change, message) => {
    // Act / Assess
    expect(() => readCanaryConfig({ ...ENVIRONMENT, ...change })).toThrow(message)
  })
})
