/**
 * The reconcile engine (handlers/aws/reconciler.ts) through the Lambda handler over mocked AWS: which roles a
 * batch that mixes event kinds reaches, an opted-out instance a lock still names, the remove path, an instance
 * profile IAM did not list, what it reads, and the decision each role logs and publishes. Each outcome is judged
 * by the IAM verdict the role's policies give after the batch. Which records a failure sends back is in
 * reconciler-failures.test.ts.
 */
import { DescribeInstancesCommand, type Instance } from '@aws-sdk/client-ec2'
import { PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import type { SQSRecord } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { policyChars } from '../../policy/lock/index.js'
import {
  type AnyEventBridgeEvent,
  disassociateAddress,
  iamProfileAssociation,
  loadEvent,
  scheduled,
  sqsBatch,
  stateChange,
  tagChange,
} from '../support/events.js'
import { batchRunner } from '../support/mocked-batch.js'
import {
  ACCOUNT,
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  POLICY,
  profileArn,
  QUEUE,
  REGION,
  serveNatGateway,
  serveWorld,
} from '../support/mocked-controller.js'
import { ALLOW_ALL, fromPublicIp, type RolePolicy, type Verdict, verdict } from '../support/simulate.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const JESSICA = 'i-0a1b2c3d4e5f60002'
const GHOST = 'i-0a1b2c3d4e5f60003'
const THIEF_IP = '203.0.113.66'
const ROLES = ['web', 'batch', 'old']

const { runBatch, policiesAfter, lockedWorld } = batchRunner(aws)

/** The world after the changes: Luke on `web` at 54.0.0.1, Jessica on `batch` at 54.0.0.2, under `policies`. */
function lukeOnWebJessicaOnBatch(policies: Readonly<Record<string, string>>) {
  return {
    roles: ROLES,
    instances: [
      ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
      ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' }),
    ],
    policies,
  }
}

/** The verdict for `instanceId`'s credentials of `roleName`, used from `ip`, under the role's policies now. */
async function verdictFor(
  policies: ReadonlyMap<string, string | undefined>,
  roleName: string,
  instanceId: string,
  ip: string,
): Promise<Verdict> {
  const document = policies.get(roleName)
  const rolePolicies: RolePolicy[] = document ? [ALLOW_ALL, { name: POLICY, document }] : [ALLOW_ALL]
  const credentials = {
    accountId: ACCOUNT,
    region: REGION,
    roleName,
    instanceId,
    vpcId: 'vpc-1',
    privateIpv4: '10.0.1.10',
  }
  return verdict(rolePolicies, fromPublicIp(credentials, ip))
}

describe('a batch that mixes event kinds', () => {
  it('re-checks every locked role for an address change, not only the roles the other events name', async () => {
    // Prepare: Jessica's lock allows an Elastic IP that has since been disassociated from her.
    const before = {
      roles: ROLES,
      instances: [
        ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.9.9.9' }),
      ],
    }
    const policies = await lockedWorld(before, stateChange(JESSICA, 'running'))
    const now = lukeOnWebJessicaOnBatch(policies)

    // Act
    await runBatch(now, [stateChange(LUKE, 'running'), disassociateAddress('eipassoc-0f1e2d3c4b5a69788')])

    // Assess
    const after = policiesAfter(now)
    expect(await verdictFor(after, 'batch', JESSICA, '54.9.9.9')).toBe('ExplicitlyDenied')
    expect(await verdictFor(after, 'batch', JESSICA, '54.0.0.2')).toBe('Allowed')
  })

  it('tombstones the old role of a re-profiled instance even when the batch also names other roles', async () => {
    // Prepare: Jessica was locked on `old`, then her profile was replaced by `batch`.
    const before = { roles: ROLES, instances: [ec2Instance(JESSICA, 'old', { PublicIpAddress: '54.0.0.2' })] }
    const policies = await lockedWorld(before, stateChange(JESSICA, 'running'))
    const now = lukeOnWebJessicaOnBatch(policies)

    // Act
    await runBatch(now, [
      stateChange(LUKE, 'running'),
      iamProfileAssociation('replace', JESSICA, profileArn('batch')),
    ])

    // Assess: her old credentials are refused even from her own address; her new ones work there.
    const after = policiesAfter(now)
    expect(await verdictFor(after, 'old', JESSICA, '54.0.0.2')).toBe('ExplicitlyDenied')
    expect(await verdictFor(after, 'batch', JESSICA, '54.0.0.2')).toBe('Allowed')
  })
})

describe('an instance that opted out but is still named in a lock', () => {
  it('is read from EC2 and released, never tombstoned as if it were gone', async () => {
    // Prepare: Ghost and Luke share `web`; Ghost's tag is removed, and only Luke's event arrives.
    const ghost = (change: Partial<Instance>) =>
      ec2Instance(GHOST, 'web', { PublicIpAddress: '54.0.0.3', ...change })
    const before = {
      roles: ROLES,
      instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }), ghost({})],
    }
    const policies = await lockedWorld(before, stateChange(GHOST, 'running'))
    const now = { ...before, instances: [before.instances[0] as Instance, ghost({ Tags: [] })], policies }

    // Act
    await runBatch(now, [stateChange(LUKE, 'running')])

    // Assess
    const after = policiesAfter(now)
    expect(await verdictFor(after, 'web', GHOST, '54.0.0.3')).toBe('Allowed')
    expect(await verdictFor(after, 'web', LUKE, THIEF_IP)).toBe('ExplicitlyDenied')
  })
})

