/**
 * The in-function lockdown (handlers/lockdown/lockdown.ts) locking and renewing, over a fake STS, an injected
 * clock and an injected address look-up (test/support/lockdown-harness.ts): what the session policy allows,
 * proven with iam-simulate verdicts, and when it locks and renews, read from the environment the handler sees,
 * the calls it makes and its logs. test/integration/lockdown.test.ts tells the same story against moto.
 */
import middy from '@middy/core'
import { beforeEach, describe, expect, it } from 'vitest'
import { LAMBDA_MAX_TIMEOUT_MS } from '../../handlers/lockdown/lockdown.js'
import {
  ENVIRONMENT_IP,
  ORDERS_ROLE_ARN,
  ORDERS_SESSION,
  sessionFromIp,
  sessionThroughEndpoint,
} from '../support/lambda-session.js'
import { APP_VPC, ATTACKER_V4, FOREIGN_VPC, HOUR, MINUTE } from '../support/lock-scene.js'
import {
  ASSUME_OWN_ROLE,
  context,
  credentialsIn,
  harness,
  lockedNumber,
  moveTo,
  ORIGINAL,
  RENEW_MARGIN_MS,
  restartKeyNumbering,
  SHORT_INVOCATION_MS,
  T0,
} from '../support/lockdown-harness.js'
import { ALLOW_ALL, GET_OBJECT, verdict } from '../support/simulate.js'

beforeEach(restartKeyNumbering)

describe('the first invocation', () => {
  it("runs the handler on the function's role re-assumed under a session that works only from the looked-up address", async () => {
    // Prepare
    const h = harness({ sourceVpcs: [APP_VPC] })
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment))

    // Act
    const seen = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect(seen).toEqual(lockedNumber(1, new Date(T0.getTime() + HOUR)))
    expect(h.assumeRoles).toEqual([
      {
        RoleArn: ORDERS_ROLE_ARN,
        RoleSessionName: ORDERS_SESSION.sessionName,
        Policy: expect.any(String),
        DurationSeconds: 3_600,
      },
    ])
    const sessionPolicy = h.assumeRoles[0]?.Policy ?? ''
    const endpoint = (vpc: string) =>
      sessionThroughEndpoint(ORDERS_SESSION, { vpc, privateIp: '10.0.1.23' }, GET_OBJECT)
    const results = [
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
        sessionPolicy,
      }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ATTACKER_V4, GET_OBJECT), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpoint(APP_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], endpoint(FOREIGN_VPC), { sessionPolicy }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, ASSUME_OWN_ROLE), {
        sessionPolicy,
      }),
    ]
    expect(results).toEqual([
      'Allowed',
      'ExplicitlyDenied',
      'Allowed',
      'ExplicitlyDenied',
      'ExplicitlyDenied',
    ])
  })

  it('logs at INFO where it locked the credentials, until when, and how long locking took', async () => {
    // Prepare: the look-up takes a quarter of a second.
    const h = harness({
      lookUpAddress: async (clock) => {
        clock.advance(250)
        return ENVIRONMENT_IP
      },
    })

    // Act
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    expect(h.infos).toEqual([
      {
        message: 'Credentials locked to this execution environment',
        details: {
          address: ENVIRONMENT_IP,
          roleArn: ORDERS_ROLE_ARN,
          expiration: new Date(T0.getTime() + 250 + HOUR).toISOString(),
          lockMs: 250,
        },
      },
    ])
    expect([h.errors, h.failures]).toEqual([[], []])
  })

  it('shares one look-up and one AssumeRole among concurrent invocations, and asks for its role only once', async () => {
    // Prepare
    const h = harness()
    const handler = h.lockdown.wrap(async () => h.environment.AWS_ACCESS_KEY_ID)

    // Act
    const seen = await Promise.all(Array.from({ length: 5 }, () => handler({}, context(SHORT_INVOCATION_MS))))
    moveTo(h, MINUTE)
    const renewed = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect(seen).toEqual(Array(5).fill('ASIALOCKED1'))
    expect(renewed).toBe('ASIALOCKED2')
    expect(h.counts).toEqual({ lookups: 2, roleLookups: 1 })
    expect(h.assumeRoles.map((input) => input.RoleArn)).toEqual([ORDERS_ROLE_ARN, ORDERS_ROLE_ARN])
  })

  const complete = {
    AccessKeyId: 'ASIALOCKED',
    SecretAccessKey: 'locked-secret',
    SessionToken: 'locked-token',
    Expiration: new Date(T0.getTime() + HOUR),
  }
  it.each([
    ['no credentials at all', undefined],
    ['no access key', { ...complete, AccessKeyId: undefined }],
    ['no secret key', { ...complete, SecretAccessKey: '' }],
    ['no session token', { ...complete, SessionToken: undefined }],
    ['no expiration', { ...complete, Expiration: undefined }],
  ])('fails to lock when AssumeRole answers %s', async (_, Credentials) => {
    // Prepare
    const h = harness({ assumeRole: async () => ({ $metadata: {}, Credentials }) })

    // Act
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    expect(credentialsIn(h.environment)).toMatchObject(ORIGINAL)
    expect(h.failures).toEqual(['open'])
    expect(h.errors.map((line) => line.details.cause)).toEqual([
      { name: 'Error', message: 'AssumeRole answered without complete credentials.' },
    ])
  })
})

