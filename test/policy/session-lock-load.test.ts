/**
 * policy/session-lock.ts builds its table of addresses AWS never sees as it loads. Mutation testing records a
 * test file whose imports throw as passing, so this file imports the module inside its test (and nothing that
 * imports it at the top): a table that cannot be built fails the test instead of hiding it.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError } from '../../policy/errors.js'

const ROLE_ARN = 'arn:aws:iam::123456789012:role/orders-fn'

describe('loading the session lock', () => {
  it('builds the table of addresses AWS never sees, which refuses each of them and no public one', async () => {
    // Act
    const { sessionLockPolicy } = await import('../../policy/session-lock.js')
    const lockTo = (address: string) => () =>
      sessionLockPolicy({ roleArn: ROLE_ARN, address, sourceVpcs: [] })

    // Assess
    const v4 = ['10.0.0.1', '172.16.0.1', '192.168.0.1', '100.64.0.1', '127.0.0.1', '169.254.0.1', '0.0.0.1']
    for (const address of [...v4, '::1', 'fd00::1', 'fe80::1']) {
      expect(lockTo(address)).toThrow(InvalidFactsError)
    }
    expect(lockTo('198.51.100.23')).not.toThrow()
  })
})
