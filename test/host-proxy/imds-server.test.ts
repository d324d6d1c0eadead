/**
 * The proxy as IMDS: every path but the role's credentials passes through unchanged, the token flow and the
 * IMDSv1 decision stay with the real IMDS, relayed requests are refused, and the credentials document is
 * IMDS's own shape holding the locked credentials.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { CredentialKeeper } from '../../handlers/host-proxy/credential-keeper.js'
import { imdsHandler } from '../../handlers/host-proxy/imds-server.js'
import {
  CREDENTIALS_PATH,
  imdsToken,
  type ProxyScene,
  RecordingSts,
  startProxyScene,
  testClock,
} from '../support/host-proxy-harness.js'

let scene: ProxyScene | undefined

afterEach(async () => {
  await scene?.close()
  scene = undefined
})

const clock = testClock()

async function openScene(options: Partial<Parameters<typeof startProxyScene>[0]> = {}): Promise<ProxyScene> {
  scene = await startProxyScene({ sts: new RecordingSts(clock), clock, ...options })
  return scene
}

/** What a caller can see of an answer; the date is left out (it moves), and so is the connection header. */
async function seen(response: Response) {
  const headers = Object.fromEntries(
    [...response.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)),
  )
  return { status: response.status, headers, body: await response.text() }
}

const REAL_PATHS = [
  '/latest/meta-data/',
  '/latest/meta-data/ami-id',
  '/latest/meta-data/instance-id',
  '/latest/meta-data/instance-type',
  '/latest/meta-data/hostname',
  '/latest/meta-data/local-ipv4',
  '/latest/meta-data/public-ipv4',
  '/latest/meta-data/placement/region',
  '/latest/meta-data/iam/info',
  '/latest/meta-data/iam/security-credentials/',
  '/latest/meta-data/network/interfaces/macs/',
  '/latest/dynamic/instance-identity/document',
  '/latest/user-data',
  '/latest/meta-data/no-such-thing',
]

