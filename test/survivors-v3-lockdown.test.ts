/**
 * The in-function lockdown without moto (issue 14): test/lockdown.test.ts assumes the role on moto_server, which
 * mutation testing does not run, so these drive the same story over a fake STS that records the session policy
 * it is given, an injected clock and an injected address look-up. What the session policy allows is proven with
 * iam-simulate verdicts; when the lockdown locks, renews, fails open or closed is read from the environment the
 * handler sees, the calls it makes, its logs and its failure count.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  GetCallerIdentityCommand,
} from '@aws-sdk/client-sts'
import middy from '@middy/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AddressLookupError, LockdownError } from '../handlers/lockdown/errors.js'
import {
  type AwsCredentials,
  addressLookup,
  callerRoleArn,
  type FailureMode,
  LAMBDA_MAX_TIMEOUT_MS,
  Lockdown,
} from '../handlers/lockdown/lockdown.js'
import type { SourceVpcs } from '../policy/session-lock.js'
import { type AddressStandIn, startAddressStandIn } from './support/address-stand-in.js'
import {
  ENVIRONMENT_IP,
  ORDERS_ROLE_ARN,
  ORDERS_SESSION,
  sessionFromIp,
  sessionThroughEndpoint,
} from './support/lambda-session.js'
import { APP_VPC, ATTACKER_V4, FOREIGN_VPC, HOUR, MINUTE, SECOND } from './support/lock-scene.js'
import { ALLOW_ALL, type ApiCall, GET_OBJECT, verdict } from './support/simulate.js'

const ORIGINAL: AwsCredentials = {
  accessKeyId: 'ASIAORIGINAL',
  secretAccessKey: 'original-secret',
  sessionToken: 'lambda-token',
}
const T0 = new Date('2026-11-26T06:00:00.000Z')
const RETRY_AFTER_MS = MINUTE
/** How long before the SDK's own refresh window (5 minutes) the lockdown renews: one minute. */
const RENEW_MARGIN_MS = 6 * MINUTE
/** The SDK v3 asks its credentials provider again this long before the expiration it was given. */
const SDK_REFRESH_WINDOW_MS = 5 * MINUTE
const SHORT_INVOCATION_MS = 30 * SECOND
const ASSUME_OWN_ROLE: ApiCall = { action: 'sts:AssumeRole', resource: ORDERS_ROLE_ARN }

interface LoggedLine {
  readonly message: string
  readonly details: Record<string, unknown>
}

interface Options {
  readonly failureMode?: FailureMode
  readonly sourceVpcs?: SourceVpcs
  readonly originalCredentials?: AwsCredentials
  /** The look-up; by default it answers {@link ENVIRONMENT_IP}. */
  readonly lookUpAddress?: (clock: Clock) => Promise<string>
  /** What AssumeRole answers; by default fresh credentials for an hour from the clock's time. */
  readonly assumeRole?: (clock: Clock) => Promise<AssumeRoleCommandOutput>
}

interface Clock {
  now(): Date
  advance(ms: number): void
}

function clockAt(start: Date): Clock {
  let now = start.getTime()
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms
    },
  }
}

let issued = 0

/** Credentials as STS issues them: new keys each time, valid for an hour from the clock's time. */
async function freshSession(clock: Clock): Promise<AssumeRoleCommandOutput> {
  issued += 1
  return {
    $metadata: {},
    Credentials: {
      AccessKeyId: `ASIALOCKED${issued}`,
      SecretAccessKey: `locked-secret-${issued}`,
      SessionToken: `locked-token-${issued}`,
      Expiration: new Date(clock.now().getTime() + HOUR),
    },
  }
}

