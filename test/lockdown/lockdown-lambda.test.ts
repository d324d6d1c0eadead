/**
 * The lockdown as a function wires it (handlers/lockdown/lockdown-lambda.ts): from the environment Lambda gives it, over a
 * mocked STS (aws-sdk-client-mock) and a local stand-in for the address look-up. What it asks STS, with which
 * credentials and region, what it writes to stdout (JSON log lines and the EMF failure metric), when it retries,
 * and the module-level helpers a function imports.
 */
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts'
import middy from '@middy/core'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LockdownError } from '../../handlers/lockdown/errors.js'
import { lockdownFromEnvironment } from '../../handlers/lockdown/lockdown-lambda.js'
import { type AddressStandIn, startAddressStandIn } from '../support/address-stand-in.js'
import { ENVIRONMENT_IP, ORDERS_ROLE_ARN, ORDERS_SESSION, sessionFromIp } from '../support/lambda-session.js'
import { ATTACKER_V4, HOUR, MINUTE, SECOND } from '../support/lock-scene.js'
import { ALLOW_ALL, GET_OBJECT, verdict } from '../support/simulate.js'

const T0 = new Date('2026-11-26T06:00:00.000Z')
const RETRY_AFTER_MS = MINUTE
const SHORT_INVOCATION_MS = 30 * SECOND
const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs })

const sts = mockClient(STSClient)
let standIn: AddressStandIn

/** What Lambda puts in the function's environment, and where the lockdown asks for its address. */
function lambdaEnvironment(settings: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: 'ASIAORIGINAL',
    AWS_SECRET_ACCESS_KEY: 'original-secret',
    AWS_SESSION_TOKEN: 'lambda-token',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: ORDERS_SESSION.sessionName,
    CREDENTIAL_LOCK_ADDRESS_URL: standIn.url,
    ...settings,
  }
}

/** The JSON lines written through `write`, parsed. */
function jsonLines(write: { mock: { calls: unknown[][] } }): Record<string, unknown>[] {
  return write.mock.calls.map(([line]) => JSON.parse(String(line)))
}

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 })
  standIn = await startAddressStandIn(ENVIRONMENT_IP)
  sts.reset()
  let issued = 0
  sts.on(AssumeRoleCommand).callsFake(async () => {
    issued += 1
    return {
      Credentials: {
        AccessKeyId: `ASIALOCKED${issued}`,
        SecretAccessKey: 'locked-secret',
        SessionToken: 'locked-token',
        Expiration: new Date(Date.now() + HOUR),
      },
    }
  })
  sts.on(GetCallerIdentityCommand).resolves({
    Arn: `arn:aws:sts::${ORDERS_SESSION.accountId}:assumed-role/${ORDERS_SESSION.roleName}/${ORDERS_SESSION.sessionName}`,
  })
})

afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
  await standIn.close()
})

