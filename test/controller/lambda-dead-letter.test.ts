/**
 * The Lambda entry's failure handling over mocked AWS: which record is parked in the dead-letter queue and
 * with what, what happens without a dead-letter queue or when it refuses, a
 * direct invocation whose only failure is permanent, and the function ARN the scope comes from.
 */
import { PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { beforeEach, describe, expect, it } from 'vitest'
import { sqsBatch, stateChange, tagChange } from '../support/events.js'
import {
  accessDenied,
  CONTEXT,
  DEAD_LETTER_QUEUE,
  ec2Instance,
  mockAws,
  mockedHandler,
  QUEUE,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const JESSICA = 'i-0a1b2c3d4e5f60002'

beforeEach(() =>
  serveWorld(aws, {
    roles: ['web', 'batch'],
    instances: [
      ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
      ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' }),
    ],
  }),
)

describe('an SQS batch with a record no retry can help', () => {
  it('parks exactly that record, with its own body, ID and reason, and retries nothing', async () => {
    // Prepare: the controller may not write to `batch`, the role of the second record's instance.
    const { handler, lines } = mockedHandler()
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'batch' }).rejects(accessDenied())
    const batch = sqsBatch([stateChange(LUKE, 'running'), stateChange(JESSICA, 'running')], QUEUE)
    const failing = batch.Records[1]

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    const parked = aws.sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)
    expect(parked).toEqual([
      expect.objectContaining({
        QueueUrl: DEAD_LETTER_QUEUE,
        MessageBody: failing?.body,
        MessageDeduplicationId: failing?.messageId,
        MessageAttributes: {
          error: {
            DataType: 'String',
            StringValue:
              'MissingPermissionError: The controller is not allowed to call iam:PutRolePolicy on role batch: ' +
              "grant it in the controller's role (infra/credential-lock.ts lists every action it needs).",
          },
        },
      }),
    ])
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'record parked in dead-letter queue',
        fields: expect.objectContaining({ recordId: failing?.messageId }),
      }),
    )
  })

  it('cuts the reason it attaches to the 1,000 characters a message attribute is given', async () => {
    // Prepare: EC2 reports an address no lock can be written for; the error quotes all of it.
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(LUKE, 'web', { PrivateIpAddress: `10.0.1.${'9'.repeat(1_200)}` })],
    })
    const { handler } = mockedHandler()

    // Act
    await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    const reason =
      aws.sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes?.error?.StringValue
    expect(reason).toHaveLength(1_000)
    expect(reason).toMatch(/^InvalidFactsError: Private address of i-0a1b2c3d4e5f60001 "10\.0\.1\.999/)
  })

  it('retries the record without trying to park it when no dead-letter queue is set', async () => {
    // Prepare
    const { handler } = mockedHandler({ deadLetterQueueUrl: undefined })
    aws.iam.on(PutRolePolicyCommand).rejects(accessDenied())
    aws.sqs.on(SendMessageCommand).resolves({ MessageId: 'parked' })
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
  })

  it('retries the record and logs why when the dead-letter queue refuses it', async () => {
    // Prepare
    const { handler, lines } = mockedHandler()
    aws.iam.on(PutRolePolicyCommand).rejects(accessDenied())
    aws.sqs.on(SendMessageCommand).rejects(new Error('queue deleted'))
    const batch = sqsBatch([stateChange(LUKE, 'running')], QUEUE)
    const recordId = batch.Records[0]?.messageId

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: recordId }] })
    expect(lines).toContainEqual({
      level: 'ERROR',
      message: 'record failed',
      fields: { recordId, error: expect.objectContaining({ message: 'queue deleted' }) },
    })
  })

  it('publishes its metrics once per invocation', async () => {
    // Prepare
    const { handler, metrics } = mockedHandler()

    // Act
    await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1)
  })
})

describe('a malformed record in an SQS batch', () => {
  it('is skipped while the rest of the batch is reconciled, even when its fields have the wrong types', async () => {
    // Prepare: a tag change whose resources is one ARN string instead of a list.
    const { handler, lines } = mockedHandler()
    const broken = {
      ...tagChange(JESSICA, { 'credential-lock': 'enabled' }, ['credential-lock']),
      resources: 'i-x',
    }
    const batch = sqsBatch(
      [stateChange(LUKE, 'running'), broken as unknown as ReturnType<typeof stateChange>],
      QUEUE,
    )

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(aws.iam.commandCalls(PutRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'web',
    ])
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'event skipped',
        fields: expect.objectContaining({ recordId: batch.Records[1]?.messageId, eventId: broken.id }),
      }),
    )
  })
})

describe('a directly invoked event', () => {
  it('fails, naming the event, when its only failure is permanent, and still publishes metrics', async () => {
    // Prepare: Lambda's own retries and on-failure destination take over from a thrown error.
    const { handler, metrics } = mockedHandler()
    aws.iam.on(PutRolePolicyCommand).rejects(accessDenied())
    const event = stateChange(LUKE, 'running')

    // Act
    const invoke = handler(event, CONTEXT)

    // Assess
    await expect(invoke).rejects.toThrowError(
      expect.objectContaining({
        name: 'ReconcileFailedError',
        message: `Event ${event.id} could not be reconciled: see the errors logged.`,
      }),
    )
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1)
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
  })

  it('without an id is skipped as malformed under the record ID "direct"', async () => {
    // Prepare
    const { handler, lines } = mockedHandler()
    const { id: _, ...withoutId } = stateChange(LUKE, 'running')

    // Act
    const result = await handler(withoutId, CONTEXT)

    // Assess
    expect(result).toBeUndefined()
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'event skipped',
        fields: expect.objectContaining({ recordId: 'direct', eventId: 'direct' }),
      }),
    )
  })
})

describe('the scope every instance ARN is built from', () => {
  it.each([
    ['no account', 'arn:aws:lambda:us-east-1::function:credential-lock'],
    ['no partition', 'arn::lambda:us-east-1:123456789012:function:credential-lock'],
  ])('a function ARN with %s is a configuration error that names the ARN', async (_, invokedFunctionArn) => {
    // Prepare
    const { handler } = mockedHandler()

    // Act
    const invoke = handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), { invokedFunctionArn })

    // Assess
    await expect(invoke).rejects.toThrowError(
      expect.objectContaining({
        name: 'ConfigError',
        message:
          `The Lambda context's invokedFunctionArn ("${invokedFunctionArn}") names no partition and account: ` +
          "invoke the controller through Lambda, or pass a context with the function's ARN.",
      }),
    )
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
  })

  it('a context without a function ARN is a configuration error that says the ARN is missing', async () => {
    // Prepare
    const { handler } = mockedHandler()

    // Act
    const invoke = handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), {})

    // Assess
    await expect(invoke).rejects.toThrowError(
      expect.objectContaining({
        name: 'ConfigError',
        message: expect.stringMatching(
          /^The Lambda context's invokedFunctionArn \(missing\) names no partition/,
        ),
      }),
    )
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
  })
})