function harness(options: Options = {}) {
  const clock = clockAt(T0)
  const originalCredentials = options.originalCredentials ?? ORIGINAL
  const environment: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: originalCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: originalCredentials.secretAccessKey,
    ...(originalCredentials.sessionToken !== undefined && {
      AWS_SESSION_TOKEN: originalCredentials.sessionToken,
    }),
  }
  const assumeRoles: AssumeRoleCommandInput[] = []
  const infos: LoggedLine[] = []
  const errors: LoggedLine[] = []
  const failures: FailureMode[] = []
  const counts = { lookups: 0, roleLookups: 0 }
  const lockdown = new Lockdown({
    sts: {
      send: (command: AssumeRoleCommand) => {
        assumeRoles.push(command.input)
        return (options.assumeRole ?? freshSession)(clock)
      },
    },
    lookUpAddress: () => {
      counts.lookups += 1
      return options.lookUpAddress?.(clock) ?? Promise.resolve(ENVIRONMENT_IP)
    },
    roleArn: async () => {
      counts.roleLookups += 1
      return ORDERS_ROLE_ARN
    },
    sessionName: ORDERS_SESSION.sessionName,
    originalCredentials,
    environment,
    log: {
      info: (message, details) => infos.push({ message, details }),
      error: (message, details) => errors.push({ message, details }),
    },
    countFailure: (mode) => failures.push(mode),
    now: clock.now,
    settings: {
      failureMode: options.failureMode ?? 'open',
      sourceVpcs: options.sourceVpcs ?? [],
      retryAfterMs: RETRY_AFTER_MS,
    },
  })
  return { lockdown, environment, assumeRoles, infos, errors, failures, counts, clock }
}

type Harness = ReturnType<typeof harness>

/** What a handler sees: the credentials in its environment, as the SDK's default chain reads them. */
function credentialsIn(environment: Record<string, string | undefined>) {
  return {
    accessKeyId: environment.AWS_ACCESS_KEY_ID,
    secretAccessKey: environment.AWS_SECRET_ACCESS_KEY,
    sessionToken: environment.AWS_SESSION_TOKEN,
    expiration: environment.AWS_CREDENTIAL_EXPIRATION,
  }
}

const lockedNumber = (n: number, expiration: Date) => ({
  accessKeyId: `ASIALOCKED${n}`,
  secretAccessKey: `locked-secret-${n}`,
  sessionToken: `locked-token-${n}`,
  expiration: expiration.toISOString(),
})

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs })

/** Moves the clock to `leftMs` before the current lock's expiration. */
function moveTo(h: Harness, leftMs: number): void {
  const expiration = Date.parse(h.environment.AWS_CREDENTIAL_EXPIRATION ?? '')
  h.clock.advance(expiration - leftMs - h.clock.now().getTime())
}

const unreachable = () =>
  new AddressLookupError('https://checkip.amazonaws.com', 'could not be reached within 3000 ms', {
    cause: new TypeError('fetch failed'),
  })

beforeEach(() => {
  issued = 0
})

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

