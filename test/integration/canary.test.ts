/**
 * The canary's whole flow against moto: the instance's own script (from the launch template's user data) reads
 * its credentials from an IMDSv2 stand-in and writes them with those very credentials (the AWS CLI's IMDS
 * provider) into the SecureString; the canary Lambda's logic reads them, makes the harmless call with them, reads
 * the launch time and records the measurement. moto enforces no IAM policy: it allows every call, so the
 * explicit deny the lock gives in AWS is played by a stand-in on the thief's client, and nothing here proves the
 * lock itself (the iam-simulate tests and `plan --verify` do that).
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import { EC2Client, EC2ServiceException, RunInstancesCommand } from '@aws-sdk/client-ec2'
import { DeleteParameterCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { type CanaryConfig, runCanary, type StolenCredentials } from '../../handlers/canary/canary-check.js'
import {
  CANARY_CREDENTIALS_PARAMETER,
  CANARY_MEASUREMENT_PARAMETER,
  handOverUserData,
} from '../../infra/canary.js'

const REGION = 'us-east-1'
const ROLE = 'credential-lock-canary-instance'
const ISSUED = {
  AccessKeyId: 'ASIACANARYINSTANCE01',
  SecretAccessKey: 'canary-secret',
  Token: 'canary-session-token',
}
const CONFIG: CanaryConfig = {
  credentialsParameter: CANARY_CREDENTIALS_PARAMETER,
  measurementParameter: CANARY_MEASUREMENT_PARAMETER,
  staleAfterMs: 15 * 60_000,
  timeToLockLimitMs: 5 * 60_000,
}

/** IMDSv2 as the canary instance sees it: a session token first, then its role's credentials and its id. */
function imdsStandIn(instanceId: string, served: string[]): Server {
  const token = 'imds-session-token'
  return createServer((request, response) => {
    const path = request.url ?? ''
    served.push(path)
    if (request.method === 'PUT' && path === '/latest/api/token') return void response.end(token)
    if (request.headers['x-aws-ec2-metadata-token'] !== token) return void response.writeHead(401).end()
    const answers: Record<string, string> = {
      '/latest/meta-data/instance-id': instanceId,
      '/latest/meta-data/iam/security-credentials/': ROLE,
      [`/latest/meta-data/iam/security-credentials/${ROLE}`]: JSON.stringify({
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        Type: 'AWS-HMAC',
        ...ISSUED,
        Expiration: new Date(Date.now() + 6 * 3_600_000).toISOString(),
      }),
    }
    const answer = answers[path]
    if (answer === undefined) return void response.writeHead(404).end()
    response.end(answer)
  })
}

/** The hand-over script exactly as the launch template's user data installs it, pointed at the stand-in. */
function handOverScript(imdsUrl: string): string {
  const rendered = handOverUserData(REGION).render()
  const script = /<<'SCRIPT'\n([\s\S]*?)\nSCRIPT\n/.exec(rendered)?.[1]
  if (script === undefined) throw new Error('the user data holds no hand-over script')
  return script.replace('http://169.254.169.254/latest', `${imdsUrl}/latest`)
}