describe('a role left with no opted-in instance', () => {
  async function optedOut() {
    const before = { roles: ROLES, instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' })] }
    const policies = await lockedWorld(before, stateChange(LUKE, 'running'))
    return {
      roles: ROLES,
      instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1', Tags: [] })],
      policies,
    }
  }

  it("loses the controller's policy: the instance's credentials are no longer refused", async () => {
    // Prepare
    const now = await optedOut()

    // Act
    const { response } = await runBatch(now, [tagChange(LUKE, {}, ['credential-lock'])])

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input)).toEqual([
      { RoleName: 'web', PolicyName: POLICY },
    ])
    expect(await verdictFor(policiesAfter(now), 'web', LUKE, THIEF_IP)).toBe('Allowed')
  })

  it('keeps it in dry-run mode, logging the removal it would make', async () => {
    // Prepare
    const now = await optedOut()

    // Act
    const { lines } = await runBatch(now, [tagChange(LUKE, {}, ['credential-lock'])], true)

    // Assess
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0)
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'lock decision',
        fields: expect.objectContaining({ roleName: 'web', action: 'remove', dryRun: true }),
      }),
    )
  })
})

describe('an instance whose profile IAM did not list', () => {
  it('sends its record back for a retry, not to the dead-letter queue', async () => {
    // Prepare: the profile was created after the controller listed them.
    const world = { roles: ['web'], instances: [ec2Instance(LUKE, 'fresh', { PublicIpAddress: '54.0.0.1' })] }

    // Act
    const { response, batch } = await runBatch(world, [stateChange(LUKE, 'running')])

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] })
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
  })
})

describe('the decision each role logs and publishes for auditors', () => {
  it('names the role, the form, the size, the events and every instance outcome', async () => {
    // Prepare: Luke stays locked, Jessica is gone from EC2, Ghost opted out; only Luke's event arrives.
    const before = {
      roles: ROLES,
      instances: [LUKE, JESSICA, GHOST].map((id, n) =>
        ec2Instance(id, 'web', { PublicIpAddress: `54.0.0.${n + 1}` }),
      ),
    }
    const policies = await lockedWorld(before, stateChange(LUKE, 'running'))
    const now = {
      roles: ROLES,
      instances: [
        ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(GHOST, 'web', { PublicIpAddress: '54.0.0.3', Tags: [] }),
      ],
      policies,
    }
    const event = stateChange(LUKE, 'running')

    // Act
    const { lines } = await runBatch(now, [event])

    // Assess
    const written = policiesAfter(now).get('web') ?? ''
    const audit = aws.events
      .commandCalls(PutEventsCommand)
      .map((call) => JSON.parse(call.args[0].input.Entries?.[0]?.Detail ?? ''))
    const expected = {
      roleName: 'web',
      action: 'put',
      form: 'precise',
      policyChars: policyChars(written),
      managedPolicies: 0,
      dryRun: false,
      reason: '1 locked, 1 tombstoned, 1 released',
      eventIds: [event.id],
      instances: [
        {
          instanceId: LUKE,
          outcome: 'locked',
          publicCidrs: ['54.0.0.1/32'],
          privateCidrs: ['10.0.1.10/32'],
          onlyPrimary: true,
          otherVpcIds: [],
        },
        {
          instanceId: JESSICA,
          outcome: 'tombstoned',
          since: '2026-11-25T12:00:00.000Z',
          reason: 'gone from EC2',
        },
        { instanceId: GHOST, outcome: 'released', reason: 'not opted in' },
      ],
      functions: [],
    }
    expect(audit).toEqual([expected])
    expect(lines).toContainEqual({ level: 'INFO', message: 'lock decision', fields: expected })
  })

  it('says so when a lock it removes named no instance it can read', async () => {
    // Prepare: the controller's policy on `web` holds nothing it recognises.
    const world = {
      roles: ROLES,
      instances: [],
      policies: { web: '{"Version":"2012-10-17","Statement":[]}' },
    }

    // Act
    await runBatch(world, [scheduled()])

    // Assess
    const audit = aws.events
      .commandCalls(PutEventsCommand)
      .map((call) => JSON.parse(call.args[0].input.Entries?.[0]?.Detail ?? ''))
    expect(audit).toEqual([
      expect.objectContaining({
        roleName: 'web',
        action: 'remove',
        policyChars: 0,
        reason: 'no opted-in instance uses this role',
      }),
    ])
    expect(audit[0]).not.toHaveProperty('form')
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'web',
    ])
  })

  it('counts each role as applied, removed or unchanged, and skipped events, in its metrics', async () => {
    // Prepare: `web` gets a lock, `batch` loses its stale one, `old` has none and needs none.
    const world = {
      roles: ROLES,
      instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' })],
      policies: { batch: '{"Version":"2012-10-17","Statement":[]}' },
    }
    serveWorld(aws, world)
    const { handler, metrics } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled(), loadEvent('cloudtrail-s3-put-object')], QUEUE), CONTEXT)

    // Assess
    expect(metrics.addMetric.mock.calls).toEqual(
      expect.arrayContaining([
        ['EventsSkipped', 'Count', 1],
        ['LocksRemoved', 'Count', 1],
        ['LocksApplied', 'Count', 1],
        ['LocksUnchanged', 'Count', 1],
      ]),
    )
    expect(metrics.addMetric).toHaveBeenCalledTimes(4)
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'batch',
    ])
    expect(aws.iam.commandCalls(PutRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'web',
    ])
  })
})

