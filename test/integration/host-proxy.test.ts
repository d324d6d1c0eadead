/**
 * The metadata proxy against moto's STS: the credentials the AWS SDK's own IMDS provider reads through the
 * proxy are the locked session, and the session policy the proxy sent gives the IAM verdicts of a lock (allowed
 * from the host's addresses and its own VPC's endpoints, refused from elsewhere, from a second VPC, and for
 * sts:AssumeRole on the role). Then the program as a user starts it: the package's bin and `npx tsx`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { type AssumeRoleCommand, type AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts'
import { fromInstanceMetadata } from '@smithy/credential-provider-imds'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { type AddressStandIn, startAddressStandIn } from '../support/address-stand-in.js'
import {
  CREDENTIALS_PATH,
  HOST_EGRESS_IP,
  INSTANCE_ROLE_ARN,
  imdsToken,
  type ProxyScene,
  startProxyScene,
} from '../support/host-proxy-harness.js'
import { type ImdsStandIn, STAND_IN_INSTANCE, startImdsStandIn } from '../support/imds-stand-in.js'
import { type FunctionSession, sessionFromIp, sessionThroughEndpoint } from '../support/lambda-session.js'
import { useMotoAccount } from '../support/moto.js'
import { ALLOW_ALL, type ApiCall, GET_OBJECT, verdict } from '../support/simulate.js'

const THIEF_IP = '192.0.2.66'
const SECOND_VPC = 'vpc-0f1f2f3f4f5f6f7f8'
const ASSUME_OWN_ROLE: ApiCall = { action: 'sts:AssumeRole', resource: INSTANCE_ROLE_ARN }
const LOCKED_SESSION: FunctionSession = {
  accountId: STAND_IN_INSTANCE.accountId,
  roleName: STAND_IN_INSTANCE.roleName,
  sessionName: STAND_IN_INSTANCE.instanceId,
}

/** moto's STS, keeping every AssumeRole it was sent. */
function recordingMotoSts(): { sts: STSClient; sent: AssumeRoleCommand['input'][] } {
  const sts = new STSClient({
    endpoint: inject('motoEndpoint'),
    region: STAND_IN_INSTANCE.region,
    credentials: { accessKeyId: 'ASIARAWINSTANCEROLE1', secretAccessKey: 'raw-secret', sessionToken: 'raw' },
  })
  useMotoAccount(sts, STAND_IN_INSTANCE.accountId)
  const sent: AssumeRoleCommand['input'][] = []
  const send = sts.send.bind(sts) as (command: AssumeRoleCommand) => Promise<AssumeRoleCommandOutput>
  Object.assign(sts, {
    send: (command: AssumeRoleCommand) => {
      sent.push(command.input)
      return send(command)
    },
  })
  return { sts, sent }
}

