/**
 * The in-function lockdown against a local stand-in for the address look-up and AssumeRole on moto: what the
 * handler finds in its environment, when the lockdown renews, and what each failure mode does.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import middy from '@middy/core'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { LockdownError } from '../../handlers/lockdown/errors.js'
import {
  type AwsCredentials,
  addressLookup,
  type FailureMode,
  LAMBDA_MAX_TIMEOUT_MS,
  Lockdown,
  type StsCalls,
} from '../../handlers/lockdown/lockdown.js'
import { type AddressStandIn, startAddressStandIn } from '../support/address-stand-in.js'
import { ENVIRONMENT_IP, sessionFromIp } from '../support/lambda-session.js'
import { useMotoAccount } from '../support/moto.js'
import { ALLOW_ALL, GET_OBJECT, verdict } from '../support/simulate.js'

const THIEF_IP = '203.0.113.66'
const FUNCTION_NAME = 'orders'
const ROLE_NAME = 'orders-fn'
/** The session the lockdown assumes: the function's role, named after the function. */
const LOCKED_SESSION_ARN = /:assumed-role\/orders-fn\/orders$/
const ORIGINAL: AwsCredentials = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
  sessionToken: 'lambda-token',
}
const MINUTE = 60_000
const RETRY_AFTER_MS = MINUTE
const SECOND_INVOCATION_MS = 30_000

interface Harness {
  readonly lockdown: Lockdown
  readonly environment: Record<string, string | undefined>
  readonly assumeRoleCalls: {
    readonly Policy?: string | undefined
    readonly DurationSeconds?: number | undefined
  }[]
  readonly errors: string[]
  readonly failures: FailureMode[]
  readonly roleArn: string
  /** Moves the injected clock. */
  advance(ms: number): void
  /** An STS client signing with `credentials`, in the harness's moto account. */
  stsWith(credentials: AwsCredentials | (() => Promise<AwsCredentials>)): STSClient
}

let standIn: AddressStandIn

beforeEach(async () => {
  standIn = await startAddressStandIn(ENVIRONMENT_IP)
})

afterEach(async () => {
  await standIn.close()
})

function harness(options: { failureMode?: FailureMode; sts?: StsCalls } = {}): Harness {
  const endpoint = inject('motoEndpoint')
  // A copy: the SDK marks credential objects it is given with where they came from.
  const moto = new STSClient({ region: 'us-east-1', endpoint, credentials: { ...ORIGINAL } })
  const accountId = useMotoAccount(moto)
  const roleArn = `arn:aws:iam::${accountId}:role/${ROLE_NAME}`
  const assumeRoleCalls: Harness['assumeRoleCalls'][number][] = []
  const sts: StsCalls = options.sts ?? {
    send: (command) => {
      assumeRoleCalls.push(command.input)
      return moto.send(command)
    },
  }
  // moto dates the session from the real clock; the injected clock starts there and moves on request.
  let now = Date.now()
  const environment: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: ORIGINAL.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ORIGINAL.secretAccessKey,
    AWS_SESSION_TOKEN: ORIGINAL.sessionToken,
  }
  const errors: string[] = []
  const failures: FailureMode[] = []
  const lockdown = new Lockdown({
    sts,
    lookUpAddress: addressLookup(standIn.url, 2_000),
    roleArn: async () => roleArn,
    sessionName: FUNCTION_NAME,
    originalCredentials: ORIGINAL,
    environment,
    log: { info: () => {}, error: (message) => errors.push(message) },
    countFailure: (mode) => failures.push(mode),
    now: () => new Date(now),
    settings: { failureMode: options.failureMode ?? 'open', sourceVpcs: [], retryAfterMs: RETRY_AFTER_MS },
  })
  return {
    lockdown,
    environment,
    assumeRoleCalls,
    errors,
    failures,
    roleArn,
    advance: (ms) => {
      now += ms
    },
    stsWith: (credentials) => {
      const client = new STSClient({ region: 'us-east-1', endpoint, credentials })
      useMotoAccount(client, accountId)
      return client
    },
  }
}

/** What a handler sees: the credentials in its environment, as the SDK's default chain would read them. */
function credentialsIn(environment: Record<string, string | undefined>): AwsCredentials {
  return {
    accessKeyId: environment.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: environment.AWS_SECRET_ACCESS_KEY ?? '',
    sessionToken: environment.AWS_SESSION_TOKEN,
  }
}

