/** Which errors name a missing permission, and which no retry can cure, so they go straight to the dead-letter queue. */
import { describe, expect, it } from 'vitest'
import { asPermitted, ConfigError, isPermanent, MissingPermissionError } from '../../handlers/aws/errors.js'
import { InvalidFactsError, LockTooLargeError } from '../../policy/errors.js'

function refused(action: string): MissingPermissionError {
  return new MissingPermissionError(action, 'role web', {
    cause: Object.assign(new Error('no'), { name: 'AccessDenied' }),
  })
}

describe('asPermitted: a refusal becomes a missing permission that keeps it as its cause', () => {
  it.each(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])(
    'turns %s into a missing permission that keeps the refusal as its cause',
    async (name) => {
      // Prepare
      const refusal = Object.assign(new Error('no'), { name })

      // Act
      const attempt = asPermitted('kms:Decrypt', 'key k', () => Promise.reject(refusal))

      // Assess
      await expect(attempt).rejects.toThrowError(
        expect.objectContaining({
          name: 'MissingPermissionError',
          message: expect.stringContaining('not allowed to call kms:Decrypt on key k:'),
          cause: refusal,
        }),
      )
    },
  )
})

describe('isPermanent: the errors no retry can cure', () => {
  it.each<[string, Error]>([
    ['a missing permission', refused('iam:PutRolePolicy')],
    ['a lock too large for the role', new LockTooLargeError('web', 12_000, 500, 10_240)],
    ['facts EC2 should never produce', new InvalidFactsError('the instance has no state')],
    ['a configuration error', new ConfigError('bad')],
  ])('%s is permanent', (_, error) => {
    // Act
    const permanent = isPermanent(error)

    // Assess
    expect(permanent).toBe(true)
  })

  it.each<[string, unknown]>([
    ['a throttled call', Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })],
    ['a plain error', new Error('boom')],
    ['something thrown that is not an error', 'MissingPermissionError'],
  ])('%s is retried', (_, error) => {
    // Act
    const permanent = isPermanent(error)

    // Assess
    expect(permanent).toBe(false)
  })
})
