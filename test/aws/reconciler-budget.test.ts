/**
 * The reconcile engine's budget, apply and decision-log path over mocked AWS: when the role's real budget is read
 * (other inline policies, whatever their names, attached managed policies, the quota), what a dry run writes
 * (nothing), the order and content of the writes over the inline policy and managed parts, which failures are
 * retried rather than worked around, a function the lock holds a tombstone for, and the lines an auditor reads.
 */
import { DescribeSubnetsCommand, type Instance } from '@aws-sdk/client-ec2'
import { PutEventsCommand } from '@aws-sdk/client-eventbridge'
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeleteRolePolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  LimitExceededException,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  type Policy,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { ListFunctionsCommand, ListTagsCommand } from '@aws-sdk/client-lambda'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { beforeEach, describe, expect, it } from 'vitest'
import { decideLock, INLINE_POLICY_BUDGET, policyChars, readLock } from '../../policy/lock/index.js'
import { type AnyEventBridgeEvent, scheduled, sqsBatch, stateChange } from '../support/events.js'
import {
  ACCOUNT,
  CONTEXT,
  ec2Instance,
  LOCK_TAG,
  type MockedWorld,
  mockAws,
  mockedHandler,
  NOW,
  POLICY,
  QUEUE,
  REGION,
  serveNatGateway,
  serveWorld,
} from '../support/mocked-controller.js'
import { ALLOW_ALL, fromPublicIp, LIST_ROLES, verdict } from '../support/simulate.js'

const aws = mockAws()
const ROLE = 'web'
const LUKE = 'i-0a1b2c3d4e5f60001'
const THIEF_IP = '203.0.113.66'
const REPORTER = 'reporter'
/** An instance of a fleet too large for the inline policy alone: a public address each. */
const fleetInstance = (n: number, publicBase = 51) =>
  ec2Instance(`i-0a1b2c3d4e5f6${String(n).padStart(4, '0')}`, ROLE, {
    PublicIpAddress: `198.${publicBase}.100.${n + 10}`,
    PrivateIpAddress: `10.0.1.${n + 10}`,
  })
const FLEET = Array.from({ length: 150 }, (_, n) => fleetInstance(n))

const IAM_WRITES = new Set([
  PutRolePolicyCommand.name,
  DeleteRolePolicyCommand.name,
  CreatePolicyCommand.name,
  CreatePolicyVersionCommand.name,
  AttachRolePolicyCommand.name,
  DeletePolicyCommand.name,
])
/** The IAM writes the controller made, in order, by command name. */
const iamWrites = () =>
  aws.iam
    .calls()
    .map((call) => call.args[0].constructor.name)
    .filter((name) => IAM_WRITES.has(name))
const budgetReads = () =>
  aws.iam.commandCalls(ListRolePoliciesCommand).length +
  aws.iam.commandCalls(ListAttachedRolePoliciesCommand).length

/** What IAM holds of the controller's: the inline policy by role, and each managed part by ARN. */
interface OwnIam {
  readonly inline: Map<string, string>
  readonly parts: Map<string, { readonly policy: Policy; readonly document: string }>
}

/** IAM as the controller leaves it, from `start`: the inline policy and the managed parts it wrote. */
function statefulIam(start?: OwnIam): OwnIam {
  const inline = new Map(start?.inline)
  const parts = new Map(start?.parts)
  aws.iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
    inline.set(RoleName, PolicyDocument)
    return {}
  })
  aws.iam.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    const document = PolicyName === POLICY ? inline.get(RoleName) : undefined
    if (document === undefined) throw new NoSuchEntityException({ message: 'not found', $metadata: {} })
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) }
  })
  aws.iam.on(CreatePolicyCommand).callsFake(({ PolicyName, Path, PolicyDocument }) => {
    const policy: Policy = {
      PolicyName,
      Path,
      Arn: `arn:aws:iam::${ACCOUNT}:policy${Path}${PolicyName}`,
      DefaultVersionId: 'v1',
      AttachmentCount: 1,
    }
    parts.set(policy.Arn as string, { policy, document: PolicyDocument as string })
    return { Policy: policy }
  })
  aws.iam.on(CreatePolicyVersionCommand).callsFake(({ PolicyArn, PolicyDocument }) => {
    const part = parts.get(PolicyArn)
    if (part) parts.set(PolicyArn, { ...part, document: PolicyDocument })
    return { PolicyVersion: { VersionId: 'v2', IsDefaultVersion: true } }
  })
  aws.iam
    .on(ListPoliciesCommand)
    .callsFake(() => ({ Policies: [...parts.values()].map((part) => part.policy) }))
  aws.iam.on(GetPolicyVersionCommand).callsFake(({ PolicyArn }) => ({
    PolicyVersion: { Document: encodeURIComponent(parts.get(PolicyArn)?.document ?? '') },
  }))
  aws.iam.on(ListPolicyVersionsCommand).resolves({ Versions: [] })
  return { inline, parts }
}

