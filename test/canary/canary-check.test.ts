import { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import {
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2'
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { DecodeAuthorizationMessageCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { type CanaryConfig, parseCanaryValue, runCanary } from '../../handlers/canary/canary-check.js'

const CONFIG: CanaryConfig = {
  credentialsParameter: '/credential-lock/canary/credentials',
  measurementParameter: '/credential-lock/canary/time-to-lock',
  staleAfterMs: 15 * 60_000,
  timeToLockLimitMs: 5 * 60_000,
}
const INSTANCE_ID = 'i-0123456789abcdef0'
const LAUNCHED_AT = new Date('2026-12-07T03:00:00Z')
const NOW = new Date('2026-12-07T03:02:30Z')
const WRITTEN_RECENTLY = new Date('2026-12-07T03:01:00Z')

// Instance mocks: the Lambda's own EC2 client and the thief's must answer differently.
const clients = { ssm: new SSMClient({}), ec2: new EC2Client({}), sts: new STSClient({}) }
const ssm = mockClient(clients.ssm)
const ec2 = mockClient(clients.ec2)
const sts = mockClient(clients.sts)
const stolenEc2 = new EC2Client({})
const stolen = mockClient(stolenEc2)

/** What the instance's script writes: IMDS's credential document under `credentials`. */
function canaryValue(expiration = '2026-12-07T09:00:00Z'): string {
  return JSON.stringify({
    instanceId: INSTANCE_ID,
    credentials: {
      Code: 'Success',
      LastUpdated: '2026-12-07T03:00:40Z',
      Type: 'AWS-HMAC',
      AccessKeyId: 'ASIAEXAMPLECANARY',
      SecretAccessKey: 'secret',
      Token: 'token',
      Expiration: expiration,
    },
  })
}

function refusal(name: string, message: string): EC2ServiceException {
  return new EC2ServiceException({ name, message, $fault: 'client', $metadata: {} })
}

function givenParameter(writtenAt: Date, value = canaryValue()): void {
  ssm
    .on(GetParameterCommand, { Name: CONFIG.credentialsParameter, WithDecryption: true })
    .resolves({ Parameter: { Value: value, LastModifiedDate: writtenAt } })
}

/** The thief's call refused the way EC2 refuses it, with this message. */
function givenRefusal(message: string): void {
  stolen.on(DescribeRegionsCommand).rejects(refusal('UnauthorizedOperation', message))
}

function givenMeasured(instanceId: string | undefined): void {
  const call = ssm.on(GetParameterCommand, { Name: CONFIG.measurementParameter })
  if (instanceId === undefined) call.rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }))
  else call.resolves({ Parameter: { Value: JSON.stringify({ instanceId, timeToLockSeconds: 70 }) } })
}

function run() {
  const metrics = { addMetric: vi.fn(), publishStoredMetrics: vi.fn() }
  const logger = new Logger({ logLevel: 'SILENT' })
  const info = vi.spyOn(logger, 'info')
  const warn = vi.spyOn(logger, 'warn')
  const decision = runCanary({
    ...clients,
    ec2With: () => stolenEc2,
    logger,
    metrics: metrics as unknown as Metrics,
    config: CONFIG,
    now: () => NOW,
  })
  const published = () =>
    Object.fromEntries(metrics.addMetric.mock.calls.map(([name, , value]) => [name, value]))
  return { decision, published, info, warn, metrics }
}

beforeEach(() => {
  for (const mock of [ssm, ec2, sts, stolen]) mock.reset()
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] })
  ec2
    .on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [INSTANCE_ID] }] })
    .resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE_ID, LaunchTime: LAUNCHED_AT }] }] })
})