describe('the credentials the SDK reads through the proxy', () => {
  let scene: ProxyScene
  let sent: AssumeRoleCommand['input'][]

  beforeAll(async () => {
    const moto = recordingMotoSts()
    sent = moto.sent
    scene = await startProxyScene({ sts: moto.sts })
  })
  afterAll(() => scene.close())

  it("are the locked session moto issued, read by the SDK's IMDS provider (token, role listing, document)", async () => {
    // Prepare
    const provider = fromInstanceMetadata({ timeout: 2_000, maxRetries: 0 })
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = scene.proxy.url

    // Act
    const credentials = await provider().finally(() => {
      delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT
    })
    const served = await scene.proxy.instanceKeeper.current()

    // Assess
    expect(served.kind).toBe('locked')
    expect(credentials.accessKeyId).toBe(served.kind === 'locked' ? served.credentials.accessKeyId : 'none')
    expect(credentials.accessKeyId).not.toBe('ASIARAWINSTANCEROLE1')
    expect(sent.at(-1)).toMatchObject({
      RoleArn: INSTANCE_ROLE_ARN,
      RoleSessionName: STAND_IN_INSTANCE.instanceId,
      DurationSeconds: 3_600,
    })
  })

  it.each([
    ['from the egress address the look-up saw', HOST_EGRESS_IP],
    ["from the instance's public IPv4", '203.0.113.10'],
    ["from the instance's IPv6 address", '2001:db8:1234::10'],
  ])('are allowed %s', async (_, ip) => {
    // Prepare
    const sessionPolicy = sent.at(-1)?.Policy ?? ''

    // Act
    const answer = await verdict([ALLOW_ALL], sessionFromIp(LOCKED_SESSION, ip, GET_OBJECT), {
      sessionPolicy,
    })

    // Assess
    expect(answer).toBe('Allowed')
  })

  it("are allowed through the host's own VPC's endpoints, refused through a second VPC's", async () => {
    // Prepare
    const sessionPolicy = sent.at(-1)?.Policy ?? ''
    const own = { vpc: STAND_IN_INSTANCE.vpcId, privateIp: STAND_IN_INSTANCE.privateIpv4 }
    const second = { vpc: SECOND_VPC, privateIp: '10.9.0.5' }

    // Act
    const throughOwn = await verdict([ALLOW_ALL], sessionThroughEndpoint(LOCKED_SESSION, own, GET_OBJECT), {
      sessionPolicy,
    })
    const throughSecond = await verdict(
      [ALLOW_ALL],
      sessionThroughEndpoint(LOCKED_SESSION, second, GET_OBJECT),
      {
        sessionPolicy,
      },
    )

    // Assess
    expect([throughOwn, throughSecond]).toEqual(['Allowed', 'ExplicitlyDenied'])
  })

  it('are refused from anywhere else, and may not assume the role again to shed the lock', async () => {
    // Prepare
    const sessionPolicy = sent.at(-1)?.Policy ?? ''

    // Act
    const fromThief = await verdict([ALLOW_ALL], sessionFromIp(LOCKED_SESSION, THIEF_IP, GET_OBJECT), {
      sessionPolicy,
    })
    const reassume = await verdict(
      [ALLOW_ALL],
      sessionFromIp(LOCKED_SESSION, HOST_EGRESS_IP, ASSUME_OWN_ROLE),
      {
        sessionPolicy,
      },
    )

    // Assess
    expect([fromThief, reassume]).toEqual(['ExplicitlyDenied', 'ExplicitlyDenied'])
  })
})

describe('the program as a user starts it', () => {
  let imds: ImdsStandIn
  let address: AddressStandIn
  let child: ChildProcess | undefined

  beforeAll(async () => {
    imds = await startImdsStandIn()
    address = await startAddressStandIn(HOST_EGRESS_IP)
  })
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  })
  afterAll(async () => {
    await imds.close()
    await address.close()
  })

  it.each([
    ['the package bin', ['npx', '--no-install', 'credential-lock-metadata-proxy']],
    ['npx tsx on the entry', ['npx', 'tsx', 'handlers/host-proxy/metadata-proxy.ts']],
  ])('serves locked credentials when started as %s, and logs one JSON line per start', async (_, command) => {
    // Prepare
    const [program = '', ...args] = command
    child = spawn(
      program,
      [
        ...args,
        '--listen',
        '127.0.0.1:0',
        '--imds',
        imds.url,
        '--address-url',
        address.url,
        '--failure',
        'closed',
      ],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: inject('motoEndpoint'),
          AWS_REGION: STAND_IN_INSTANCE.region,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )

    // Act
    const lines = await linesUntil(child, (line) => line.message === 'Metadata proxy listening')
    const url = String(lines.at(-1)?.url)
    const token = await imdsToken(url)
    const document = (await (
      await fetch(`${url}${CREDENTIALS_PATH}`, { headers: { 'x-aws-ec2-metadata-token': token } })
    ).json()) as Record<string, string>

    // Assess
    expect(lines.map((line) => line.message)).toEqual([
      'Credentials locked to this host',
      'Metadata proxy listening',
    ])
    expect(document).toMatchObject({
      Code: 'Success',
      Type: 'AWS-HMAC',
      AccessKeyId: expect.stringMatching(/^ASIA/),
    })
    expect(document.AccessKeyId).not.toBe('ASIARAWINSTANCEROLE1')
  })
})

/** The JSON lines a child writes on stdout, up to and including the first that `done` accepts. */
async function linesUntil(
  child: ChildProcess,
  done: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = []
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  for await (const text of reader) {
    const line = JSON.parse(text) as Record<string, unknown>
    lines.push(line)
    if (done(line)) break
  }
  return lines
}
