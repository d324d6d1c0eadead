/**
 * The container credentials endpoint: the token a container holds picks its role, whose credentials come
 * locked to the host; a missing or wrong token never gets credentials. Read with the AWS SDK's own container
 * provider, as a container's SDK reads it.
 */
import { fromHttp } from '@aws-sdk/credential-provider-http'
import { afterEach, describe, expect, it } from 'vitest'
import { CONTAINER_PATH } from '../../handlers/host-proxy/proxy-config.js'
import { type ProxyScene, RecordingSts, startProxyScene, testClock } from '../support/host-proxy-harness.js'

const ORDERS_TOKEN = 'orders-container-token-0123456789'
const REPORTS_TOKEN = 'reports-container-token-9876543210'
const ORDERS_ROLE = 'arn:aws:iam::123456789012:role/orders-task'
const REPORTS_ROLE = 'arn:aws:iam::123456789012:role/reports-task'

const clock = testClock()
let scene: ProxyScene | undefined
let sts: RecordingSts

afterEach(async () => {
  await scene?.close()
  scene = undefined
})

async function openScene(): Promise<ProxyScene> {
  sts = new RecordingSts(clock)
  scene = await startProxyScene({
    sts,
    clock,
    containerRoles: new Map([
      [ORDERS_TOKEN, ORDERS_ROLE],
      [REPORTS_TOKEN, REPORTS_ROLE],
    ]),
  })
  return scene
}

describe('a container with the right token', () => {
  it("gets its own role's credentials, locked by the session policy, through the SDK's container provider", async () => {
    // Prepare
    const { proxy } = await openScene()
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${proxy.url}${CONTAINER_PATH}`,
      awsContainerAuthorizationToken: ORDERS_TOKEN,
    })

    // Act
    const credentials = await provider()
    const assumed = sts.calls.find((call) => call.RoleArn === ORDERS_ROLE)

    // Assess
    expect(credentials).toMatchObject({
      accessKeyId: expect.stringMatching(/^ASIALOCKED/),
      sessionToken: expect.any(String),
    })
    expect(credentials.expiration?.getTime()).toBe(clock.now().getTime() + 3_600_000)
    expect(JSON.parse(assumed?.Policy ?? '{}').Statement).toContainEqual({
      Sid: 'KeepTheLock',
      Effect: 'Deny',
      Action: 'sts:AssumeRole',
      Resource: ORDERS_ROLE,
    })
  })

  it('answers the ECS container-credentials shape, RoleArn included, and each token its own role', async () => {
    // Prepare
    const { proxy } = await openScene()

    // Act
    const orders = await fetch(`${proxy.url}${CONTAINER_PATH}`, { headers: { authorization: ORDERS_TOKEN } })
    const reports = await fetch(`${proxy.url}${CONTAINER_PATH}`, {
      headers: { authorization: REPORTS_TOKEN },
    })
    const ordersDocument = (await orders.json()) as Record<string, string>

    // Assess
    expect(Object.keys(ordersDocument)).toEqual([
      'AccessKeyId',
      'SecretAccessKey',
      'Token',
      'Expiration',
      'RoleArn',
    ])
    expect(ordersDocument.RoleArn).toBe(ORDERS_ROLE)
    expect(((await reports.json()) as Record<string, string>).RoleArn).toBe(REPORTS_ROLE)
  })
})

describe('a caller without the right token', () => {
  it.each([
    ['no Authorization header', {}, 401],
    ['an empty token', { authorization: '' }, 401],
    ['a wrong token', { authorization: 'orders-container-token-0123456780' }, 403],
    ['a prefix of a right token', { authorization: 'orders-container-token' }, 403],
  ] as const)('with %s gets %i and never credentials', async (_, headers, status) => {
    // Prepare
    const { proxy } = await openScene()
    const callsBefore = sts.calls.length

    // Act
    const response = await fetch(`${proxy.url}${CONTAINER_PATH}`, { headers })
    const body = await response.text()

    // Assess
    expect(response.status).toBe(status)
    expect(body).not.toMatch(/AccessKeyId|ASIA/)
    expect(sts.calls.length).toBe(callsBefore)
  })

  it.each([
    [{}, 401, 'Missing Authorization token.'],
    [{ authorization: 'orders-container-token-0123456780' }, 403, 'Invalid Authorization token.'],
  ] as const)('is answered in JSON: %j gets %i with a message', async (headers, status, message) => {
    // Prepare
    const { proxy } = await openScene()

    // Act
    const response = await fetch(`${proxy.url}${CONTAINER_PATH}`, { headers })

    // Assess
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(await response.json()).toEqual({ Message: message })
  })

  it('with the right token but another method than GET gets 405 and no credentials', async () => {
    // Prepare
    const { proxy } = await openScene()

    // Act
    const response = await fetch(`${proxy.url}${CONTAINER_PATH}`, {
      method: 'POST',
      headers: { authorization: ORDERS_TOKEN },
    })

    // Assess
    expect(response.status).toBe(405)
    expect(await response.json()).toEqual({ Message: 'Only GET is answered.' })
  })

  it("makes the SDK's container provider fail instead of returning credentials", async () => {
    // Prepare
    const { proxy } = await openScene()
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${proxy.url}${CONTAINER_PATH}`,
      awsContainerAuthorizationToken: 'not-a-configured-token-at-all',
    })

    // Act
    const outcome = provider().then(
      () => 'credentials',
      () => 'refused',
    )

    // Assess
    expect(await outcome).toBe('refused')
  })
})

describe('a container role that cannot be locked', () => {
  it('gets a 500 and no credentials even when the proxy fails open for the instance role', async () => {
    // Prepare
    const { proxy } = await openScene()
    sts.failing = new Error('AccessDenied: the instance role may not assume orders-task')

    // Act
    const response = await fetch(`${proxy.url}${CONTAINER_PATH}`, {
      headers: { authorization: ORDERS_TOKEN },
    })

    // Assess
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ Message: 'The container role could not be locked to this host.' })
  })
})
