/**
 * The controller's Lambda entry (handlers/controller/lambda.ts) on an SQS batch or a direct event, over mocked
 * AWS clients: what it locks and skips, which records it fails, parks in the dead-letter queue or retries, input
 * no EventBridge rule would send, and a tagged role scope that IAM enforces.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  DeleteRolePolicyCommand,
  GetRolePolicyCommand,
  IAMClient,
  LimitExceededException,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda'
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { type ControllerConfig, readConfig } from '../../handlers/aws/config.js'
import { createHandler } from '../../handlers/controller/lambda.js'
import { readLock } from '../../policy/lock/index.js'
import { sqsBatch, stateChange } from '../support/events.js'

const ec2 = mockClient(EC2Client)
const iam = mockClient(IAMClient)
const events = mockClient(EventBridgeClient)
const sqs = mockClient(SQSClient)
const lambda = mockClient(LambdaClient)
const DEAD_LETTER_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/credential-lock-dlq.fifo'
const CONTEXT = { invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:credential-lock' }
const QUEUE = {
  queueArn: 'arn:aws:sqs:us-east-1:123456789012:credential-lock.fifo',
  messageGroupId: 'credential-lock',
}
const POLICY = 'credential-lock-us-east-1'
const LUKE = 'i-0a1b2c3d4e5f60001'
const JESSICA = 'i-0a1b2c3d4e5f60002'

const profile = (role: string) => ({
  Arn: `arn:aws:iam::123456789012:instance-profile/${role}`,
  InstanceProfileName: role,
  InstanceProfileId: 'AIPA',
  Path: '/',
  CreateDate: new Date(),
  Roles: [{ RoleName: role, Arn: '', RoleId: '', Path: '/', CreateDate: new Date() }],
})

const instance = (id: string, role: string, publicIp: string): Instance => ({
  InstanceId: id,
  State: { Name: 'running' },
  IamInstanceProfile: { Arn: profile(role).Arn },
  Tags: [{ Key: 'credential-lock', Value: 'enabled' }],
  PublicIpAddress: publicIp,
  PrivateIpAddress: '10.0.1.10',
  SubnetId: 'subnet-1',
  VpcId: 'vpc-1',
})

function recorder() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = []
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields })
  const logger = { info: at('INFO'), warn: at('WARN'), error: at('ERROR') } as unknown as Logger
  const metrics = { addMetric: vi.fn(), publishStoredMetrics: vi.fn() }
  return { lines, logger, metrics }
}

function controller(
  overrides: Partial<ControllerConfig> = {},
  deadLetterQueueUrl: string | undefined = DEAD_LETTER_QUEUE,
) {
  const { lines, logger, metrics } = recorder()
  const config: ControllerConfig = { ...readConfig({ AWS_REGION: 'us-east-1' }), ...overrides }
  const handler = createHandler({
    ec2: new EC2Client({ region: 'us-east-1' }),
    iam: new IAMClient({ region: 'us-east-1' }),
    lambda: new LambdaClient({ region: 'us-east-1' }),
    events: new EventBridgeClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    deadLetterQueueUrl,
    logger,
    metrics: metrics as unknown as Metrics,
    config,
    now: () => new Date('2026-11-25T12:00:00Z'),
  })
  return { handler, lines, metrics }
}

const MANAGED_ARN = 'arn:aws:iam::123456789012:policy/credential-lock/us-east-1/web-1'
const noSuchEntity = () => new NoSuchEntityException({ message: 'not found', $metadata: {} })

beforeEach(() => {
  for (const mock of [ec2, iam, events, sqs, lambda]) mock.reset()
  lambda.on(ListFunctionsCommand).resolves({ Functions: [] })
  iam.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('web'), profile('batch')] })
  iam.on(GetRolePolicyCommand).rejects(noSuchEntity())
  iam.on(ListPoliciesCommand).resolves({ Policies: [] })
  iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] })
  iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] })
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      { Instances: [instance(LUKE, 'web', '54.0.0.1'), instance(JESSICA, 'batch', '54.0.0.2')] },
    ],
  })
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] })
  ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] })
})

describe('an SQS batch or a direct event: what is locked, failed, parked, retried and logged', () => {
  it('skips a malformed record and still locks the role of the valid one', async () => {
    // Prepare
    const { handler, lines } = controller()
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)
    const valid = batch.Records[0]
    if (!valid) throw new Error('no record')
    batch.Records.push({ ...valid, messageId: 'garbage', body: '{"not":"an event"' })

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(1)
    expect(iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input).toMatchObject({
      RoleName: 'web',
      PolicyName: POLICY,
    })
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'event skipped',
        fields: expect.objectContaining({ recordId: 'garbage' }),
      }),
    )
  })

  it('fails only the records whose role failed', async () => {
    // Prepare
    const { handler, lines } = controller()
    iam.on(PutRolePolicyCommand, { RoleName: 'batch' }).rejects(new Error('Rate exceeded'))
    const batch = sqsBatch([stateChange(LUKE, 'running'), stateChange(JESSICA, 'running')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[1]?.messageId }] })
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'role reconcile failed' }),
    )
  })

  it('names the missing permission and parks the record in the dead-letter queue at once', async () => {
    // Prepare: no retry can cure a missing permission, and retrying would hold up the FIFO group.
    const { handler, lines } = controller()
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDenied' })
    iam.on(PutRolePolicyCommand).rejects(denied)
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    const failure = lines.find((line) => line.message === 'role reconcile failed')
    expect(String((failure?.fields.error as Error | undefined)?.message)).toMatch(
      /not allowed to call iam:PutRolePolicy on role web/,
    )
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: DEAD_LETTER_QUEUE,
      MessageBody: batch.Records[0]?.body,
      MessageGroupId: 'credential-lock',
      MessageAttributes: { error: { StringValue: expect.stringMatching(/^MissingPermissionError: /) } },
    })
  })

  it.each([
    ['no dead-letter queue is configured', undefined],
    ['the dead-letter queue refuses it', DEAD_LETTER_QUEUE],
  ])('retries a permanently failing record when %s, so it is never lost', async (_, deadLetterQueueUrl) => {
    // Prepare
    const { handler } = controller({}, deadLetterQueueUrl)
    iam.on(PutRolePolicyCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }))
    sqs.on(SendMessageCommand).rejects(new Error('queue deleted'))
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
  })

  it("reads the role's budget only when IAM refuses the size, then spills into a managed policy of its own", async () => {
    // Prepare: the role's own inline policy leaves about 400 characters.
    const { handler } = controller()
    iam
      .on(PutRolePolicyCommand, { RoleName: 'web' })
      .rejectsOnce(
        new LimitExceededException({ message: 'Maximum policy size of 10240 bytes exceeded', $metadata: {} }),
      )
      .resolves({})
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['app', POLICY] })
    iam.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'app' }).resolves({
      RoleName: 'web',
      PolicyName: 'app',
      PolicyDocument: encodeURIComponent(JSON.stringify({ Statement: [{ Sid: 'x'.repeat(9_800) }] })),
    })
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] })
    iam.on(CreatePolicyCommand).resolves({ Policy: { Arn: MANAGED_ARN } })

    // Act
    const response = await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(response?.batchItemFailures).toHaveLength(0)
    expect(iam.commandCalls(ListRolePoliciesCommand)).toHaveLength(1)
    expect(iam.commandCalls(CreatePolicyCommand)[0]?.args[0].input).toMatchObject({
      PolicyName: 'web-1',
      Path: '/credential-lock/us-east-1/',
    })
    expect(iam.commandCalls(AttachRolePolicyCommand)[0]?.args[0].input).toEqual({
      RoleName: 'web',
      PolicyArn: MANAGED_ARN,
    })
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
  })

  it("says so, counts it and never retries when an opted-in instance cannot fit the role's budget", async () => {
    // Prepare: the role's own policies leave no room, inline or managed.
    const { handler, lines, metrics } = controller()
    iam
      .on(PutRolePolicyCommand, { RoleName: 'web' })
      .rejects(new LimitExceededException({ message: 'Maximum policy size exceeded', $metadata: {} }))
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['app'] })
    iam.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'app' }).resolves({
      RoleName: 'web',
      PolicyName: 'app',
      PolicyDocument: encodeURIComponent(JSON.stringify({ Statement: [{ Sid: 'x'.repeat(10_100) }] })),
    })
    iam.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: Array.from({ length: 10 }, (_, n) => ({
        PolicyArn: `arn:aws:iam::aws:policy/P${n}`,
      })),
    })

    // Act
    const response = await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(metrics.addMetric).toHaveBeenCalledWith('InstancesUnprotected', 'Count', 1)
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'lock decision',
        fields: expect.objectContaining({
          roleName: 'web',
          instances: [expect.objectContaining({ instanceId: LUKE, outcome: 'unprotected' })],
        }),
      }),
    )
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
  })

  it('writes nothing in dry-run mode, but logs the decision it would take', async () => {
    // Prepare
    const { handler, lines } = controller({ dryRun: true })

    // Act
    await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0)
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'lock decision',
        fields: expect.objectContaining({ action: 'put', dryRun: true }),
      }),
    )
  })

  it('makes no write and publishes no audit event when the lock is already right', async () => {
    // Prepare: a first run writes the lock; the mock then serves it back.
    const { handler } = controller()
    await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)
    const written = iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input.PolicyDocument
    iam.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: POLICY }).resolves({
      RoleName: 'web',
      PolicyName: POLICY,
      PolicyDocument: encodeURIComponent(written ?? ''),
    })
    iam.resetHistory()
    events.resetHistory()

    // Act: a duplicate delivery of the same event.
    await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(readLock(written).locked).toEqual(new Set([LUKE]))
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0)
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0)
  })

  it('keeps the lock when publishing the audit event fails', async () => {
    // Prepare
    const { handler, lines } = controller()
    events.on(PutEventsCommand).rejects(new Error('bus gone'))

    // Act
    const response = await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(1)
    expect(lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'audit publish failed' }))
  })

  it('throws on a direct invocation it could not reconcile, so Lambda retries it', async () => {
    // Prepare
    const { handler } = controller()
    ec2.on(DescribeInstancesCommand).rejects(new Error('Service Unavailable'))

    // Act
    const invoke = handler(stateChange(LUKE, 'running'), CONTEXT)

    // Assess
    await expect(invoke).rejects.toThrowError(expect.objectContaining({ name: 'ReconcileFailedError' }))
  })

  it('resolves an Elastic IP associated by network interface to its instance', async () => {
    // Prepare
    const { handler } = controller()
    ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [{ Attachment: { InstanceId: LUKE } }] })
    const { associateAddress } = await import('../support/events.js')

    // Act
    await handler(associateAddress({ networkInterfaceId: 'eni-0123456789abcdef0' }, 'eipalloc-1'), CONTEXT)

    // Assess
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(1)
    expect(
      iam
        .commandCalls(PutRolePolicyCommand)
        .map((call) => call.args[0].input.RoleName)
        .sort(),
    ).toEqual(['batch', 'web'])
  })
})

describe('input no EventBridge rule would send: skipped or refused before any AWS call', () => {
  it('logs a null direct event as a malformed skip and changes nothing', async () => {
    // Prepare
    const { handler, lines } = controller()

    // Act
    const response = await handler(null, CONTEXT)

    // Assess
    expect(response).toBeUndefined()
    expect(iam.calls()).toHaveLength(0)
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'event skipped',
        fields: expect.objectContaining({ recordId: 'direct', detailType: 'unknown' }),
      }),
    )
  })

  it.each([
    ['no context', undefined],
    ['a context without a function ARN', {}],
    ['a function ARN that is not one', { invokedFunctionArn: 'credential-lock' }],
  ])('refuses %s with its own ConfigError, before any AWS call', async (_, context) => {
    // Prepare
    const { handler } = controller()

    // Act
    const invoke = handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), context)

    // Assess
    await expect(invoke).rejects.toThrowError(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/invokedFunctionArn/) }),
    )
    expect(iam.calls()).toHaveLength(0)
  })

  it('skips a record whose body is not JSON with a warning that keeps its id and detail-type', async () => {
    // Prepare: an event cut short in transit, so it no longer parses.
    const { handler, lines } = controller()
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)
    const record = batch.Records[0]
    if (!record) throw new Error('no record')
    const event = JSON.parse(record.body) as { id: string; 'detail-type': string }
    record.body = record.body.slice(0, record.body.indexOf('"detail"'))

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'event skipped',
        fields: expect.objectContaining({
          recordId: record.messageId,
          eventId: event.id,
          detailType: event['detail-type'],
        }),
      }),
    )
  })

  it('skips a JSON event without detail with a warning that keeps its detail-type', async () => {
    // Prepare
    const { handler, lines } = controller()
    const { detail: _, ...withoutDetail } = stateChange(LUKE, 'running')

    // Act
    const response = await handler(withoutDetail, CONTEXT)

    // Assess
    expect(response).toBeUndefined()
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'event skipped',
        fields: expect.objectContaining({ detailType: 'EC2 Instance State-change Notification' }),
      }),
    )
  })
})

describe('role scope tagged: IAM keeps the controller off untagged roles', () => {
  const TAGGED = { kind: 'tagged', tag: { key: 'credential-lock-managed', value: 'true' } } as const
  const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' })

  it('skips a role IAM refuses to write, with the reason and a metric, and fails no record', async () => {
    // Prepare: web is untagged, batch is tagged
    const { handler, lines, metrics } = controller({ roleScope: TAGGED })
    iam.on(PutRolePolicyCommand, { RoleName: 'web' }).rejects(denied())
    const batch = sqsBatch([stateChange(LUKE, 'running'), stateChange(JESSICA, 'running')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'INFO',
        message: 'lock decision',
        fields: expect.objectContaining({
          roleName: 'web',
          action: 'skipped',
          reason:
            'role web is out of scope: tag it credential-lock-managed=true to let credential-lock lock it',
        }),
      }),
    )
    expect(lines).toContainEqual(
      expect.objectContaining({ fields: expect.objectContaining({ roleName: 'batch', action: 'put' }) }),
    )
    expect(metrics.addMetric).toHaveBeenCalledWith('RolesOutOfScope', 'Count', 1)
    expect(metrics.addMetric).not.toHaveBeenCalledWith('Failures', expect.anything(), expect.anything())
  })

  it('skips removing a lock from a role that lost its scope tag', async () => {
    // Prepare: Luke opted out, and his role's tag was removed after it was locked
    const { handler, lines } = controller({ roleScope: TAGGED })
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ ...instance(LUKE, 'web', '54.0.0.1'), Tags: [] }] }],
    })
    const lock = { Version: '2012-10-17', Statement: [] }
    iam
      .on(GetRolePolicyCommand, { RoleName: 'web' })
      .resolves({ RoleName: 'web', PolicyName: POLICY, PolicyDocument: JSON.stringify(lock) })
    iam.on(DeleteRolePolicyCommand).rejects(denied())

    // Act
    const response = await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(1)
    expect(lines).toContainEqual(
      expect.objectContaining({ fields: expect.objectContaining({ roleName: 'web', action: 'skipped' }) }),
    )
  })

  it('still fails and parks the record when a read is refused: that is a missing permission, not scope', async () => {
    // Prepare
    const { handler } = controller({ roleScope: TAGGED })
    iam.on(GetRolePolicyCommand).rejects(denied())

    // Act
    const response = await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes).toMatchObject({
      error: { StringValue: expect.stringMatching(/^MissingPermissionError: .*iam:GetRolePolicy/) },
    })
  })
})
