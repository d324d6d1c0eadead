/**
 * The session policy that locks a Lambda function's credentials, proven with IAM verdicts: what IAM (as
 * modelled by @cloud-copilot/iam-simulate) answers for a request signed with the locked session, given the
 * role's own policies and the session policy passed to AssumeRole.
 */
import { describe, expect, it } from 'vitest'
import {
  ENVIRONMENT_IP,
  lockedTo,
  ORDERS_ROLE_ARN,
  ORDERS_SESSION,
  sessionFromIp,
  sessionThroughEndpoint,
  sessionViaAwsService,
} from '../support/lambda-session.js'
import { ALLOWED, APP_VPC, DENIED } from '../support/lock-scene.js'
import { ALLOW_ALL, type ApiCall, GET_OBJECT, type RolePolicy, verdict } from '../support/simulate.js'

const THIEF_IP = '203.0.113.66'
const SERVICE_IP = '192.0.2.50'
const OWN_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
const THIEF_VPC = 'vpc-0f1f2f3f4f5f6f7f8'

const ASSUME_OWN_ROLE: ApiCall = { action: 'sts:AssumeRole', resource: ORDERS_ROLE_ARN }
const ASSUME_OTHER_ROLE: ApiCall = {
  action: 'sts:AssumeRole',
  resource: 'arn:aws:iam::210987654321:role/reports',
}
const RDS_IAM_CONNECT: ApiCall = {
  action: 'rds-db:connect',
  resource: 'arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTU/app',
}
const PUT_LOG_EVENTS: ApiCall = {
  action: 'logs:PutLogEvents',
  resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders:log-stream:2025/06/02/x',
}

describe('the locked session', () => {
  it('works from its execution environment and nowhere else', async () => {
    // Prepare
    const sessionPolicy = lockedTo([])

    // Act
    const fromEnvironment = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT),
      {
        sessionPolicy,
      },
    )
    const fromThief = await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, THIEF_IP, GET_OBJECT), {
      sessionPolicy,
    })

    // Assess
    expect(fromEnvironment).toBe('Allowed')
    expect(fromThief).toBe('ExplicitlyDenied')
  })

  it('pins an IPv6 address as exactly that address', async () => {
    // Prepare
    const sessionPolicy = lockedTo([], '2600:1f18:4a3:6b00::23')

    // Act
    const own = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, '2600:1f18:4a3:6b00::23', GET_OBJECT),
      {
        sessionPolicy,
      },
    )
    const neighbour = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, '2600:1f18:4a3:6b00::24', GET_OBJECT),
      {
        sessionPolicy,
      },
    )

    // Assess
    expect([own, neighbour]).toEqual(['Allowed', 'ExplicitlyDenied'])
  })

  it('lets AWS services call on its behalf from their own addresses', async () => {
    // Prepare
    const sessionPolicy = lockedTo([])

    // Act
    const result = await verdict([ALLOW_ALL], sessionViaAwsService(ORDERS_SESSION, SERVICE_IP, GET_OBJECT), {
      sessionPolicy,
    })

    // Assess
    expect(result).toBe('Allowed')
  })

  it('cannot shed the lock by assuming its own role again, even from its own address', async () => {
    // Prepare
    const sessionPolicy = lockedTo([])

    // Act
    const ownRole = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, ASSUME_OWN_ROLE),
      {
        sessionPolicy,
      },
    )
    const otherRole = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, ASSUME_OTHER_ROLE),
      {
        sessionPolicy,
      },
    )

    // Assess
    expect(ownRole).toBe('ExplicitlyDenied')
    // Roles the function may assume stay usable from its environment (their sessions are theirs to lock).
    expect(otherRole).toBe('Allowed')
  })

  it("never grants more than the role's own policies", async () => {
    // Prepare
    const onlyReads: RolePolicy = {
      name: 'reads',
      document: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
      },
    }
    const sessionPolicy = lockedTo([])
    const listRoles: ApiCall = { action: 'iam:ListRoles', resource: '*' }

    // Act
    const granted = await verdict([onlyReads], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
      sessionPolicy,
    })
    const notGranted = await verdict([onlyReads], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, listRoles), {
      sessionPolicy,
    })

    // Assess
    expect([granted, notGranted]).toEqual(['Allowed', 'ImplicitlyDenied'])
  })

  it("leaves Lambda's own log delivery alone: it signs with the original session, which has no session policy", async () => {
    // Prepare: Lambda writes the function's logs from outside its environment, with the execution role's
    // original session; the session policy is attached only to the session the lockdown assumed.
    const lambdaServiceIp = '192.0.2.99'

    // Act
    const delivery = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, lambdaServiceIp, PUT_LOG_EVENTS),
    )
    const lockedFromThere = await verdict(
      [ALLOW_ALL],
      sessionFromIp(ORDERS_SESSION, lambdaServiceIp, PUT_LOG_EVENTS),
      {
        sessionPolicy: lockedTo([]),
      },
    )

    // Assess
    expect(delivery).toBe('Allowed')
    expect(lockedFromThere).toBe('ExplicitlyDenied')
  })
})

describe('VPC endpoints and in-VPC services', () => {
  const endpointCall = (vpc: string) =>
    sessionThroughEndpoint(ORDERS_SESSION, { vpc, privateIp: '10.0.1.23' }, GET_OBJECT)
  const fromVpcInterface = sessionFromIp(ORDERS_SESSION, '10.0.1.23', RDS_IAM_CONNECT)

  it('by default lets every endpoint call and every in-VPC service through, so a VPC function keeps working', async () => {
    // Prepare
    const sessionPolicy = lockedTo('any')

    // Act
    const results = [
      await verdict([ALLOW_ALL], endpointCall(OWN_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpointCall(THIEF_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], fromVpcInterface, { sessionPolicy }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, THIEF_IP, RDS_IAM_CONNECT), { sessionPolicy }),
    ]

    // Assess: the default leaves a thief's own endpoint open; the public path stays shut even for RDS.
    expect(results).toEqual(['Allowed', 'Allowed', 'Allowed', 'ExplicitlyDenied'])
  })

  it("with the function's VPC named, refuses endpoints of any other VPC", async () => {
    // Prepare
    const sessionPolicy = lockedTo([OWN_VPC])

    // Act
    const results = [
      await verdict([ALLOW_ALL], endpointCall(OWN_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpointCall(THIEF_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], fromVpcInterface, { sessionPolicy }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
        sessionPolicy,
      }),
    ]

    // Assess
    expect(results).toEqual(['Allowed', 'ExplicitlyDenied', 'Allowed', 'Allowed'])
  })

  it('for a function outside any VPC, refuses every endpoint and every private source', async () => {
    // Prepare
    const sessionPolicy = lockedTo([])

    // Act
    const results = [
      await verdict([ALLOW_ALL], endpointCall(OWN_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], fromVpcInterface, { sessionPolicy }),
    ]

    // Assess
    expect(results).toEqual(['ExplicitlyDenied', 'ExplicitlyDenied'])
  })
})

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
