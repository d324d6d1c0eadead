/**
 * The session lock's edges (policy/session-lock.ts) that mutation testing found unguarded: every private range a
 * VPC can use, every address AWS never sees, the shapes of role ARNs and VPC IDs it takes, STS's size limit to
 * the character, and the sentence each refusal gives.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError, SessionPolicyTooLargeError } from '../policy/errors.js'
import { SESSION_POLICY_LIMIT, type SourceVpcs, sessionLockPolicy } from '../policy/session-lock.js'
import {
  ENVIRONMENT_IP,
  ORDERS_ROLE_ARN,
  ORDERS_SESSION,
  sessionFromIp,
  sessionThroughEndpoint,
} from './support/lambda-session.js'
import { ALLOWED, APP_VPC, ATTACKER_V4, DENIED } from './support/lock-scene.js'
import { ALLOW_ALL, type ApiCall, GET_OBJECT, verdict } from './support/simulate.js'

const RDS_IAM_CONNECT: ApiCall = {
  action: 'rds-db:connect',
  resource: 'arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTU/app',
}

function lockedTo(sourceVpcs: SourceVpcs, address = ENVIRONMENT_IP, roleArn = ORDERS_ROLE_ARN): string {
  return sessionLockPolicy({ roleArn, address, sourceVpcs })
}

describe('in-VPC services seen from private addresses', () => {
  it.each(['10.1.2.3', '172.16.0.9', '172.31.255.254', '192.168.7.7', '100.64.0.1', '100.127.255.254'])(
    'let a VPC function reach them from %s',
    async (privateIp) => {
      // Prepare
      const sessionPolicy = lockedTo([APP_VPC])

      // Act
      const result = await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, privateIp, RDS_IAM_CONNECT), {
        sessionPolicy,
      })

      // Assess
      expect(result).toBe(ALLOWED)
    },
  )

  it.each(['172.32.0.1', '192.169.0.1', '100.128.0.1'])(
    'stay shut from the public address %s next to those ranges',
    async (publicIp) => {
      // Prepare
      const sessionPolicy = lockedTo('any')

      // Act
      const result = await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, publicIp, RDS_IAM_CONNECT), {
        sessionPolicy,
      })

      // Assess
      expect(result).toBe(DENIED)
    },
  )
})

describe('VPC endpoints', () => {
  it('are all refused to a function outside any VPC, its own address still working', async () => {
    // Prepare
    const sessionPolicy = lockedTo([])

    // Act
    const results = [
      await verdict(
        [ALLOW_ALL],
        sessionThroughEndpoint(ORDERS_SESSION, { vpc: APP_VPC, privateIp: '10.0.1.23' }, GET_OBJECT),
        {
          sessionPolicy,
        },
      ),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
        sessionPolicy,
      }),
    ]

    // Assess
    expect(results).toEqual([DENIED, ALLOWED])
  })

  it('are let through from each VPC listed, however the list repeats or orders them', async () => {
    // Prepare
    const otherVpc = 'vpc-0b1b2b3b'
    const sessionPolicy = lockedTo([otherVpc, APP_VPC, otherVpc])
    const endpointIn = (vpc: string) =>
      sessionThroughEndpoint(ORDERS_SESSION, { vpc, privateIp: '10.0.1.23' }, GET_OBJECT)

    // Act
    const results = [
      await verdict([ALLOW_ALL], endpointIn(APP_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpointIn(otherVpc), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpointIn('vpc-0c1c2c3c'), { sessionPolicy }),
    ]

    // Assess
    expect(results).toEqual([ALLOWED, ALLOWED, DENIED])
  })
})

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

describe("STS's size limit", () => {
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