describe('the canary flow against moto (IAM enforcement played by a stand-in: moto enforces none)', () => {
  const endpoint = inject('motoEndpoint')
  const ssm = new SSMClient({ endpoint, region: REGION })
  const ec2 = new EC2Client({ endpoint, region: REGION })
  let instanceId: string
  let imds: Server
  let imdsUrl: string
  const signedWith: string[] = []
  const imdsServed: string[] = []
  let refuseAsIamWould = false

  /** The thief's client: the handed-over credentials, and the explicit deny moto cannot give. */
  function thiefClient(credentials: StolenCredentials): EC2Client {
    const client = new EC2Client({ endpoint, region: REGION, maxAttempts: 1, credentials })
    client.middlewareStack.add(
      (next) => async (args) => {
        const { request } = args as { request?: { headers?: Record<string, string> } }
        signedWith.push(/Credential=([^/]+)\//.exec(request?.headers?.authorization ?? '')?.[1] ?? '')
        if (refuseAsIamWould) {
          throw new EC2ServiceException({
            name: 'UnauthorizedOperation',
            $fault: 'client',
            $metadata: { httpStatusCode: 403 },
            message: `You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/${ROLE}/${instanceId} is not authorized to perform: ec2:DescribeRegions with an explicit deny in an identity-based policy`,
          })
        }
        return next(args)
      },
      { step: 'finalizeRequest', name: 'iamStandIn', priority: 'low' },
    )
    return client
  }

  function runAt(now: Date) {
    const metrics = { addMetric: vi.fn(), publishStoredMetrics: vi.fn() }
    const decision = runCanary({
      ssm,
      ec2,
      sts: new STSClient({ endpoint, region: REGION }),
      ec2With: thiefClient,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: metrics as unknown as Metrics,
      config: CONFIG,
      now: () => now,
    })
    const published = () =>
      Object.fromEntries(metrics.addMetric.mock.calls.map(([name, , value]) => [name, value]))
    return { decision, published }
  }

  beforeAll(async () => {
    await ssm.send(new DeleteParameterCommand({ Name: CANARY_CREDENTIALS_PARAMETER })).catch(() => undefined)
    await ssm.send(new DeleteParameterCommand({ Name: CANARY_MEASUREMENT_PARAMETER })).catch(() => undefined)
    const launched = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't4g.nano',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'credential-lock', Value: 'enabled' }] },
        ],
      }),
    )
    instanceId = launched.Instances?.[0]?.InstanceId ?? ''
    imds = imdsStandIn(instanceId, imdsServed).listen(0, '127.0.0.1')
    await once(imds, 'listening')
    const address = imds.address()
    imdsUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  })

  afterAll(() => {
    imds.close()
  })

  it("writes the instance's own credentials as a SecureString with the instance's own credentials", async () => {
    // Prepare: the CLI finds credentials only through the IMDS stand-in
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, ...inherited } =
      process.env
    const env = {
      ...inherited,
      HOME: mkdtempSync(join(tmpdir(), 'canary-home-')),
      AWS_ENDPOINT_URL: endpoint,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imdsUrl}/`,
    }

    // Act: asynchronously, for the IMDS stand-in answers from this very process
    const run = await promisify(execFile)('bash', ['-c', handOverScript(imdsUrl)], { env, timeout: 60_000 })

    // Assess
    expect(run.stderr).toBe('')
    // Once for the value the script writes, once for the CLI signing the write with the same credentials.
    expect(
      imdsServed.filter((path) => path.endsWith(`/security-credentials/${ROLE}`)).length,
    ).toBeGreaterThanOrEqual(2)
    const written = await ssm.send(
      new GetParameterCommand({ Name: CANARY_CREDENTIALS_PARAMETER, WithDecryption: true }),
    )
    expect(written.Parameter?.Type).toBe('SecureString')
    expect(JSON.parse(written.Parameter?.Value ?? '{}')).toMatchObject({ instanceId, credentials: ISSUED })
  })

  it('tries them from outside: moto lets them work, which right after launch is the lock still arriving', async () => {
    // Act
    const { decision, published } = runAt(new Date(Date.now() + 60_000))

    // Assess
    expect((await decision).verdict).toBe('locking')
    expect(signedWith.at(-1)).toBe(ISSUED.AccessKeyId)
    expect(published()).toEqual({ CanaryOwnCallsWork: 1 })
  })

  it('reports CanaryLockHolds 0 when they still work after the time-to-lock limit (what moto, enforcing nothing, shows)', async () => {
    // Act
    const { decision, published } = runAt(new Date(Date.now() + 6 * 60_000))

    // Assess
    expect((await decision).verdict).toBe('does-not-hold')
    expect(published().CanaryLockHolds).toBe(0)
  })

  it('measures the time from the launch moto recorded to the first explicit deny, once', async () => {
    // Prepare
    refuseAsIamWould = true

    // Act
    const first = runAt(new Date(Date.now() + 2 * 60_000))
    const firstDecision = await first.decision
    const second = runAt(new Date(Date.now() + 3 * 60_000))

    // Assess
    expect(firstDecision).toMatchObject({ verdict: 'holds', lockHolds: 1 })
    expect(firstDecision.timeToLockSeconds).toBeGreaterThanOrEqual(115)
    expect(firstDecision.timeToLockSeconds).toBeLessThan(180)
    const measured = await ssm.send(new GetParameterCommand({ Name: CANARY_MEASUREMENT_PARAMETER }))
    expect(JSON.parse(measured.Parameter?.Value ?? '{}')).toMatchObject({ instanceId })
    expect((await second.decision).timeToLockSeconds).toBeUndefined()
    expect(second.published()).toEqual({ CanaryLockHolds: 1, CanaryOwnCallsWork: 1 })
  })
})
