/**
 * The controller over mocked AWS, on the edges mutation testing found unguarded: batches that mix event
 * kinds, an opted-out instance a lock still names, the remove path, and an instance profile IAM did not
 * list. Each outcome is judged by the IAM verdict the role's policies give after the batch.
 */
import type { Instance } from '@aws-sdk/client-ec2'
import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { describe, expect, it } from 'vitest'
import {
  type AnyEventBridgeEvent,
  disassociateAddress,
  iamProfileAssociation,
  sqsBatch,
  stateChange,
  tagChange,
} from './support/events.js'
import {
  ACCOUNT,
  CONTEXT,
  ec2Instance,
  type MockedWorld,
  mockAws,
  mockedHandler,
  POLICY,
  profileArn,
  QUEUE,
  REGION,
  serveWorld,
} from './support/mocked-controller.js'
import { ALLOW_ALL, fromPublicIp, type RolePolicy, type Verdict, verdict } from './support/simulate.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const JESSICA = 'i-0a1b2c3d4e5f60002'
const GHOST = 'i-0a1b2c3d4e5f60003'
const THIEF_IP = '203.0.113.66'
const ROLES = ['web', 'batch', 'old']

/** Serves `world`, runs one SQS batch of `events` through the handler, and returns what it answered. */
async function runBatch(world: MockedWorld, events: readonly AnyEventBridgeEvent[], dryRun = false) {
  serveWorld(aws, world)
  const { handler, lines } = mockedHandler({ config: { dryRun } })
  const batch = sqsBatch(events, QUEUE)
  const response = await handler(batch, CONTEXT)
  return { response, lines, batch }
}

/** The controller's policy on each role after a batch: the world's, then every write and delete in order. */
function policiesAfter(world: MockedWorld): Map<string, string | undefined> {
  const policies = new Map(Object.entries(world.policies ?? {}) as [string, string | undefined][])
  for (const call of aws.iam.calls()) {
    const command = call.args[0]
    if (command instanceof PutRolePolicyCommand)
      policies.set(command.input.RoleName ?? '', command.input.PolicyDocument)
    if (command instanceof DeleteRolePolicyCommand) policies.set(command.input.RoleName ?? '', undefined)
  }
  return policies
}

/** The lock the controller writes for `world` from a clean start: the "before" of a test. */
async function lockedWorld(world: MockedWorld, event: AnyEventBridgeEvent): Promise<Record<string, string>> {
  await runBatch(world, [event])
  return Object.fromEntries(
    [...policiesAfter(world)].flatMap(([role, document]) => (document ? [[role, document]] : [])),
  )
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
    const now = {
      roles: ROLES,
      instances: [
        ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' }),
      ],
      policies,
    }

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
    const now = {
      roles: ROLES,
      instances: [
        ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(JESSICA, 'batch', { PublicIpAddress: '54.0.0.2' }),
      ],
      policies,
    }

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