describe('renewing', () => {
  it("keeps the lock while it outlasts the invocation's remaining time by six minutes, and renews it a millisecond later", async () => {
    // Prepare
    const h = harness()
    const handler = h.lockdown.wrap(async () => h.environment.AWS_ACCESS_KEY_ID)
    await handler({}, context(SHORT_INVOCATION_MS))

    // Act
    moveTo(h, SHORT_INVOCATION_MS + RENEW_MARGIN_MS)
    const lastKept = await handler({}, context(SHORT_INVOCATION_MS))
    h.clock.advance(1)
    const renewed = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect([lastKept, renewed]).toEqual(['ASIALOCKED1', 'ASIALOCKED2'])
    expect(h.environment.AWS_CREDENTIAL_EXPIRATION).toBe(
      new Date(h.clock.now().getTime() + HOUR).toISOString(),
    )
  })

  it('renews sooner for a longer invocation, and takes a context without a remaining time as the longest one', async () => {
    // Prepare: the lock has 20 minutes left: enough for 30 seconds, not for 15 minutes and 6.
    const h = harness()
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    moveTo(h, 20 * MINUTE)
    const handler = h.lockdown.wrap(async () => h.environment.AWS_ACCESS_KEY_ID)

    // Act
    const short = await handler({}, context(SHORT_INVOCATION_MS))
    const longest = await handler({}, context(LAMBDA_MAX_TIMEOUT_MS))
    moveTo(h, 20 * MINUTE)
    const unknown = await handler({}, {})
    moveTo(h, 20 * MINUTE)
    const direct = await handler({}, undefined as never)

    // Assess
    expect([short, longest, unknown, direct]).toEqual([
      'ASIALOCKED1',
      'ASIALOCKED2',
      'ASIALOCKED3',
      'ASIALOCKED4',
    ])
  })

  it('gives the SDK credentials it asks again for shortly before the lock expires, and renews then', async () => {
    // Prepare
    const h = harness()
    const first = await h.lockdown.credentials()

    // Act: the SDK asks again 5 minutes before the expiration; the lockdown renews with 6 left.
    moveTo(h, RENEW_MARGIN_MS)
    const kept = await h.lockdown.credentials()
    h.clock.advance(1)
    const renewed = await h.lockdown.credentials()

    // Assess
    const expiration = new Date(T0.getTime() + HOUR)
    expect(first).toEqual({
      accessKeyId: 'ASIALOCKED1',
      secretAccessKey: 'locked-secret-1',
      sessionToken: 'locked-token-1',
      expiration,
    })
    expect(kept).toEqual(first)
    expect(renewed).toMatchObject({ accessKeyId: 'ASIALOCKED2' })
    expect(h.environment.AWS_ACCESS_KEY_ID).toBe('ASIALOCKED2')
  })

  it('locks through a Middy middleware, with the invocation time Middy passes', async () => {
    // Prepare
    const h = harness()
    const handler = middy(async () => h.environment.AWS_ACCESS_KEY_ID).use(h.lockdown.middleware())

    // Act
    const first = await handler({}, context(SHORT_INVOCATION_MS) as never)
    moveTo(h, 20 * MINUTE)
    const short = await handler({}, context(SHORT_INVOCATION_MS) as never)
    const longest = await handler({}, context(LAMBDA_MAX_TIMEOUT_MS) as never)

    // Assess
    expect([first, short, longest]).toEqual(['ASIALOCKED1', 'ASIALOCKED1', 'ASIALOCKED2'])
  })

  it('without a remaining time to honour, keeps the lock while it outlasts a 15-minute invocation by six minutes', async () => {
    // Prepare
    const h = harness()
    await h.lockdown.ensureLocked()

    // Act
    moveTo(h, LAMBDA_MAX_TIMEOUT_MS + RENEW_MARGIN_MS)
    await h.lockdown.ensureLocked()
    const kept = h.environment.AWS_ACCESS_KEY_ID
    h.clock.advance(1)
    await h.lockdown.ensureLocked()

    // Assess
    expect([kept, h.environment.AWS_ACCESS_KEY_ID]).toEqual(['ASIALOCKED1', 'ASIALOCKED2'])
  })
})