describe('stolen credentials refused by an explicit deny: the lock holds', () => {
  it('publishes CanaryLockHolds 1 and, on the first refusal of a new instance, the seconds since its launch', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured('i-0previousinstance0')
    givenRefusal(
      `You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/canary/${INSTANCE_ID} is not authorized to perform: ec2:DescribeRegions with an explicit deny in an identity-based policy`,
    )

    // Act
    const { decision, published, info } = run()

    // Assess
    expect(await decision).toMatchObject({ verdict: 'holds', lockHolds: 1, timeToLockSeconds: 150 })
    expect(published()).toEqual({ CanaryLockHolds: 1, CanaryOwnCallsWork: 1, CanaryTimeToLock: 150 })
    const remembered = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input
    expect(remembered).toMatchObject({ Name: CONFIG.measurementParameter, Type: 'String', Overwrite: true })
    expect(JSON.parse(remembered?.Value ?? '{}')).toEqual({
      measuredAt: NOW.toISOString(),
      instanceId: INSTANCE_ID,
      timeToLockSeconds: 150,
    })
    expect(info).toHaveBeenCalledWith('canary decision', expect.objectContaining({ verdict: 'holds' }))
  })

  it('measures an instance once: later refusals publish no time-to-lock', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(INSTANCE_ID)
    givenRefusal('with an explicit deny in an identity-based policy')

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).timeToLockSeconds).toBeUndefined()
    expect(published()).toEqual({ CanaryLockHolds: 1, CanaryOwnCallsWork: 1 })
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0)
  })

  it('decodes an encoded EC2 refusal with STS to tell an explicit deny apart', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(INSTANCE_ID)
    givenRefusal(
      'You are not authorized to perform this operation. Encoded authorization failure message: AbC-123',
    )
    sts
      .on(DecodeAuthorizationMessageCommand, { EncodedMessage: 'AbC-123' })
      .resolves({ DecodedMessage: JSON.stringify({ allowed: false, explicitDeny: true }) })

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('holds')
  })

  it('counts a refusal without an explicit deny as no proof: CanaryLockHolds 0', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(INSTANCE_ID)
    givenRefusal('because no identity-based policy allows the ec2:DescribeRegions action')

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).verdict).toBe('does-not-hold')
    expect(published().CanaryLockHolds).toBe(0)
  })
})

describe('stolen credentials that work from outside: the alarm metric', () => {
  it('publishes CanaryLockHolds 0 once the time-to-lock limit after launch has passed', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: INSTANCE_ID, LaunchTime: new Date('2026-12-07T02:50:00Z') }] },
      ],
    })
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(undefined)
    stolen.on(DescribeRegionsCommand).resolves({ Regions: [{ RegionName: 'eu-west-1' }] })

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).verdict).toBe('does-not-hold')
    expect(published()).toEqual({ CanaryLockHolds: 0, CanaryOwnCallsWork: 1 })
  })

  it('publishes CanaryLockHolds 0 at once when an instance already refused works again: the lock was lost', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(INSTANCE_ID)
    stolen.on(DescribeRegionsCommand).resolves({ Regions: [] })

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).reason).toMatch(/lock was lost/)
    expect(published().CanaryLockHolds).toBe(0)
  })

  it('publishes no lock verdict while a new instance is within the limit: the lock is still arriving', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured('i-0previousinstance0')
    stolen.on(DescribeRegionsCommand).resolves({ Regions: [] })

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).verdict).toBe('locking')
    expect(published()).toEqual({ CanaryOwnCallsWork: 1 })
  })
})

describe("the canary instance's own calls", () => {
  it('publishes CanaryOwnCallsWork 0 when the instance has not written its parameter for longer than the limit', async () => {
    // Prepare
    givenParameter(new Date('2026-12-07T02:40:00Z'))
    givenMeasured(INSTANCE_ID)
    givenRefusal('with an explicit deny')

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).verdict).toBe('holds')
    expect(published().CanaryOwnCallsWork).toBe(0)
  })

  it('publishes CanaryOwnCallsWork 0 and tries nothing when the parameter was never written', async () => {
    // Prepare
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }))

    // Act
    const { decision, published } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
    expect(published()).toEqual({ CanaryOwnCallsWork: 0 })
    expect(stolen.commandCalls(DescribeRegionsCommand)).toHaveLength(0)
  })

  it('tries nothing with expired credentials', async () => {
    // Prepare
    givenParameter(new Date('2026-12-07T03:01:00Z'), canaryValue('2026-12-07T03:00:00Z'))

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
    expect(stolen.commandCalls(DescribeRegionsCommand)).toHaveLength(0)
  })
})

describe('the parameter the instance writes', () => {
  it('reads IMDS credential fields and refuses anything else', () => {
    expect(parseCanaryValue(canaryValue())?.credentials).toMatchObject({
      accessKeyId: 'ASIAEXAMPLECANARY',
      sessionToken: 'token',
      expiration: new Date('2026-12-07T09:00:00Z'),
    })
    expect(parseCanaryValue('not json')).toBeUndefined()
    expect(
      parseCanaryValue(JSON.stringify({ instanceId: INSTANCE_ID, credentials: { AccessKeyId: 'x' } })),
    ).toBeUndefined()
  })
})