/**
 * Serves `world` with the role's own inline policy `name` of `chars` characters besides the controller's, and
 * returns its document.
 */
function withOtherInlinePolicy(chars: number, name = 'app'): string {
  const document = JSON.stringify({ Statement: [{ Sid: 'x'.repeat(chars) }] })
  aws.iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [name, POLICY] })
  aws.iam.on(GetRolePolicyCommand, { RoleName: ROLE, PolicyName: name }).resolves({
    RoleName: ROLE,
    PolicyName: name,
    PolicyDocument: encodeURIComponent(document),
  })
  return document
}

/**
 * A lock holding more tombstones than one inline policy can, of instances EC2 no longer knows: an oversized
 * document IAM would never hold, built only to make the inline-only decision fail for size.
 */
function oversizedTombstoneLock() {
  const ids = Array.from({ length: 600 }, (_, n) => `i-0b1b2c3d4e5f6${String(n).padStart(4, '0')}`)
  const decision = decideLock(
    {
      roleName: ROLE,
      instances: [],
      current: { locked: new Set(), tombstones: new Map(ids.map((id) => [id, { since: NOW }])) },
      budget: { otherInlineChars: -100_000, managedPolicies: 0 },
    },
    { partition: 'aws', region: REGION, accountId: ACCOUNT, tombstoneRetentionMs: 3_600_000 },
    NOW,
  )
  const oversized = decision.action === 'put' ? decision.documents[0] : undefined
  if (oversized === undefined || readLock(oversized).tombstones.size !== ids.length) {
    throw new Error('The oversized lock does not hold every tombstone.')
  }
  return { ids, oversized }
}

/** The controller's documents in IAM: the inline policy, then each managed part. */
function ownDocuments(iam: OwnIam): string[] {
  return [...iam.inline.values(), ...[...iam.parts.values()].map((part) => part.document)]
}

async function run(events: readonly AnyEventBridgeEvent[], config: Parameters<typeof mockedHandler>[0] = {}) {
  const { handler, lines, metrics } = mockedHandler(config)
  const batch = sqsBatch(events, QUEUE)
  const response = await handler(batch, CONTEXT)
  const decisions = lines.filter((line) => line.message === 'lock decision').map((line) => line.fields)
  return { response, lines, metrics, batch, decisions }
}

const world = (instances: readonly Instance[], policies?: MockedWorld['policies']): MockedWorld => ({
  roles: [ROLE],
  instances,
  ...(policies && { policies }),
})

beforeEach(() => serveWorld(aws, world([ec2Instance(LUKE, ROLE)])))

