/**
 * Which records of an SQS batch the reconcile engine sends back when a role fails: every record that reaches
 * the failed role and only those, an address change only when the role has an opted-in instance, an event
 * naming several instances, a record failed both permanently and transiently (retried, not parked), and every
 * record when EC2 cannot be read.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { describe, expect, it } from 'vitest'
import {
  associateAddress,
  disassociateAddress,
  scheduled,
  sqsBatch,
  stateChange,
  tagChange,
} from '../support/events.js'
import { batchRunner } from '../support/mocked-batch.js'
import {
  ACCOUNT,
  accessDenied,
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  QUEUE,
  REGION,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const JESSICA = 'i-0a1b2c3d4e5f60002'
const GHOST = 'i-0a1b2c3d4e5f60003'
const ROLES = ['web', 'batch', 'old']

const { lockedWorld } = batchRunner(aws)

describe('which records a failure sends back', () => {
  /** Luke is locked on `web`; `old` still names Ghost, who is gone, so `old` needs a tombstone write. */
  async function worldWithStaleRole() {
    const before = { roles: ROLES, instances: [ec2Instance(GHOST, 'old', { PublicIpAddress: '54.0.0.3' })] }
    const policies = await lockedWorld(before, stateChange(GHOST, 'running'))
    return { roles: ROLES, instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' })], policies }
  }

  const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })

  it('sends back every record that reaches the failed role, and only those', async () => {
    // Prepare: writing `old` fails; Luke's event reaches only `web`.
    const world = await worldWithStaleRole()
    serveWorld(aws, world)
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'old' }).rejects(throttled())
    const { handler } = mockedHandler()
    const events = [
      stateChange(LUKE, 'running'),
      scheduled(),
      associateAddress({ networkInterfaceId: 'eni-0123456789abcdef0' }, 'eipalloc-1'),
      stateChange(JESSICA, 'terminated'),
    ]
    const batch = sqsBatch(events, QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess: the schedule reaches every role, the interface rides on every role, Jessica's old role is unknown.
    const ids = batch.Records.map((record) => record.messageId)
    expect(response?.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      ids.slice(1).sort(),
    )
  })

  it('sends back an address change when a role with an opted-in instance fails', async () => {
    // Prepare
    serveWorld(aws, { roles: ROLES, instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' })] })
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'web' }).rejects(throttled())
    const { handler } = mockedHandler()
    const batch = sqsBatch([disassociateAddress('eipassoc-0f1e2d3c4b5a69788')], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
  })

  it('does not send back an address change for a role whose instance is not opted in', async () => {
    // Prepare: Jessica's tag was removed; releasing her on `batch` fails. The address change is only a hint.
    const before = {
      roles: ROLES,
      instances: [ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' })],
    }
    const policies = await lockedWorld(before, stateChange(JESSICA, 'running'))
    serveWorld(aws, {
      roles: ROLES,
      instances: [ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2', Tags: [] })],
      policies,
    })
    aws.iam.on(DeleteRolePolicyCommand, { RoleName: 'batch' }).rejects(throttled())
    const { handler, lines, metrics } = mockedHandler()
    const batch = sqsBatch(
      [disassociateAddress('eipassoc-0f1e2d3c4b5a69788'), tagChange(JESSICA, {}, ['credential-lock'])],
      QUEUE,
    )

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[1]?.messageId }] })
    expect(lines.filter((line) => line.message === 'lock decision')).toHaveLength(0)
    expect(
      lines.filter((line) => line.message === 'role reconcile failed').map((line) => line.fields.roleName),
    ).toEqual(['batch'])
    expect(metrics.addMetric).toHaveBeenCalledWith('Failures', 'Count', 1)
  })

  it('sends back an event naming several instances when the role of any of them fails', async () => {
    // Prepare
    serveWorld(aws, {
      roles: ROLES,
      instances: [
        ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' }),
      ],
    })
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'batch' }).rejects(throttled())
    const { handler } = mockedHandler()
    const both = tagChange(LUKE, { 'credential-lock': 'enabled' }, ['credential-lock'])
    both.resources = [LUKE, JESSICA].map((id) => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`)
    const batch = sqsBatch([both], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
  })

  it('retries, and does not park, a record that failed permanently on one role and transiently on another', async () => {
    // Prepare
    const world = await worldWithStaleRole()
    serveWorld(aws, world)
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'old' }).rejects(throttled())
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'web' }).rejects(accessDenied())
    const { handler } = mockedHandler()
    const batch = sqsBatch([scheduled()], QUEUE)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
  })

  it('sends back every record, logging their IDs, when EC2 cannot be read', async () => {
    // Prepare
    serveWorld(aws, { roles: ROLES, instances: [] })
    aws.ec2.on(DescribeInstancesCommand).rejects(new Error('Service Unavailable'))
    const { handler, lines, metrics } = mockedHandler()
    const batch = sqsBatch([stateChange(LUKE, 'running'), stateChange(JESSICA, 'running')], QUEUE)
    const ids = batch.Records.map((record) => record.messageId)

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) })
    expect(lines).toContainEqual({
      level: 'ERROR',
      message: 'record failed',
      fields: { error: expect.objectContaining({ message: 'Service Unavailable' }), recordIds: ids },
    })
    expect(metrics.addMetric).toHaveBeenCalledWith('Failures', 'Count', 2)
  })
})