describe('pass-through to the real IMDS', () => {
  it.each(REAL_PATHS)('answers %s with the status, headers and body the real IMDS gives', async (path) => {
    // Prepare
    const { proxy, imds } = await openScene()
    const token = await imdsToken(imds.url)
    const headers = { 'x-aws-ec2-metadata-token': token }

    // Act
    const throughProxy = await seen(await fetch(`${proxy.url}${path}`, { headers }))
    const direct = await seen(await fetch(`${imds.url}${path}`, { headers }))

    // Assess
    expect(throughProxy).toEqual(direct)
  })

  it('passes the IMDSv2 token flow through: a token from the proxy is a token of the real IMDS', async () => {
    // Prepare
    const { proxy, imds } = await openScene()

    // Act
    const token = await imdsToken(proxy.url, 120)
    const direct = await fetch(`${imds.url}/latest/meta-data/instance-id`, {
      headers: { 'x-aws-ec2-metadata-token': token },
    })
    const tokenRequest = imds.requests.filter((request) => request.path === '/latest/api/token').at(-1)

    // Assess
    expect(direct.status).toBe(200)
    expect(tokenRequest?.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('120')
  })

  it('lets the real IMDS refuse a wrong token', async () => {
    // Prepare
    const { proxy } = await openScene()

    // Act
    const response = await fetch(`${proxy.url}${CREDENTIALS_PATH}`, {
      headers: { 'x-aws-ec2-metadata-token': 'forged' },
    })

    // Assess
    expect(response.status).toBe(401)
    expect(await response.text()).not.toContain('AccessKeyId')
  })
})

describe('IMDS defences kept', () => {
  it('refuses a request carrying X-Forwarded-For, as IMDS does, without asking the real IMDS', async () => {
    // Prepare
    const { proxy, imds } = await openScene()
    const token = await imdsToken(proxy.url)
    const before = imds.requests.length

    // Act
    const tokenPut = await fetch(`${proxy.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '203.0.113.9' },
    })
    const credentials = await fetch(`${proxy.url}${CREDENTIALS_PATH}`, {
      headers: { 'x-aws-ec2-metadata-token': token, 'x-forwarded-for': '203.0.113.9' },
    })

    // Assess
    expect([tokenPut.status, credentials.status]).toEqual([403, 403])
    expect(await credentials.text()).toContain('403 - Forbidden')
    expect(imds.requests.length).toBe(before)
  })

  it('answers IMDSv1 (no token) only while the real IMDS does', async () => {
    // Prepare
    const { proxy, imds } = await openScene()

    // Act
    const whileRequired = await fetch(`${proxy.url}${CREDENTIALS_PATH}`)
    imds.allowV1(true)
    const whileOptional = await fetch(`${proxy.url}${CREDENTIALS_PATH}`)

    // Assess
    expect(whileRequired.status).toBe(401)
    expect(whileOptional.status).toBe(200)
    expect(((await whileOptional.json()) as { AccessKeyId: string }).AccessKeyId).toMatch(/^ASIALOCKED/)
  })

  it.each([
    '/latest/meta-data/iam/security-credentials/../security-credentials/app-role',
    '/latest//meta-data/iam/security-credentials/app-role',
    '/latest/meta-data/iam/security-credentials%2Fapp-role',
    '/2016-09-02/meta-data/iam/security-credentials/app-role',
    '/latest/meta-data/IAM/security-credentials/app-role',
    '/latest/meta-data/iam/security-credentials/app-role/',
  ])('never hands out the raw credentials for another spelling of their path: %s', async (path) => {
    // Prepare
    const { proxy } = await openScene()
    const token = await imdsToken(proxy.url)

    // Act
    const body = await (
      await fetch(`${proxy.url}${path}`, { headers: { 'x-aws-ec2-metadata-token': token } })
    ).text()

    // Assess
    expect(body).not.toContain('ASIARAWINSTANCEROLE1')
  })
})

describe('the backstop on what IMDS answers', () => {
  it('replaces credentials IMDS answered under iam/ for a path spelling the proxy does not know', async () => {
    // Prepare: an IMDS that resolves `app-role.json` to the role's document
    const rawDocument = JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIARAW', SecretAccessKey: 'raw' })
    const keeper = new CredentialKeeper({
      lock: async () => ({
        accessKeyId: 'ASIALOCKED',
        secretAccessKey: 'locked',
        sessionToken: 'token',
        expiration: new Date(clock.now().getTime() + 3_600_000),
      }),
      what: 'role app-role',
      failureMode: 'closed',
      retryAfterMs: 60_000,
      log: { info: () => undefined, error: () => undefined },
      countFailure: () => undefined,
      now: () => clock.now(),
    })
    const handler = imdsHandler({
      forward: async () => ({ status: 200, headers: {}, body: Buffer.from(rawDocument) }),
      keeper,
      log: { info: () => undefined, error: () => undefined },
    })
    const server = createServer((request, response) => void handler(request, response)).listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }

    // Act
    const body = await (
      await fetch(`http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/app-role.json`)
    ).text()
    server.closeAllConnections()
    server.close()

    // Assess
    expect(body).toContain('ASIALOCKED')
    expect(body).not.toContain('ASIARAW')
  })
})

describe('the credentials document', () => {
  it("is IMDS's JSON shape holding the locked credentials, with IMDS's own headers", async () => {
    // Prepare
    const { proxy } = await openScene()
    const token = await imdsToken(proxy.url)

    // Act
    const response = await fetch(`${proxy.url}${CREDENTIALS_PATH}`, {
      headers: { 'x-aws-ec2-metadata-token': token },
    })
    const document = (await response.json()) as Record<string, string>

    // Assess
    expect(response.headers.get('server')).toBe('EC2ws')
    expect(Object.keys(document)).toEqual([
      'Code',
      'LastUpdated',
      'Type',
      'AccessKeyId',
      'SecretAccessKey',
      'Token',
      'Expiration',
    ])
    expect(document).toMatchObject({
      Code: 'Success',
      Type: 'AWS-HMAC',
      AccessKeyId: 'ASIALOCKED0000000001',
      SecretAccessKey: 'locked-secret-1',
      Token: 'locked-token-1',
      LastUpdated: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      Expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    })
  })

  it('is the raw one, with an ERROR line and a metric, when locking fails open', async () => {
    // Prepare
    const sts = new RecordingSts(clock)
    sts.failing = new Error('STS is unreachable')
    const { proxy, logs, failures } = await openScene({ sts, failureMode: 'open' })
    const token = await imdsToken(proxy.url)

    // Act
    const document = (await (
      await fetch(`${proxy.url}${CREDENTIALS_PATH}`, { headers: { 'x-aws-ec2-metadata-token': token } })
    ).json()) as Record<string, string>

    // Assess
    expect(document.AccessKeyId).toBe('ASIARAWINSTANCEROLE1')
    expect(failures).toEqual(['open'])
    expect(logs.filter((line) => line.level === 'ERROR')).toHaveLength(1)
  })

  it("is IMDS's own 404 page, never credentials, when locking fails closed", async () => {
    // Prepare
    const sts = new RecordingSts(clock)
    sts.failing = new Error('STS is unreachable')
    const { proxy, failures } = await openScene({ sts, failureMode: 'closed' })
    const token = await imdsToken(proxy.url)

    // Act
    const response = await fetch(`${proxy.url}${CREDENTIALS_PATH}`, {
      headers: { 'x-aws-ec2-metadata-token': token },
    })
    const body = await response.text()

    // Assess
    expect(response.status).toBe(404)
    expect(body).toContain('404 - Not Found')
    expect(body).not.toContain('AccessKeyId')
    expect(failures).toEqual(['closed'])
  })

  it('answers 502 in IMDS shape when the real IMDS cannot be reached, and logs it', async () => {
    // Prepare
    const { proxy, imds, logs } = await openScene()
    await imds.close()

    // Act
    const response = await fetch(`${proxy.url}/latest/meta-data/instance-id`)

    // Assess
    expect(response.status).toBe(502)
    expect(logs.at(-1)).toMatchObject({
      level: 'ERROR',
      message: 'The instance metadata service could not be reached',
    })
  })
})