describe("the role's budget", () => {
  it('is read up front in a dry run, which decides as the real write would and writes nothing', async () => {
    // Prepare: the role's other inline policy leaves about 400 characters, too few for the precise lock.
    withOtherInlinePolicy(9_800)

    // Act
    const { decisions } = await run([stateChange(LUKE, 'running')], { config: { dryRun: true } })

    // Assess
    expect(decisions).toEqual([
      expect.objectContaining({
        roleName: ROLE,
        action: 'put',
        form: 'precise',
        managedPolicies: 1,
        dryRun: true,
      }),
    ])
    expect(aws.iam.commandCalls(ListRolePoliciesCommand)).toHaveLength(1)
    expect(iamWrites()).toEqual([])
    expect(aws.events.commandCalls(PutEventsCommand)).toHaveLength(0)
  })

  it('is not read on the usual path: a lock that fits the inline policy', async () => {
    // Act
    const { decisions } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(decisions).toEqual([
      expect.objectContaining({ action: 'put', form: 'precise', managedPolicies: 0 }),
    ])
    expect(budgetReads()).toBe(0)
  })

  it('is not read when a lock is removed', async () => {
    // Prepare: the lock names LUKE, who is no longer opted in.
    statefulIam()
    await run([stateChange(LUKE, 'running')])
    const lock = aws.iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input.PolicyDocument ?? ''
    serveWorld(aws, world([ec2Instance(LUKE, ROLE, { Tags: [] })], { [ROLE]: lock }))

    // Act
    const { decisions } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(decisions).toEqual([expect.objectContaining({ action: 'remove', managedPolicies: 0 })])
    expect(iamWrites()).toEqual([DeleteRolePolicyCommand.name])
    expect(budgetReads()).toBe(0)
  })

  it('counts only the managed-policy quota that attached policies of others leave', async () => {
    // Prepare: nine foreign policies and one of the controller's own are attached; the quota is ten.
    serveWorld(aws, world(FLEET))
    aws.iam.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: [
        ...Array.from({ length: 9 }, (_, n) => ({ PolicyArn: `arn:aws:iam::aws:policy/P${n}` })),
        { PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/credential-lock/${REGION}/${ROLE}-1` },
      ],
    })

    // Act
    const { decisions } = await run([scheduled()], { config: { managedPolicyQuota: 10, dryRun: true } })

    // Assess: the precise lock needs more than the one managed policy left, so the role gets the compact one.
    expect(decisions).toEqual([
      expect.objectContaining({ action: 'put', form: 'compact', managedPolicies: 1 }),
    ])
  })

  it('is read before deciding when the lock already spans managed parts, so no write is refused for size', async () => {
    // Prepare: a first run spread the fleet over parts; then all but 20 instances opted out, which the inline
    // policy alone would hold if the role had no other inline policy, but it has one.
    serveWorld(aws, world(FLEET))
    const iam = statefulIam()
    await run([scheduled()])
    expect(iam.parts.size).toBeGreaterThan(0)
    serveWorld(
      aws,
      world([...FLEET.slice(0, 20), ...FLEET.slice(20).map((instance) => ({ ...instance, Tags: [] }))]),
    )
    statefulIam(iam)
    withOtherInlinePolicy(8_000)

    // Act
    const { decisions } = await run([scheduled()])

    // Assess
    expect(aws.iam.commandCalls(ListRolePoliciesCommand)).toHaveLength(1)
    expect(decisions).toEqual([expect.objectContaining({ action: 'put', form: 'precise' })])
    expect(decisions[0]?.managedPolicies).toBeGreaterThan(0)
  })
})

describe('an inline policy of the role with a long name', () => {
  it('counts in the budget: the lock spills into a managed part rather than overflow the role', async () => {
    // Prepare: the role's own policy, named over 20 characters, leaves about 400 of the role's 10,240
    // characters. IAM refuses, as it does, an inline write that takes the role's inline policies past them.
    const iam = statefulIam()
    const foreign = withOtherInlinePolicy(9_800, 'reporting-application-permissions')
    const refusedWrites: string[] = []
    aws.iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
      if (policyChars(PolicyDocument) + policyChars(foreign) > INLINE_POLICY_BUDGET) {
        refusedWrites.push(PolicyDocument)
        throw new LimitExceededException({
          message: 'Maximum policy size of 10240 bytes exceeded',
          $metadata: {},
        })
      }
      iam.inline.set(RoleName, PolicyDocument)
      return {}
    })

    // Act
    const { response, decisions } = await run([stateChange(LUKE, 'running')])

    // Assess: one refusal at most (the write that learns the size), then a lock IAM holds, none of it lost.
    expect(response).toEqual({ batchItemFailures: [] })
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(0)
    expect(refusedWrites.length).toBeLessThanOrEqual(1)
    expect(policyChars(iam.inline.get(ROLE) ?? '') + policyChars(foreign)).toBeLessThanOrEqual(
      INLINE_POLICY_BUDGET,
    )
    expect(iam.parts.size).toBe(1)
    expect(decisions).toEqual([
      expect.objectContaining({ action: 'put', form: 'precise', managedPolicies: 1 }),
    ])
  })
})

describe('a write IAM refuses', () => {
  it('for a reason other than size is retried through the queue, not worked around with the full budget', async () => {
    // Prepare
    aws.iam
      .on(PutRolePolicyCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves({})

    // Act
    const { response, batch } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(response?.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[0]?.messageId }])
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(1)
    expect(budgetReads()).toBe(0)
  })
})

describe('a decision that fails', () => {
  it('for invalid facts fails the role at once, without reading the budget', async () => {
    // Prepare: an instance EC2 gives no private address cannot be locked.
    serveWorld(aws, world([ec2Instance(LUKE, ROLE, { PrivateIpAddress: undefined })]))

    // Act
    const { response, lines } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(response?.batchItemFailures).toEqual([])
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'role reconcile failed',
        fields: expect.objectContaining({ error: expect.objectContaining({ name: 'InvalidFactsError' }) }),
      }),
    )
    expect(budgetReads()).toBe(0)
    expect(iamWrites()).toEqual([])
  })

  it('for size with the inline policy alone is decided again with managed parts', async () => {
    // Prepare: a lock holding more tombstones than one inline policy can, of instances EC2 no longer knows.
    const { ids, oversized } = oversizedTombstoneLock()
    serveWorld(aws, world([], { [ROLE]: oversized }))
    const iam = statefulIam()
    iam.inline.set(ROLE, oversized)

    // Act
    const { response, decisions } = await run([scheduled()])

    // Assess
    expect(response?.batchItemFailures).toEqual([])
    expect(decisions).toEqual([expect.objectContaining({ action: 'put' })])
    expect(decisions[0]?.managedPolicies).toBeGreaterThan(0)
    expect(readLock(ownDocuments(iam)).tombstones.size).toBe(ids.length)
  })
})

describe('the writes over the inline policy and managed parts', () => {
  it('go inline first, then part by part, and rewrite a part whose content changed', async () => {
    // Prepare: a first run spread the fleet over parts; every instance then got a new public address.
    serveWorld(aws, world(FLEET))
    const iam = statefulIam()
    await run([scheduled()])
    const first = iamWrites()
    const moved = FLEET.map((_, n) => fleetInstance(n, 52))
    serveWorld(aws, world(moved))
    const after = statefulIam(iam)

    // Act
    await run([scheduled()])

    // Assess
    expect(first[0]).toBe(PutRolePolicyCommand.name)
    expect(first.slice(1).every((name) => name !== PutRolePolicyCommand.name)).toBe(true)
    expect(iamWrites()).toEqual([
      PutRolePolicyCommand.name,
      ...Array.from({ length: after.parts.size }, () => CreatePolicyVersionCommand.name),
    ])
    const policies = ownDocuments(after).map((document, n) => ({ name: `own-${n}`, document }))
    const thief = {
      accountId: ACCOUNT,
      region: REGION,
      roleName: ROLE,
      instanceId: 'i-0a1b2c3d4e5f60149',
      vpcId: 'vpc-1',
    }
    expect(await verdict([ALLOW_ALL, ...policies], fromPublicIp(thief, '198.51.100.159', LIST_ROLES))).toBe(
      'ExplicitlyDenied',
    )
    expect(await verdict([ALLOW_ALL, ...policies], fromPublicIp(thief, '198.52.100.159', LIST_ROLES))).toBe(
      'Allowed',
    )
  })

  it('keep the tombstones only a managed part holds', async () => {
    // Prepare: the tombstones of a lock too large for the inline policy were spread over managed parts.
    const { ids, oversized } = oversizedTombstoneLock()
    serveWorld(aws, world([], { [ROLE]: oversized }))
    const first = statefulIam()
    first.inline.set(ROLE, oversized)
    await run([scheduled()])
    expect(readLock(first.inline.get(ROLE)).tombstones.size).toBeLessThan(ids.length)
    serveWorld(aws, world([]))
    const second = statefulIam(first)

    // Act
    const { decisions } = await run([scheduled()])

    // Assess
    expect(decisions).toEqual([expect.objectContaining({ action: 'unchanged' })])
    expect(readLock(ownDocuments(second)).tombstones.size).toBe(ids.length)
  })

  it('exempt the actions the settings exempt for the role, and only those', async () => {
    // Prepare
    const iam = statefulIam()

    // Act
    await run([stateChange(LUKE, 'running')], {
      config: { exemptActions: new Map([[ROLE, ['s3:GetObject']]]) },
    })

    // Assess
    const policies = [ALLOW_ALL, { name: POLICY, document: iam.inline.get(ROLE) ?? '' }]
    const thief = { accountId: ACCOUNT, region: REGION, roleName: ROLE, instanceId: LUKE, vpcId: 'vpc-1' }
    expect(await verdict(policies, fromPublicIp(thief, THIEF_IP))).toBe('Allowed')
    expect(await verdict(policies, fromPublicIp(thief, THIEF_IP, LIST_ROLES))).toBe('ExplicitlyDenied')
  })
})

describe('a function the lock holds a tombstone for', () => {
  it('is locked again on any event of its role once it is back and opted in', async () => {
    // Prepare: the lock refuses the old credentials of REPORTER, deleted a while ago; it was created again on
    // the same role, tagged, in a VPC. The batch only names an instance of the role.
    const tombstoned = decideLock(
      {
        roleName: ROLE,
        instances: [],
        current: {
          locked: new Set(),
          tombstones: new Map(),
          functions: {
            locked: new Set(),
            tombstones: new Map([[REPORTER, { since: NOW, issuedBefore: NOW }]]),
          },
        },
        budget: { otherInlineChars: 0, managedPolicies: 0 },
      },
      { partition: 'aws', region: REGION, accountId: ACCOUNT, tombstoneRetentionMs: 3_600_000 },
      NOW,
    )
    const lock = tombstoned.action === 'put' ? tombstoned.documents[0] : undefined
    serveWorld(aws, world([ec2Instance(LUKE, ROLE)], lock === undefined ? {} : { [ROLE]: lock }))
    aws.lambda.on(ListFunctionsCommand).resolves({
      Functions: [
        {
          FunctionName: REPORTER,
          FunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${REPORTER}`,
          Role: `arn:aws:iam::${ACCOUNT}:role/${ROLE}`,
          VpcConfig: { SubnetIds: ['subnet-1'], VpcId: 'vpc-1' },
        },
      ],
    })
    aws.lambda.on(ListTagsCommand).resolves({ Tags: { [LOCK_TAG.key]: LOCK_TAG.value } })
    aws.ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: 'subnet-1', VpcId: 'vpc-1', CidrBlock: '10.0.1.0/24' }] })

    // Act
    const { decisions } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(readLock(lock).functions?.tombstones.has(REPORTER)).toBe(true)
    expect(decisions[0]?.functions).toContainEqual(
      expect.objectContaining({ functionName: REPORTER, outcome: 'locked' }),
    )
  })
})