async function callerArn(client: STSClient): Promise<string | undefined> {
  return (await client.send(new GetCallerIdentityCommand({}))).Arn
}

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs })

describe('locking on the first invocation', () => {
  it("runs the handler with the function's role, re-assumed under a session pinned to the looked-up address", async () => {
    // Prepare
    const h = harness()
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment))

    // Act
    const seen = await handler({}, context(SECOND_INVOCATION_MS))

    // Assess
    expect(seen.accessKeyId).not.toBe(ORIGINAL.accessKeyId)
    expect(await callerArn(h.stsWith(seen))).toMatch(LOCKED_SESSION_ARN)
    expect(h.environment.AWS_CREDENTIAL_EXPIRATION).toMatch(/^\d{4}-\d\d-\d\dT/)
    const [call] = h.assumeRoleCalls
    expect(call?.DurationSeconds).toBe(3_600)
    const sessionPolicy = call?.Policy ?? ''
    const session = {
      accountId: h.roleArn.split(':')[4] ?? '',
      roleName: ROLE_NAME,
      sessionName: FUNCTION_NAME,
    }
    expect(
      await verdict([ALLOW_ALL], sessionFromIp(session, ENVIRONMENT_IP, GET_OBJECT), { sessionPolicy }),
    ).toBe('Allowed')
    expect(await verdict([ALLOW_ALL], sessionFromIp(session, THIEF_IP, GET_OBJECT), { sessionPolicy })).toBe(
      'ExplicitlyDenied',
    )
  })

  it('hands clients created earlier the locked credentials through its provider', async () => {
    // Prepare: a client built at module load, before any invocation.
    const h = harness()
    const earlyClient = h.stsWith(h.lockdown.credentials)

    // Act
    const arn = await callerArn(earlyClient)

    // Assess
    expect(arn).toMatch(LOCKED_SESSION_ARN)
    expect(h.assumeRoleCalls).toHaveLength(1)
  })

  it('works as a Middy middleware', async () => {
    // Prepare
    const h = harness()
    const handler = middy(async () => credentialsIn(h.environment)).use(h.lockdown.middleware())

    // Act
    const seen = await handler({}, context(SECOND_INVOCATION_MS) as never)

    // Assess
    expect(await callerArn(h.stsWith(seen))).toMatch(LOCKED_SESSION_ARN)
  })

  it('shares one look-up and one AssumeRole among concurrent invocations', async () => {
    // Prepare
    const h = harness()
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment).accessKeyId)

    // Act
    const seen = await Promise.all(
      Array.from({ length: 5 }, () => handler({}, context(SECOND_INVOCATION_MS))),
    )

    // Assess
    expect(new Set(seen).size).toBe(1)
    expect(h.assumeRoleCalls).toHaveLength(1)
    expect(standIn.lookups).toBe(1)
  })
})

describe('renewing', () => {
  it('keeps the lock while it outlasts the invocation by a few minutes, then renews it before it expires', async () => {
    // Prepare
    const h = harness()
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment).accessKeyId)
    const first = await handler({}, context(LAMBDA_MAX_TIMEOUT_MS))
    const expiresInMs = Date.parse(h.environment.AWS_CREDENTIAL_EXPIRATION ?? '') - Date.now()

    // Act: warm invocations up to the last moment the lock still outlasts a 15-minute one by 6 minutes.
    h.advance(expiresInMs - LAMBDA_MAX_TIMEOUT_MS - 6 * MINUTE - 5_000)
    const warm = await handler({}, context(LAMBDA_MAX_TIMEOUT_MS))
    const shortInvocation = await handler({}, context(SECOND_INVOCATION_MS))
    h.advance(10_000)
    const renewed = await handler({}, context(LAMBDA_MAX_TIMEOUT_MS))

    // Assess
    expect([warm, shortInvocation]).toEqual([first, first])
    expect(renewed).not.toBe(first)
    expect(h.assumeRoleCalls).toHaveLength(2)
  })

  it('renews through the provider when the SDK asks a few minutes before expiry', async () => {
    // Prepare
    const h = harness()
    const first = await h.lockdown.credentials()
    const expiresInMs = (first.expiration?.getTime() ?? 0) - Date.now()

    // Act
    h.advance(expiresInMs - 5 * MINUTE)
    const second = await h.lockdown.credentials()

    // Assess
    expect(second.accessKeyId).not.toBe(first.accessKeyId)
    expect(second.expiration?.getTime()).toBeGreaterThan(first.expiration?.getTime() ?? 0)
  })
})