describe('a lockdown built from the environment', () => {
  it("assumes the role of the function's own session, signing with the original credentials in its region", async () => {
    // Prepare
    const info = vi.spyOn(console, 'info').mockImplementation(() => {})
    const environment = lambdaEnvironment({ CREDENTIAL_LOCK_SOURCE_VPCS: 'none' })

    // Act
    await lockdownFromEnvironment(environment).ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    const [call] = sts.commandCalls(AssumeRoleCommand)
    const input = call?.args[0].input as AssumeRoleCommandInput
    expect(input).toMatchObject({
      RoleArn: ORDERS_ROLE_ARN,
      RoleSessionName: ORDERS_SESSION.sessionName,
    })
    const sessionPolicy = input.Policy ?? ''
    expect([
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ENVIRONMENT_IP, GET_OBJECT), {
        sessionPolicy,
      }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, ATTACKER_V4, GET_OBJECT), { sessionPolicy }),
      await verdict([ALLOW_ALL], sessionFromIp(ORDERS_SESSION, '10.0.1.23', GET_OBJECT), { sessionPolicy }),
    ]).toEqual(['Allowed', 'ExplicitlyDenied', 'ExplicitlyDenied'])
    const client = call?.thisValue as STSClient
    expect(await client.config.region()).toBe('eu-west-1')
    expect(await client.config.credentials()).toMatchObject({
      accessKeyId: 'ASIAORIGINAL',
      secretAccessKey: 'original-secret',
      sessionToken: 'lambda-token',
    })
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1)
    expect(environment.AWS_ACCESS_KEY_ID).toBe('ASIALOCKED1')
    expect(jsonLines(info)).toEqual([
      {
        level: 'INFO',
        message: 'Credentials locked to this execution environment',
        address: ENVIRONMENT_IP,
        roleArn: ORDERS_ROLE_ARN,
        expiration: new Date(T0.getTime() + HOUR).toISOString(),
        lockMs: 0,
      },
    ])
  })

  it('assumes the role it is given, path and all, without asking whose session it runs in', async () => {
    // Prepare
    vi.spyOn(console, 'info').mockImplementation(() => {})
    const roleArn = 'arn:aws:iam::123456789012:role/service/orders-fn'
    const environment = lambdaEnvironment({ CREDENTIAL_LOCK_ROLE_ARN: roleArn })

    // Act
    await lockdownFromEnvironment(environment).ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toEqual([roleArn])
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(0)
  })

  it('fails open by default: an ERROR line, the LockdownFailed metric for the function, a retry a minute later', async () => {
    // Prepare
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    vi.spyOn(console, 'info').mockImplementation(() => {})
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const environment = lambdaEnvironment()
    const lockdown = lockdownFromEnvironment(environment)
    standIn.answer(503, 'Service Unavailable')

    // Act
    await lockdown.ensureLocked(SHORT_INVOCATION_MS)
    standIn.answer(200, ENVIRONMENT_IP)
    vi.setSystemTime(T0.getTime() + RETRY_AFTER_MS - 1)
    await lockdown.ensureLocked(SHORT_INVOCATION_MS)
    const beforeRetry = environment.AWS_ACCESS_KEY_ID
    vi.setSystemTime(T0.getTime() + RETRY_AFTER_MS)
    await lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    expect([beforeRetry, environment.AWS_ACCESS_KEY_ID]).toEqual(['ASIAORIGINAL', 'ASIALOCKED1'])
    expect(standIn.lookups).toBe(2)
    expect(jsonLines(error)).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        failureMode: 'open',
        message: expect.stringMatching(/fails open/),
      }),
    ])
    expect(jsonLines(write)).toEqual([
      {
        _aws: {
          Timestamp: T0.getTime(),
          CloudWatchMetrics: [
            {
              Namespace: 'CredentialLock',
              Dimensions: [['FunctionName']],
              Metrics: [{ Name: 'LockdownFailed', Unit: 'Count' }],
            },
          ],
        },
        FunctionName: ORDERS_SESSION.sessionName,
        FailureMode: 'open',
        LockdownFailed: 1,
      },
    ])
    expect(write.mock.calls.map(([line]) => String(line).endsWith('}\n'))).toEqual([true])
  })

  it('fails closed when told to, and counts the failure as closed', async () => {
    // Prepare
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const lockdown = lockdownFromEnvironment(lambdaEnvironment({ CREDENTIAL_LOCK_FAILURE_MODE: 'closed' }))
    standIn.answer(503, 'Service Unavailable')

    // Act
    const locking = lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Assess
    await expect(locking).rejects.toThrow(LockdownError)
    expect(jsonLines(write).map((metric) => metric.FailureMode)).toEqual(['closed'])
  })
})

describe("the function's one lockdown", () => {
  /** The module as a function loads it: fresh, with Lambda's variables in `process.env`. */
  async function freshModule() {
    const environment = lambdaEnvironment({ CREDENTIAL_LOCK_ROLE_ARN: ORDERS_ROLE_ARN })
    for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value)
    vi.stubEnv('AWS_CREDENTIAL_EXPIRATION', undefined)
    vi.spyOn(console, 'info').mockImplementation(() => {})
    vi.resetModules()
    return import('../../handlers/lockdown/lockdown-lambda.js')
  }

  it('is built once, from process.env', async () => {
    // Prepare
    const module = await freshModule()
    const { Lockdown } = await import('../../handlers/lockdown/lockdown.js')

    // Act
    const first = module.lockdown()
    const second = module.lockdown()

    // Assess
    expect(first).toBeInstanceOf(Lockdown)
    expect(second).toBe(first)
  })

  it('locks the credentials in process.env before a wrapped handler runs', async () => {
    // Prepare
    const { withLockdown } = await freshModule()
    const handler = withLockdown(async () => process.env.AWS_ACCESS_KEY_ID)

    // Act
    const seen = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect(seen).toBe('ASIALOCKED1')
  })

  it('locks them before a Middy handler runs', async () => {
    // Prepare
    const { lockdownMiddleware } = await freshModule()
    const handler = middy(async () => process.env.AWS_ACCESS_KEY_ID).use(lockdownMiddleware())

    // Act
    const seen = await handler({}, context(SHORT_INVOCATION_MS) as never)

    // Assess
    expect(seen).toBe('ASIALOCKED1')
  })
})