describe('what the canary cannot use', () => {
  it.each([
    ['not JSON', 'not json'],
    ['no instance id', JSON.stringify({ credentials: JSON.parse(canaryValue()).credentials })],
    ...['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'].map((field) => {
      const value = JSON.parse(canaryValue())
      value.credentials[field] = 7
      return [`a ${field} that is not text`, JSON.stringify(value)]
    }),
    ['an expiration that is no date', canaryValue().replace('2026-12-07T09:00:00Z', 'tomorrow')],
  ])('reads a parameter with %s as no credentials', (_, value) => {
    expect(parseCanaryValue(value)).toBeUndefined()
  })

  it('tries nothing and counts own calls as failing when the parameter holds no credentials, and says so', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY, 'not json')

    // Act
    const { decision, published, warn } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
    expect(published()).toEqual({ CanaryOwnCallsWork: 0 })
    expect(warn).toHaveBeenCalledWith('canary parameter unreadable', {
      parameter: CONFIG.credentialsParameter,
    })
    expect(stolen.commandCalls(DescribeRegionsCommand)).toHaveLength(0)
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0)
  })

  it('reads a parameter without a modification date as not written', async () => {
    // Prepare
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: canaryValue() } })

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
  })

  it('tries nothing with credentials that expire this very moment', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY, canaryValue(NOW.toISOString()))

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
  })

  it('counts credentials AWS no longer accepts (AuthFailure) as nothing tried', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    stolen
      .on(DescribeRegionsCommand)
      .rejects(refusal('AuthFailure', 'AWS was not able to validate the provided access credentials'))

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('untested')
  })

  it('fails the run on any other error (throttling, network), for the next run to try again', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    stolen.on(DescribeRegionsCommand).rejects(refusal('RequestLimitExceeded', 'Request limit exceeded.'))

    // Act / Assess
    await expect(run().decision).rejects.toThrow('Request limit exceeded.')
  })

  it('fails the run when SSM fails for another reason than a missing parameter', async () => {
    // Prepare
    ssm.on(GetParameterCommand).rejects(new Error('ThrottlingException'))

    // Act / Assess
    await expect(run().decision).rejects.toThrow('ThrottlingException')
  })

  it.each([
    ['says no explicit deny', JSON.stringify({ allowed: false, explicitDeny: false })],
    ['is not JSON', 'garbled'],
  ])('counts an encoded refusal whose decoded message %s as no proof', async (_, decoded) => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(INSTANCE_ID)
    givenRefusal(
      'You are not authorized to perform this operation. Encoded authorization failure message: AbC-123',
    )
    sts
      .on(DecodeAuthorizationMessageCommand, { EncodedMessage: 'AbC-123' })
      .resolves({ DecodedMessage: decoded })

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).verdict).toBe('does-not-hold')
  })
})

describe("the canary's memory of the measured instance", () => {
  it.each([
    ['not JSON', 'garbled'],
    ['no instance id', JSON.stringify({ timeToLockSeconds: 70 })],
  ])('reads a measurement that is %s as none, and measures again', async (_, value) => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    ssm
      .on(GetParameterCommand, { Name: CONFIG.measurementParameter })
      .resolves({ Parameter: { Value: value } })
    givenRefusal('with an explicit deny in an identity-based policy')

    // Act
    const { decision } = run()

    // Assess
    expect((await decision).timeToLockSeconds).toBe(150)
  })

  it('fails the run when the measurement cannot be read for another reason', async () => {
    // Prepare
    givenParameter(WRITTEN_RECENTLY)
    ssm
      .on(GetParameterCommand, { Name: CONFIG.measurementParameter })
      .rejects(new Error('AccessDeniedException'))
    givenRefusal('with an explicit deny in an identity-based policy')

    // Act / Assess
    await expect(run().decision).rejects.toThrow('AccessDeniedException')
  })

  it('reads the launch time of the instance named in the parameter only', async () => {
    // Prepare: EC2 does not know the instance
    ec2.reset()
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] })
    givenParameter(WRITTEN_RECENTLY)
    givenMeasured(undefined)
    givenRefusal('with an explicit deny in an identity-based policy')

    // Act
    const { decision } = run()

    // Assess: no launch time, so no measurement
    expect((await decision).timeToLockSeconds).toBeUndefined()
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'instance-id', Values: [INSTANCE_ID] }],
    })
  })
})