describe('failing open (the default)', () => {
  it('runs the handler on the original credentials, logs at ERROR and counts a failure, then retries later', async () => {
    // Prepare
    const h = harness({ failureMode: 'open' })
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment).accessKeyId)
    standIn.answer(503, 'Service Unavailable')

    // Act
    const whileDown = await handler({}, context(SECOND_INVOCATION_MS))
    const soonAfter = await handler({}, context(SECOND_INVOCATION_MS))
    standIn.answer(200, ENVIRONMENT_IP)
    h.advance(RETRY_AFTER_MS)
    const afterRetry = await handler({}, context(SECOND_INVOCATION_MS))

    // Assess
    expect([whileDown, soonAfter]).toEqual([ORIGINAL.accessKeyId, ORIGINAL.accessKeyId])
    expect(afterRetry).not.toBe(ORIGINAL.accessKeyId)
    expect(standIn.lookups).toBe(2)
    expect(h.failures).toEqual(['open'])
    expect(h.errors).toEqual([
      `This function's credentials could not be locked to its execution environment (The address look-up at ` +
        `${standIn.url} answered HTTP 503: check that the function can reach it.); it fails open, so it runs with ` +
        'its unlocked credentials until the next try.',
    ])
  })

  it('puts the original credentials back when a renewal fails, rather than let the locked ones expire', async () => {
    // Prepare
    const h = harness({ failureMode: 'open' })
    await h.lockdown.ensureLocked(SECOND_INVOCATION_MS)
    const expiresInMs = Date.parse(h.environment.AWS_CREDENTIAL_EXPIRATION ?? '') - Date.now()
    standIn.answer(200, 'not an address')

    // Act
    h.advance(expiresInMs - 2 * MINUTE)
    await h.lockdown.ensureLocked(SECOND_INVOCATION_MS)
    const provided = await h.lockdown.credentials()

    // Assess
    expect(credentialsIn(h.environment)).toEqual(ORIGINAL)
    expect(provided).toMatchObject(ORIGINAL)
    // SDK clients that cached them ask again when the retry is due.
    expect(Date.parse(h.environment.AWS_CREDENTIAL_EXPIRATION ?? '')).toBeGreaterThan(Date.now())
    expect(h.failures).toEqual(['open'])
  })
})

describe('failing closed', () => {
  it('stops the invocation before the handler runs when the address look-up fails', async () => {
    // Prepare
    const h = harness({ failureMode: 'closed' })
    let handlerRan = false
    const handler = h.lockdown.wrap(async () => {
      handlerRan = true
    })
    await standIn.close()

    // Act
    const invocation = handler({}, context(SECOND_INVOCATION_MS))

    // Assess
    await expect(invocation).rejects.toThrow(LockdownError)
    await expect(invocation).rejects.toThrow(/could not be reached.*it fails closed, so the invocation stops/)
    expect(handlerRan).toBe(false)
    expect(h.failures).toEqual(['closed'])
    standIn = await startAddressStandIn(ENVIRONMENT_IP)
  })

  it('stops every invocation while AssumeRole is refused, and tells why', async () => {
    // Prepare: the role's trust policy does not let it assume itself (infra/self-assume.ts not applied).
    const refused = Object.assign(new Error('User is not authorized to perform: sts:AssumeRole'), {
      name: 'AccessDenied',
    })
    const h = harness({ failureMode: 'closed', sts: { send: async () => Promise.reject(refused) } })
    const handler = h.lockdown.wrap(async () => 'ran')

    // Act
    const first = handler({}, context(SECOND_INVOCATION_MS))
    await expect(first).rejects.toThrow(/not authorized to perform: sts:AssumeRole/)
    const second = handler({}, context(SECOND_INVOCATION_MS))

    // Assess
    await expect(second).rejects.toThrow(LockdownError)
    expect(h.failures).toEqual(['closed', 'closed'])
    expect(credentialsIn(h.environment)).toEqual(ORIGINAL)
  })
})