describe('the lines an auditor reads', () => {
  it('warn of an opted-in instance the lock skips, by role and instance, and count it', async () => {
    // Prepare: LUKE leaves through a NAT gateway whose public address EC2 does not show.
    serveNatGateway(aws, { PrivateIp: '10.0.0.5' })

    // Act
    const { lines, metrics } = await run([stateChange(LUKE, 'running')])

    // Assess
    expect(lines).toContainEqual({
      level: 'WARN',
      message: 'opted-in instances left unprotected',
      fields: {
        roleName: ROLE,
        instances: [expect.objectContaining({ instanceId: LUKE, outcome: 'skipped' })],
      },
    })
    expect(metrics.addMetric).toHaveBeenCalledWith('InstancesUnprotected', 'Count', 1)
  })

  it('warn of an opted-in instance the budget leaves unprotected', async () => {
    // Prepare: the role's other inline policy and ten foreign managed policies leave no room.
    withOtherInlinePolicy(10_100)
    aws.iam.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: Array.from({ length: 10 }, (_, n) => ({
        PolicyArn: `arn:aws:iam::aws:policy/P${n}`,
      })),
    })

    // Act
    const { lines, metrics } = await run([stateChange(LUKE, 'running')], { config: { dryRun: true } })

    // Assess
    expect(lines).toContainEqual({
      level: 'WARN',
      message: 'opted-in instances left unprotected',
      fields: {
        roleName: ROLE,
        instances: [expect.objectContaining({ instanceId: LUKE, outcome: 'unprotected' })],
      },
    })
    expect(metrics.addMetric).toHaveBeenCalledWith('InstancesUnprotected', 'Count', 1)
  })
})
