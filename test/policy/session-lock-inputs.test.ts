/**
 * What the session lock (policy/session-lock.ts) takes and refuses: the address it pins, the role ARN and VPC
 * IDs it is given, STS's size limit to the character, and the sentence each refusal gives.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError, SessionPolicyTooLargeError } from '../../policy/errors.js'
import { SESSION_POLICY_LIMIT, type SourceVpcs, sessionLockPolicy } from '../../policy/session-lock.js'
import {
  ENVIRONMENT_IP,
  lockedTo,
  ORDERS_ROLE_ARN,
  ORDERS_SESSION,
  sessionFromIp,
} from '../support/lambda-session.js'
import { ALLOWED, APP_VPC, ATTACKER_V4, DENIED } from '../support/lock-scene.js'
import { ALLOW_ALL, GET_OBJECT, verdict } from '../support/simulate.js'

describe('the address it pins', () => {
  it('is the look-up answer without the whitespace around it', async () => {
    // Prepare
    const sessionPolicy = lockedTo([], ` ${ENVIRONMENT_IP}\n`)

    // Act
    const results = [
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
        sessionPolicy,
      }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ATTACKER_V4, GET_OBJECT), { sessionPolicy }),
    ]

    // Assess
    expect(results).toEqual([ALLOWED, DENIED])
  })

  it.each([
    '10.0.1.23',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '127.0.0.1',
    '169.254.169.254',
    '0.0.0.1',
    '::1',
    'fd00::1',
    'fe80::1',
  ])('is never %s, an address AWS never sees, and says so', (address) => {
    // Act
    const build = () => lockedTo([], address)

    // Assess
    expect(build).toThrow(InvalidFactsError)
    expect(build).toThrow(
      `The address look-up answered ${address}, a private address AWS never sees: point it at a public ` +
        'what-is-my-IP service.',
    )
  })

  it('is refused when the look-up did not answer an address, quoting what it answered', () => {
    // Act
    const build = () => lockedTo([], 'checkip is down')

    // Assess
    expect(build).toThrow(InvalidFactsError)
    expect(build).toThrow('The address look-up answered "checkip is down", not an IP address.')
  })
})

describe('the role and VPCs it is given', () => {
  it.each([
    'arn:aws:iam::123456789012:role/r',
    'arn:aws-us-gov:iam::123456789012:role/orders-fn',
    'arn:aws-iso-b:iam::123456789012:role/service/orders+fn=v2,eu.1@team-a',
    `arn:aws:iam::123456789012:role/${'r'.repeat(576)}`,
  ])('takes the role ARN %s', (roleArn) => {
    // Act
    const build = () => lockedTo([], ENVIRONMENT_IP, roleArn)

    // Assess
    expect(build).not.toThrow()
  })

  it.each([
    'arn:aws:iam::123456789012:role/',
    `arn:aws:iam::123456789012:role/${'r'.repeat(577)}`,
    'xarn:aws:iam::123456789012:role/orders-fn',
    'arn:aws:iam::123456789012:role/orders fn',
    'arn:aws:iam::12345678901:role/orders-fn',
    'arn:aws:iam::123456789012:user/orders-fn',
  ])('refuses %s, naming it', (roleArn) => {
    // Act
    const build = () => lockedTo([], ENVIRONMENT_IP, roleArn)

    // Assess
    expect(build).toThrow(InvalidFactsError)
    expect(build).toThrow(`"${roleArn}" is not an IAM role ARN: give the function's role ARN.`)
  })

  it.each(['vpc-0a1b2c3d', 'vpc-0a1b2c3d4e5f60789'])('takes the VPC ID %s', (vpc) => {
    // Act
    const build = () => lockedTo([vpc])

    // Assess
    expect(build).not.toThrow()
  })

  it.each(['vpc-0a1b2c3', 'vpc-0a1b2c3d4e5f607890', 'xvpc-0a1b2c3d', 'vpc-0a1b2c3d ', 'vpc-0A1B2C3D'])(
    'refuses the VPC ID %o, naming it',
    (vpc) => {
      // Act
      const build = () => lockedTo([vpc])

      // Assess
      expect(build).toThrow(InvalidFactsError)
      expect(build).toThrow(`"${vpc}" is not a VPC ID: list VPCs as vpc-0123abcd.`)
    },
  )
})

describe('what STS can take', () => {
  it(`stays under STS's ${SESSION_POLICY_LIMIT} characters with a few VPCs and a long role path`, () => {
    // Prepare
    const roleArn = `arn:aws:iam::123456789012:role/${'platform/'.repeat(20)}orders-fn`
    const vpcs = ['vpc-0a1a2a3a4a5a6a7a8', 'vpc-0b1b2b3b4b5b6b7b8', 'vpc-0c1c2c3c4c5c6c7c8']

    // Act
    const document = sessionLockPolicy({ roleArn, address: ENVIRONMENT_IP, sourceVpcs: vpcs })

    // Assess
    expect(document.length).toBeLessThanOrEqual(SESSION_POLICY_LIMIT)
    expect(document).not.toMatch(/\s/)
  })

  it('refuses to build a policy STS would refuse, naming the role and the sizes', () => {
    // Prepare
    const vpcs = Array.from({ length: 80 }, (_, index) => `vpc-${index.toString(16).padStart(17, '0')}`)

    // Act
    const build = () =>
      sessionLockPolicy({ roleArn: ORDERS_ROLE_ARN, address: ENVIRONMENT_IP, sourceVpcs: vpcs })

    // Assess
    expect(build).toThrow(SessionPolicyTooLargeError)
    expect(build).toThrow(
      /role arn:aws:iam::123456789012:role\/orders-fn needs \d+ characters, over STS's 2048/,
    )
  })

  it.each([
    ['not an address', 'checkip is down'],
    ['a private address', '10.0.1.23'],
    ['loopback', '127.0.0.1'],
    ['a unique-local IPv6', 'fd00::1'],
  ])('refuses a look-up answer that is %s', (_, address) => {
    // Act
    const build = () => sessionLockPolicy({ roleArn: ORDERS_ROLE_ARN, address, sourceVpcs: [] })

    // Assess
    expect(build).toThrow(InvalidFactsError)
  })

  it('refuses a role ARN or VPC ID of the wrong shape', () => {
    // Act
    const badRole = () => sessionLockPolicy({ roleArn: 'orders-fn', address: ENVIRONMENT_IP, sourceVpcs: [] })
    const badVpc = () =>
      sessionLockPolicy({ roleArn: ORDERS_ROLE_ARN, address: ENVIRONMENT_IP, sourceVpcs: ['vpc1'] })

    // Assess
    expect(badRole).toThrow(/"orders-fn" is not an IAM role ARN/)
    expect(badVpc).toThrow(/"vpc1" is not a VPC ID/)
  })

  it(`takes a policy of exactly ${SESSION_POLICY_LIMIT} characters and refuses one a character longer`, () => {
    // Prepare: enough VPCs that a role path of at most 576 characters can make up the rest exactly.
    let vpcs: string[] = []
    let missing =
      SESSION_POLICY_LIMIT - lockedTo(vpcs, ENVIRONMENT_IP, 'arn:aws:iam::123456789012:role/r').length
    while (missing > 500) {
      vpcs = [...vpcs, `vpc-${vpcs.length.toString(16).padStart(17, '0')}`]
      missing =
        SESSION_POLICY_LIMIT - lockedTo(vpcs, ENVIRONMENT_IP, 'arn:aws:iam::123456789012:role/r').length
    }
    const roleArn = (extra: number) => `arn:aws:iam::123456789012:role/r${'x'.repeat(extra)}`

    // Act
    const fitting = lockedTo(vpcs, ENVIRONMENT_IP, roleArn(missing))
    const tooLong = () => lockedTo(vpcs, ENVIRONMENT_IP, roleArn(missing + 1))

    // Assess
    expect(fitting).toHaveLength(SESSION_POLICY_LIMIT)
    expect(tooLong).toThrow(SessionPolicyTooLargeError)
    expect(tooLong).toThrow(
      `The session policy locking role ${roleArn(missing + 1)} needs ${SESSION_POLICY_LIMIT + 1} characters, ` +
        `over STS's ${SESSION_POLICY_LIMIT}: list fewer source VPCs or give the role a shorter path.`,
    )
  })

  it('names itself and tells what to shorten', () => {
    // Prepare
    const roleArn = 'arn:aws:iam::123456789012:role/orders-fn'
    const sourceVpcs = Array.from({ length: 80 }, (_, index) => `vpc-${index.toString(16).padStart(17, '0')}`)

    // Act
    const build = () => sessionLockPolicy({ roleArn, address: '198.51.100.23', sourceVpcs })

    // Assess
    expect(build).toThrowError(
      expect.objectContaining({
        name: 'SessionPolicyTooLargeError',
        message: expect.stringMatching(
          /^The session policy locking role arn:aws:iam::123456789012:role\/orders-fn needs \d+ characters, over STS's 2048: list fewer source VPCs or give the role a shorter path\.$/,
        ),
      }),
    )
  })
})

describe('its statements', () => {
  it.each([
    ['any', 'any' as const],
    ['no VPC', []],
    ['a VPC', [APP_VPC]],
  ])('each carry a distinct name IAM accepts, with %s', (_, sourceVpcs: SourceVpcs) => {
    // Act
    const statements = JSON.parse(lockedTo(sourceVpcs)).Statement as { Sid?: string }[]

    // Assess
    const sids = statements.map((statement) => statement.Sid ?? '')
    expect(sids.every((sid) => /^[A-Za-z0-9]+$/.test(sid))).toBe(true)
    expect(new Set(sids).size).toBe(statements.length)
  })
})