describe('failing open (the default)', () => {
  it('runs the handler on the original credentials, logs at ERROR why and counts a failure', async () => {
    // Prepare
    const h = harness({ lookUpAddress: async () => Promise.reject(unreachable()) })
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment))

    // Act
    const seen = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess: clients that cached them ask again (5 minutes early) when the retry is due.
    expect(seen).toEqual({
      ...ORIGINAL,
      expiration: new Date(T0.getTime() + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS).toISOString(),
    })
    expect(h.failures).toEqual(['open'])
    expect(h.errors).toEqual([
      {
        message:
          "This function's credentials could not be locked to its execution environment (The address look-up at " +
          'https://checkip.amazonaws.com could not be reached within 3000 ms: check that the function can reach ' +
          'it.); it fails open, so it runs with its unlocked credentials until the next try.',
        details: {
          failureMode: 'open',
          cause: {
            name: 'AddressLookupError',
            message:
              'The address look-up at https://checkip.amazonaws.com could not be reached within 3000 ms: check ' +
              'that the function can reach it.',
            cause: { name: 'TypeError', message: 'fetch failed' },
          },
        },
      },
    ])
    expect(h.infos).toEqual([])
  })

  it('tries again only once the retry delay has passed, and then locks', async () => {
    // Prepare
    let lookUpFails = true
    const h = harness({
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    const handler = h.lockdown.wrap(async () => h.environment.AWS_ACCESS_KEY_ID)
    await handler({}, context(SHORT_INVOCATION_MS))
    lookUpFails = false

    // Act
    h.clock.advance(RETRY_AFTER_MS - 1)
    const beforeRetry = await handler({}, context(SHORT_INVOCATION_MS))
    h.clock.advance(1)
    const atRetry = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect([beforeRetry, atRetry]).toEqual([ORIGINAL.accessKeyId, 'ASIALOCKED1'])
    expect(h.counts.lookups).toBe(2)
    expect(h.failures).toEqual(['open'])
  })

  it('tells SDK clients to ask again when the retry is due, however late they ask', async () => {
    // Prepare
    const h = harness({ lookUpAddress: async () => Promise.reject('checkip unreachable') })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Act
    h.clock.advance(RETRY_AFTER_MS / 2)
    const provided = await h.lockdown.credentials()

    // Assess
    expect(provided).toEqual({
      ...ORIGINAL,
      expiration: new Date(T0.getTime() + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS),
    })
    expect(h.errors.map((line) => line.details.cause)).toEqual([{ message: 'checkip unreachable' }])
    expect(h.errors[0]?.message).toMatch(/execution environment \(checkip unreachable\); it fails open/)
  })

  it('puts the original credentials back when a renewal fails, rather than let the locked ones expire', async () => {
    // Prepare: original credentials without a session token (long-term keys), a lock, and a look-up that breaks.
    const longTerm = { accessKeyId: 'AKIAORIGINAL', secretAccessKey: 'original-secret' }
    let lookUpFails = false
    const h = harness({
      originalCredentials: longTerm,
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    lookUpFails = true

    // Act
    moveTo(h, 2 * MINUTE)
    const failedAt = h.clock.now().getTime()
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    h.clock.advance(RETRY_AFTER_MS - 1)
    const provided = await h.lockdown.credentials()

    // Assess: no locked session token is left beside the original keys; no retry before the delay.
    const retryDue = new Date(failedAt + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS)
    expect(provided).toEqual({ ...longTerm, expiration: retryDue })
    expect(h.environment).toStrictEqual({
      AWS_ACCESS_KEY_ID: longTerm.accessKeyId,
      AWS_SECRET_ACCESS_KEY: longTerm.secretAccessKey,
      AWS_CREDENTIAL_EXPIRATION: retryDue.toISOString(),
    })
    expect(h.counts.lookups).toBe(2)
    expect(h.failures).toEqual(['open'])
  })
})

describe('failing closed', () => {
  it('stops the invocation before the handler runs, naming the cause, and leaves the environment alone', async () => {
    // Prepare
    const failure = unreachable()
    const h = harness({ failureMode: 'closed', lookUpAddress: async () => Promise.reject(failure) })
    let handlerRan = false
    const handler = h.lockdown.wrap(async () => {
      handlerRan = true
    })

    // Act
    const error = await handler({}, context(SHORT_INVOCATION_MS)).catch((thrown: unknown) => thrown)

    // Assess
    expect(error).toBeInstanceOf(LockdownError)
    // The name is what Lambda's error report and a log query show.
    expect(error).toMatchObject({
      name: 'LockdownError',
      failureMode: 'closed',
      cause: failure,
      message:
        "This function's credentials could not be locked to its execution environment (The address look-up at " +
        'https://checkip.amazonaws.com could not be reached within 3000 ms: check that the function can reach ' +
        'it.); it fails closed, so the invocation stops: fix the cause or set CREDENTIAL_LOCK_FAILURE_MODE=open.',
    })
    expect(handlerRan).toBe(false)
    expect(h.environment).toStrictEqual({
      AWS_ACCESS_KEY_ID: ORIGINAL.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ORIGINAL.secretAccessKey,
      AWS_SESSION_TOKEN: ORIGINAL.sessionToken,
    })
    expect(h.failures).toEqual(['closed'])
    expect(h.errors.map((line) => line.details.failureMode)).toEqual(['closed'])
  })

  it('tries again on every invocation, with no retry delay', async () => {
    // Prepare
    const h = harness({
      failureMode: 'closed',
      assumeRole: async () => Promise.reject(new Error('AccessDenied')),
    })
    const handler = h.lockdown.wrap(async () => 'ran')

    // Act
    const first = await handler({}, context(SHORT_INVOCATION_MS)).catch(() => 'stopped')
    const second = await handler({}, context(SHORT_INVOCATION_MS)).catch(() => 'stopped')

    // Assess
    expect([first, second]).toEqual(['stopped', 'stopped'])
    expect(h.assumeRoles).toHaveLength(2)
    expect(h.failures).toEqual(['closed', 'closed'])
  })

  it('after a failed renewal, locks anew rather than hand out the credentials it could not renew', async () => {
    // Prepare: a lock with 10 minutes left, too little for a 15-minute invocation; the renewal fails once.
    let lookUpFails = false
    const h = harness({
      failureMode: 'closed',
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    moveTo(h, 10 * MINUTE)
    lookUpFails = true
    await expect(h.lockdown.ensureLocked(LAMBDA_MAX_TIMEOUT_MS)).rejects.toThrow(LockdownError)
    lookUpFails = false

    // Act
    const provided = await h.lockdown.credentials()

    // Assess
    expect(provided.accessKeyId).toBe('ASIALOCKED2')
  })
})

describe('the address look-up', () => {
  let standIn: AddressStandIn

  beforeEach(async () => {
    standIn = await startAddressStandIn(ENVIRONMENT_IP)
  })

  afterEach(async () => {
    await standIn.close()
  })

  it('answers the address the service reports, without its line break', async () => {
    // Act
    const address = await addressLookup(standIn.url, 2_000)()

    // Assess
    expect(address).toBe(ENVIRONMENT_IP)
    expect(standIn.lookups).toBe(1)
  })

  it('names the URL and the HTTP status when the service answers an error', async () => {
    // Prepare
    standIn.answer(503, 'Service Unavailable')

    // Act
    const lookUp = addressLookup(standIn.url, 2_000)()

    // Assess
    await expect(lookUp).rejects.toThrow(AddressLookupError)
    await expect(lookUp).rejects.toThrow(
      `The address look-up at ${standIn.url} answered HTTP 503: check that the function can reach it.`,
    )
  })

  it('names the URL and its time limit when nothing answers there', async () => {
    // Prepare
    const { url } = standIn
    await standIn.close()
    standIn = await startAddressStandIn(ENVIRONMENT_IP)

    // Act
    const error = await addressLookup(url, 2_000)().catch((thrown: unknown) => thrown)

    // Assess
    expect(error).toBeInstanceOf(AddressLookupError)
    expect(error).toMatchObject({
      message: `The address look-up at ${url} could not be reached within 2000 ms: check that the function can reach it.`,
      cause: expect.objectContaining({ name: 'TypeError' }),
    })
  })

  it('gives up on a service that never answers once its time limit has passed', async () => {
    // Prepare: a server that accepts the request and never responds.
    const silent = createServer(() => {})
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`

    // Act
    const error = await addressLookup(url, 100)().catch((thrown: unknown) => thrown)
    silent.closeAllConnections()
    silent.close()

    // Assess
    expect(error).toMatchObject({
      message: `The address look-up at ${url} could not be reached within 100 ms: check that the function can reach it.`,
      cause: expect.objectContaining({ name: 'TimeoutError' }),
    })
  })
})

describe("the function's own role", () => {
  function identity(Arn: string | undefined) {
    const sent: unknown[] = []
    const sts = {
      send: async (command: GetCallerIdentityCommand) => {
        sent.push(command)
        return { Arn }
      },
    }
    return { roleArn: callerRoleArn(sts), sent }
  }

  it.each([
    ['arn:aws:sts::123456789012:assumed-role/orders-fn/orders', 'arn:aws:iam::123456789012:role/orders-fn'],
    [
      'arn:aws-us-gov:sts::123456789012:assumed-role/orders+fn=v2,eu.1@team-a/orders',
      'arn:aws-us-gov:iam::123456789012:role/orders+fn=v2,eu.1@team-a',
    ],
  ])('is read from the session %s', async (sessionArn, roleArn) => {
    // Prepare
    const { roleArn: lookUp, sent } = identity(sessionArn)

    // Act
    const found = await lookUp()

    // Assess
    expect(found).toBe(roleArn)
    expect(sent).toEqual([expect.any(GetCallerIdentityCommand)])
  })

  it.each([
    'arn:aws:iam::123456789012:user/deployer',
    'arn:aws:sts::12345678901:assumed-role/orders-fn/orders',
    'xarn:aws:sts::123456789012:assumed-role/orders-fn/orders',
    'arn:aws:sts::123456789012:assumed-role/orders-fn',
    undefined,
  ])('is refused from the identity %s, which is not a role session', async (sessionArn) => {
    // Act
    const lookUp = identity(sessionArn).roleArn()

    // Assess
    await expect(lookUp).rejects.toThrow(`The function's own identity ${sessionArn} is not a role session.`)
  })
})