describe('what the controller reads', () => {
  it('reads nothing from AWS for a batch of events it ignores, and logs each by its own ID', async () => {
    // Prepare
    serveWorld(aws, { roles: ROLES, instances: [] })
    const { handler, lines } = mockedHandler()
    const batch = sqsBatch([loadEvent('cloudtrail-s3-put-object')], QUEUE)
    batch.Records.push(
      { ...(batch.Records[0] as SQSRecord), messageId: 'null-body', body: 'null' },
      { ...(batch.Records[0] as SQSRecord), messageId: 'numeric-id', body: '{"id":5}' },
      { ...(batch.Records[0] as SQSRecord), messageId: 'named', body: '{"id":"evt-1"}' },
    )

    // Act
    const response = await handler(batch, CONTEXT)

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(aws.ec2.calls()).toHaveLength(0)
    expect(aws.iam.calls()).toHaveLength(0)
    const skipped = lines.filter((line) => line.message === 'event skipped').map((line) => line.fields)
    expect(skipped.slice(1)).toEqual([
      expect.objectContaining({ recordId: 'null-body', eventId: 'null-body', detailType: 'unknown' }),
      expect.objectContaining({ recordId: 'numeric-id', eventId: 'numeric-id', detailType: 'unknown' }),
      expect.objectContaining({ recordId: 'named', eventId: 'evt-1', detailType: 'unknown' }),
    ])
  })

  it('describes EC2 once when every named instance is opted in, and logs instances EC2 no longer knows', async () => {
    // Prepare
    serveWorld(aws, { roles: ROLES, instances: [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' })] })
    const { handler, lines } = mockedHandler()

    // Act
    await handler(
      sqsBatch([stateChange(LUKE, 'running'), stateChange(JESSICA, 'terminated')], QUEUE),
      CONTEXT,
    )

    // Assess: the tag pass, then one look-up of the instance it did not find.
    const filters = aws.ec2.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input.Filters)
    expect(filters).toEqual([
      [{ Name: 'tag:credential-lock', Values: ['enabled'] }],
      [{ Name: 'instance-id', Values: [JESSICA] }],
    ])
    expect(lines.filter((line) => line.message === 'instance not found')).toEqual([
      {
        level: 'INFO',
        message: 'instance not found',
        fields: { instanceId: JESSICA, reason: 'EC2 no longer knows it' },
      },
    ])
    expect(
      new Set(lines.filter((line) => line.message === 'lock decision').map((line) => line.fields.roleName)),
    ).toEqual(new Set(ROLES))
  })

  it('allows the NAT gateway address of a private instance: its egress is looked up', async () => {
    // Prepare
    serveWorld(aws, { roles: ROLES, instances: [ec2Instance(LUKE, 'web')] })
    serveNatGateway(aws, { PublicIp: '198.51.100.7' })

    // Act
    await runBatchOnServedWorld([stateChange(LUKE, 'running')])

    // Assess
    const after = policiesAfter({ roles: ROLES, instances: [] })
    expect(await verdictFor(after, 'web', LUKE, '198.51.100.7')).toBe('Allowed')
    expect(await verdictFor(after, 'web', LUKE, THIEF_IP)).toBe('ExplicitlyDenied')
  })

  it('reconciles roles in name order, so logs and writes read the same on every run', async () => {
    // Prepare
    serveWorld(aws, {
      roles: ['zeta', 'alpha', 'mu'],
      instances: ['zeta', 'alpha', 'mu'].map((role, n) => ec2Instance(`i-0a1b2c3d4e5f6000${n}`, role)),
    })
    const { handler } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(aws.iam.commandCalls(PutRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'alpha',
      'mu',
      'zeta',
    ])
  })
})

/** Runs a batch against the world the mocks already serve (a test that added its own mocks). */
async function runBatchOnServedWorld(events: readonly AnyEventBridgeEvent[]) {
  const { handler } = mockedHandler()
  return handler(sqsBatch(events, QUEUE), CONTEXT)
}
