/**
 * The plan's reads (handlers/plan/preflight.ts) over mocked AWS clients (test/support/plan-account.ts): the
 * caller's account from STS, the controller's own dry run on a scheduled resync, the instance, EKS and IAM facts
 * the plan puts beside its decisions, and that it only reads. test/integration/plan-cli.test.ts covers the same
 * ground against moto.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import {
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  ListClustersCommand,
  ListNodegroupsCommand,
} from '@aws-sdk/client-eks'
import { beforeEach, describe, expect, it } from 'vitest'
import { isReadOperation } from '../support/aws-call-counter.js'
import { ACCOUNT, ec2Instance, LOCK_TAG, NOW, REGION } from '../support/mocked-controller.js'
import {
  APP_POLICY,
  aws,
  CLUSTER,
  DANNY,
  FRANK,
  IMDS_V2,
  INSTANCES,
  JESSICA,
  LUKE,
  lockWrittenOnWeb,
  MATT,
  operationsSent,
  optedIn,
  plan,
  serveAccount,
  serveOtherInlinePolicy,
  TRANSIT_GATEWAY,
  TRISH,
} from '../support/plan-account.js'
import { roleOf } from '../support/plan-facts.js'

describe('the plan of an account', () => {
  beforeEach(() => serveAccount())

  it('reports the account of the caller, the region and tag it was given, and that it wrote nothing', async () => {
    // Act
    const report = await plan()

    // Assess
    expect(report).toMatchObject({
      accountId: ACCOUNT,
      region: REGION,
      lockTag: LOCK_TAG,
      everyInstanceOptedIn: false,
      dryRun: true,
    })
    expect(report.roles.map((role) => role.roleName)).toEqual(['nodes', 'web'])
  })

  it('gives the controller’s own decisions: the opted-in instances locked to their addresses', async () => {
    // Act
    const web = roleOf(await plan(), 'web')

    // Assess
    expect(web).toMatchObject({ action: 'put', form: 'precise', error: null })
    expect(web.locked).toEqual([
      { instanceId: LUKE, publicCidrs: ['54.0.0.1/32'], privateCidrs: ['10.0.1.10/32'] },
      { instanceId: DANNY, publicCidrs: ['54.0.0.2/32'], privateCidrs: ['10.0.1.10/32'] },
    ])
    expect(web.policyChars).toBeGreaterThan(0)
  })

  it('names the running instances it leaves unprotected, with the reason, and not the stopped ones', async () => {
    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'web').unprotected).toEqual([
      { instanceId: MATT, reason: 'not opted in' },
      { instanceId: TRISH, reason: expect.stringContaining(`transit gateway ${TRANSIT_GATEWAY}`) },
    ])
    expect(roleOf(report, 'nodes').unprotected).toEqual([])
  })

  it('sees the hidden route, IMDSv1 where the metadata service answers without a token, and the public node role', async () => {
    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'web').risks).toEqual([
      expect.objectContaining({ kind: 'hidden-egress', instanceIds: [TRISH] }),
      expect.objectContaining({ kind: 'imds-v1', instanceIds: [MATT] }),
    ])
    expect(roleOf(report, 'nodes').risks).toEqual([
      expect.objectContaining({ kind: 'imds-v1', instanceIds: [JESSICA] }),
      expect.objectContaining({
        kind: 'public-eks-endpoint',
        finding: `EKS cluster ${CLUSTER} uses this role for its nodes and has a public endpoint open to 0.0.0.0/0.`,
        instanceIds: [JESSICA, FRANK],
      }),
    ])
  })

  it('with --all, runs the controller as if every instance with a profile had opted in', async () => {
    // Act
    const report = await plan(true)

    // Assess
    expect(report.everyInstanceOptedIn).toBe(true)
    expect(roleOf(report, 'web').locked.map((i) => i.instanceId)).toEqual([LUKE, DANNY, MATT])
    expect(roleOf(report, 'web').unprotected).toEqual([
      { instanceId: TRISH, reason: expect.stringContaining('transit gateway') },
    ])
  })

  it('counts the characters of the role’s other inline policies, not its own lock', async () => {
    // Prepare
    serveOtherInlinePolicy('web')

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'web').otherInlineChars).toBe(APP_POLICY.length)
    expect(roleOf(report, 'nodes').otherInlineChars).toBe(0)
  })

  it('counts no other inline policy on a role the controller would not lock', async () => {
    // Prepare: nothing opted in any more.
    serveAccount(INSTANCES.map((instance) => ({ ...instance, Tags: [] })))
    serveOtherInlinePolicy('web')

    // Act
    const report = await plan()

    // Assess
    expect(
      report.roles.map((role) => [role.roleName, role.action, role.form, role.otherInlineChars]),
    ).toEqual([
      ['nodes', 'unchanged', null, 0],
      ['web', 'unchanged', null, 0],
    ])
  })

  it('only reads: every call it makes is a Describe, Get or List', async () => {
    // Act
    await plan()

    // Assess
    const operations = operationsSent()
    expect(operations).toEqual(
      expect.arrayContaining(['GetCallerIdentity', 'DescribeInstances', 'ListClusters']),
    )
    expect(operations.filter((operation) => !isReadOperation(operation))).toEqual([])
  })
})

describe('the facts the plan reads beside the decisions', () => {
  it('takes the node role’s name from an ARN with a path, and an EKS cluster created with defaults as public', async () => {
    // Prepare
    serveAccount()
    aws.eks.on(ListClustersCommand).resolves({ clusters: ['defaults'] })
    aws.eks.on(DescribeClusterCommand, { name: 'defaults' }).resolves({ cluster: { name: 'defaults' } })
    aws.eks
      .on(ListNodegroupsCommand, { clusterName: 'defaults' })
      .resolves({ nodegroups: ['system', 'workers'] })
    aws.eks.on(DescribeNodegroupCommand, { clusterName: 'defaults', nodegroupName: 'system' }).resolves({
      nodegroup: { nodegroupName: 'system' },
    })
    aws.eks.on(DescribeNodegroupCommand, { clusterName: 'defaults', nodegroupName: 'workers' }).resolves({
      nodegroup: { nodegroupName: 'workers', nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks/web` },
    })

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'web').risks.map((risk) => risk.finding)).toContain(
      'EKS cluster defaults uses this role for its nodes and has a public endpoint open to 0.0.0.0/0.',
    )
  })

  it('takes an EKS answer without its optional fields as no clusters, no node groups, a public endpoint', async () => {
    // Prepare
    serveAccount()
    // The first page names no clusters at all, only where the next one is.
    aws.eks
      .on(ListClustersCommand)
      .callsFake(({ nextToken }) =>
        nextToken === undefined ? { nextToken: 'page-2' } : { clusters: ['bare', 'empty'] },
      )
    aws.eks.on(DescribeClusterCommand, { name: 'bare' }).resolves({})
    aws.eks.on(DescribeClusterCommand, { name: 'empty' }).resolves({ cluster: { name: 'empty' } })
    aws.eks.on(ListNodegroupsCommand, { clusterName: 'bare' }).resolves({ nodegroups: ['gone'] })
    aws.eks.on(DescribeNodegroupCommand, { clusterName: 'bare', nodegroupName: 'gone' }).resolves({})
    aws.eks.on(ListNodegroupsCommand, { clusterName: 'empty' }).resolves({})

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'nodes').risks.map((risk) => risk.finding)).toEqual([
      `IMDSv1 is allowed on ${JESSICA}.`,
    ])
    expect(aws.eks.commandCalls(DescribeClusterCommand).map((call) => call.args[0].input.name)).toEqual([
      'bare',
      'empty',
    ])
    expect(aws.eks.commandCalls(DescribeNodegroupCommand)).toHaveLength(1)
  })

  it('knows a node from the aws:eks:cluster-name tag EKS puts on managed nodes', async () => {
    // Prepare
    const node = ec2Instance(LUKE, 'web', {
      PublicIpAddress: '54.0.0.1',
      MetadataOptions: IMDS_V2,
      Tags: [
        { Key: LOCK_TAG.key, Value: LOCK_TAG.value },
        { Key: 'aws:eks:cluster-name', Value: CLUSTER },
      ],
    })
    serveAccount([node], ['web'])
    aws.eks.on(ListNodegroupsCommand).resolves({ nodegroups: [] })

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'web').risks).toEqual([
      expect.objectContaining({ kind: 'public-eks-endpoint', instanceIds: [LUKE] }),
    ])
  })

  it('reads every page of instances, not only the first', async () => {
    // Prepare
    serveAccount()
    const [first, ...rest] = INSTANCES
    aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters, NextToken }) => {
      if (Filters !== undefined) return { Reservations: [{ Instances: optedIn(INSTANCES) }] }
      return NextToken === undefined
        ? { Reservations: [{ Instances: [first] }], NextToken: 'page-2' }
        : { Reservations: [{ Instances: rest }] }
    })

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'nodes').risks.map((risk) => risk.kind)).toEqual(['imds-v1', 'public-eks-endpoint'])
  })
})

describe('a role the controller locked before', () => {
  it('shows the tombstone of an instance that stopped, dated at the plan’s clock', async () => {
    // Prepare
    const running = [ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1', MetadataOptions: IMDS_V2 })]
    const lock = await lockWrittenOnWeb(running)
    const stopped = running.map((instance) => ({ ...instance, State: { Name: 'stopped' as const } }))
    serveAccount(stopped, ['web', 'nodes'], { web: lock })

    // Act
    const web = roleOf(await plan(), 'web')

    // Assess
    expect(web.tombstoned).toEqual([
      { instanceId: LUKE, since: NOW.toISOString(), reason: expect.stringContaining('stopped') },
    ])
    expect(web.locked).toEqual([])
  })
})
