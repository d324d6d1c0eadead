/**
 * The plan's reads (handlers/preflight.ts) over mocked AWS clients: the caller's account from STS, the
 * controller's own dry run on a scheduled resync, and the instance, EKS and IAM facts the plan puts beside its
 * decisions; what it makes of a missing permission or a role the controller could not decide; and that it only
 * reads and prints nothing itself. The moto story in plan.test.ts covers the same ground, but Stryker does not
 * run it.
 */
import { readFileSync } from 'node:fs'
import {
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Instance,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import {
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListClustersCommand,
  ListNodegroupsCommand,
} from '@aws-sdk/client-eks'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import {
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type ControllerConfig, readConfig } from '../handlers/aws/config.js'
import { MissingPermissionError } from '../handlers/aws/errors.js'
import { explainFailure, type PlanReport, type RolePlan } from '../handlers/plan/plan-report.js'
import { type PlanClients, planAccount, scheduledResync } from '../handlers/plan/preflight.js'
import { isReadOperation } from './support/aws-call-counter.js'
import { scheduled, sqsBatch } from './support/events.js'
import {
  ACCOUNT,
  accessDenied,
  CONTEXT,
  ec2Instance,
  LOCK_TAG,
  mockAws,
  mockedHandler,
  NOW,
  POLICY,
  QUEUE,
  REGION,
  serveWorld,
} from './support/mocked-controller.js'

const aws = { ...mockAws(), sts: mockClient(STSClient), eks: mockClient(EKSClient) }

const CONFIG: ControllerConfig = { ...readConfig({ AWS_REGION: REGION }), lockTag: LOCK_TAG }
const LUKE = 'i-0a1b2c3d4e5f60001'
const DANNY = 'i-0a1b2c3d4e5f60002'
const MATT = 'i-0a1b2c3d4e5f60003'
const TRISH = 'i-0a1b2c3d4e5f60004'
const JESSICA = 'i-0a1b2c3d4e5f60005'
const FRANK = 'i-0a1b2c3d4e5f60006'
const KAREN = 'i-0a1b2c3d4e5f60007'
const TRANSIT_GATEWAY = 'tgw-0a1b2c3d4e5f60001'
const CLUSTER = 'avengers'
const APP_POLICY =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

const IMDS_V2 = { HttpTokens: 'required', HttpEndpoint: 'enabled' } as const

/** The subnet whose default route leads to a transit gateway: the controller cannot see its egress. */
const TRANSIT_TABLE: RouteTable = {
  RouteTableId: 'rtb-0a1b2c3d4e5f60002',
  VpcId: 'vpc-1',
  Associations: [{ SubnetId: 'subnet-2', RouteTableId: 'rtb-0a1b2c3d4e5f60002' }],
  Routes: [
    { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
    { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: TRANSIT_GATEWAY, State: 'active' },
  ],
}

/**
 * The role `web`: Luke and Danny locked (Danny's metadata service is off), Matt not opted in and on IMDSv1,
 * Trish behind the transit gateway. The role `nodes`: Jessica, a node of the public cluster `avengers` named
 * by a Kubernetes tag, with no metadata options reported, and Frank, stopped, named by the EKS tag. Karen has
 * no instance profile.
 */
const INSTANCES: readonly Instance[] = [
  ec2Instance(LUKE, 'web', { PublicIpAddress: '54.0.0.1', MetadataOptions: IMDS_V2 }),
  ec2Instance(DANNY, 'web', {
    PublicIpAddress: '54.0.0.2',
    MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'disabled' },
  }),
  ec2Instance(MATT, 'web', {
    PublicIpAddress: '54.0.0.3',
    Tags: [],
    MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'enabled' },
  }),
  ec2Instance(TRISH, 'web', { SubnetId: 'subnet-2', MetadataOptions: IMDS_V2 }),
  ec2Instance(JESSICA, 'nodes', {
    PublicIpAddress: '54.0.0.5',
    Tags: [
      { Key: LOCK_TAG.key, Value: LOCK_TAG.value },
      { Key: 'Name', Value: 'jessica' },
      // Not the Kubernetes tag: only a key that starts with it names the cluster.
      { Key: 'backup.example.com/kubernetes.io/cluster/defenders', Value: 'owned' },
      { Key: `kubernetes.io/cluster/${CLUSTER}`, Value: 'owned' },
    ],
  }),
  ec2Instance(FRANK, 'nodes', {
    State: { Name: 'stopped' },
    Tags: [{ Key: 'eks:cluster-name', Value: CLUSTER }],
    MetadataOptions: IMDS_V2,
  }),
  ec2Instance(KAREN, undefined, { PublicIpAddress: '54.0.0.7', MetadataOptions: IMDS_V2 }),
]

function clients(): PlanClients {
  const config = { region: REGION }
  return {
    ec2: new EC2Client(config),
    iam: new IAMClient(config),
    sts: new STSClient(config),
    eks: new EKSClient(config),
    lambda: new LambdaClient(config),
    events: new EventBridgeClient(config),
  }
}

/** The world above; EKS has the public cluster `avengers` with a node group on `nodes` and a private one. */
function serveAccount(
  instances: readonly Instance[] = INSTANCES,
  roles: readonly string[] = ['web', 'nodes'],
  policies: Readonly<Record<string, string>> = {},
) {
  serveWorld(aws, { roles, instances, policies })
  aws.sts.reset()
  aws.eks.reset()
  // Like IAM: a role that does not exist has no policies to list.
  aws.iam.on(ListRolePoliciesCommand).callsFake(({ RoleName }) => {
    if (!roles.includes(RoleName)) throw new NoSuchEntityException({ message: 'not found', $metadata: {} })
    return { PolicyNames: [] }
  })
  aws.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/operator`, UserId: 'AIDAEXAMPLE' })
  aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [TRANSIT_TABLE] })
  aws.eks.on(ListClustersCommand).resolves({ clusters: [CLUSTER, 'private'] })
  aws.eks.on(DescribeClusterCommand, { name: CLUSTER }).resolves({
    cluster: {
      name: CLUSTER,
      resourcesVpcConfig: { endpointPublicAccess: true, publicAccessCidrs: ['0.0.0.0/0'] },
    },
  })
  aws.eks.on(DescribeClusterCommand, { name: 'private' }).resolves({
    cluster: { name: 'private', resourcesVpcConfig: { endpointPublicAccess: false } },
  })
  aws.eks.on(ListNodegroupsCommand, { clusterName: CLUSTER }).resolves({ nodegroups: ['workers'] })
  aws.eks.on(ListNodegroupsCommand, { clusterName: 'private' }).resolves({ nodegroups: ['internal'] })
  aws.eks.on(DescribeNodegroupCommand, { clusterName: CLUSTER, nodegroupName: 'workers' }).resolves({
    nodegroup: { nodegroupName: 'workers', nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks/nodes` },
  })
  // The private cluster's nodes use `web`: no EKS risk for it.
  aws.eks.on(DescribeNodegroupCommand, { clusterName: 'private', nodegroupName: 'internal' }).resolves({
    nodegroup: { nodegroupName: 'internal', nodeRole: `arn:aws:iam::${ACCOUNT}:role/web` },
  })
}

/** The controller's policy on `web` after a live resync of `instances`, as the deployed controller writes it. */
async function lockWrittenOnWeb(instances: readonly Instance[]): Promise<string> {
  serveAccount(instances)
  const written: Record<string, string> = {}
  aws.iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
    written[RoleName] = PolicyDocument
    return {}
  })
  await mockedHandler().handler(sqsBatch([scheduled()], QUEUE), CONTEXT)
  const document = written.web
  if (document === undefined) throw new Error('the controller wrote no lock on web')
  return document
}

/** An inline policy of the role's own beside the controller's. */
function serveOtherInlinePolicy(roleName: string) {
  aws.iam.on(ListRolePoliciesCommand, { RoleName: roleName }).resolves({ PolicyNames: ['app', POLICY] })
  aws.iam
    .on(GetRolePolicyCommand, { RoleName: roleName, PolicyName: 'app' })
    .resolves({ RoleName: roleName, PolicyName: 'app', PolicyDocument: encodeURIComponent(APP_POLICY) })
}

function plan(everyInstanceOptedIn = false): Promise<PlanReport> {
  return planAccount(clients(), CONFIG, { everyInstanceOptedIn, now: NOW })
}

function roleOf(report: PlanReport, roleName: string): RolePlan {
  const role = report.roles.find((candidate) => candidate.roleName === roleName)
  if (!role) throw new Error(`the plan has no role ${roleName}`)
  return role
}

/** What the controller's DescribeInstances, filtered by the opt-in tag, answers. */
function optedIn(instances: readonly Instance[]): Instance[] {
  return instances.filter((instance) =>
    instance.Tags?.some((tag) => tag.Key === LOCK_TAG.key && tag.Value === LOCK_TAG.value),
  )
}

/** Every command sent to any mocked client, as `Operation`. */
function operationsSent(): string[] {
  return Object.values(aws).flatMap((mock) =>
    mock.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, '')),
  )
}

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

describe('what the plan makes of a failure', () => {
  beforeEach(() => serveAccount())

  it.each([
    ['STS', () => aws.sts.on(GetCallerIdentityCommand).rejects(accessDenied()), 'sts:GetCallerIdentity', '*'],
    [
      'the controller’s instance read',
      () => aws.iam.on(ListInstanceProfilesCommand).rejects(accessDenied()),
      'iam:ListInstanceProfiles',
      '*',
    ],
    [
      'the controller’s read of one role',
      () => aws.iam.on(GetRolePolicyCommand, { RoleName: 'web' }).rejects(accessDenied()),
      'iam:GetRolePolicy',
      'role web',
    ],
    [
      'the controller’s budget read of one role',
      () => aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'web' }).rejects(accessDenied()),
      'iam:ListAttachedRolePolicies',
      'role web',
    ],
    [
      'the plan’s own instance read',
      () =>
        aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => {
          if (Filters === undefined) throw accessDenied()
          return { Reservations: [{ Instances: optedIn(INSTANCES) }] }
        }),
      'ec2:DescribeInstances',
      '*',
    ],
    ['EKS clusters', () => aws.eks.on(ListClustersCommand).rejects(accessDenied()), 'eks:ListClusters', '*'],
    [
      'one EKS cluster',
      () => aws.eks.on(DescribeClusterCommand, { name: CLUSTER }).rejects(accessDenied()),
      'eks:DescribeCluster',
      `cluster ${CLUSTER}`,
    ],
    [
      'the node groups of a cluster',
      () => aws.eks.on(ListNodegroupsCommand, { clusterName: CLUSTER }).rejects(accessDenied()),
      'eks:ListNodegroups',
      `cluster ${CLUSTER}`,
    ],
    [
      'one node group',
      () => aws.eks.on(DescribeNodegroupCommand).rejects(accessDenied()),
      'eks:DescribeNodegroup',
      'node group workers',
    ],
  ])('stops with the permission the caller lacks when %s refuses', async (_, refuse, action, resource) => {
    // Prepare
    refuse()

    // Act
    const failure = await plan().then(
      () => undefined,
      (error: unknown) => error,
    )

    // Assess
    expect(failure).toBeInstanceOf(MissingPermissionError)
    expect(failure).toMatchObject({ action, resource })
    expect(explainFailure(failure)).toBe(
      `You are not allowed to call ${action} on ${resource}: run the plan with credentials that can read ` +
        'EC2, IAM and EKS (e.g. the ReadOnlyAccess policy).',
    )
  })

  it('stops when the controller cannot read the account’s truth, whatever the error', async () => {
    // Prepare
    const outage = Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' })
    aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => {
      if (Filters !== undefined) throw outage
      return { Reservations: [{ Instances: INSTANCES }] }
    })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toBe(outage)
  })

  it('shows a role the controller could not decide as failed, with the error, and plans the others', async () => {
    // Prepare
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'nodes' }).rejects(throttled)

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'nodes')).toMatchObject({ action: 'failed', error: 'Rate exceeded' })
    expect(roleOf(report, 'web')).toMatchObject({ action: 'put', error: null })
    expect(report.summary.rolesFailed).toBe(1)
  })

  it('stops when STS names no account or partition', async () => {
    // Prepare
    aws.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toThrow('STS GetCallerIdentity named no account and partition.')
  })

  it('stops when STS names a partition but no account', async () => {
    // Prepare
    aws.sts.on(GetCallerIdentityCommand).resolves({ Arn: `arn:aws:iam::${ACCOUNT}:user/operator` })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toThrow('STS GetCallerIdentity named no account and partition.')
  })
})

describe('the controller run inside the plan', () => {
  let written: string[]
  const capture = (chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }

  beforeEach(() => {
    written = []
    vi.spyOn(process.stdout, 'write').mockImplementation(capture)
    vi.spyOn(process.stderr, 'write').mockImplementation(capture)
  })
  afterEach(() => vi.restoreAllMocks())

  it('prints neither log lines nor metrics, even over a hundred roles and a failing one', async () => {
    // Prepare: a hundred decisions fill a metric, which the SDK then publishes on its own.
    const roles = Array.from({ length: 120 }, (_, n) => `role-${String(n).padStart(3, '0')}`)
    serveAccount(INSTANCES, ['web', 'nodes', ...roles])
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'nodes' }).rejects(new Error('Rate exceeded'))

    // Act
    const report = await plan()

    // Assess
    expect(report.roles).toHaveLength(122)
    expect(report.summary.rolesFailed).toBe(1)
    expect(written).toEqual([])
  })

  it('is the scheduled resync EventBridge sends, stamped with the plan’s clock', () => {
    // Prepare
    const fixture = JSON.parse(
      readFileSync(new URL('./fixtures/events/scheduled-event.json', import.meta.url), 'utf8'),
    )

    // Act
    const event = scheduledResync(ACCOUNT, 'eu-west-1', NOW)

    // Assess
    expect(event).toEqual({
      ...fixture,
      id: `plan-${NOW.getTime()}`,
      time: '2026-11-25T12:00:00.000Z',
      region: 'eu-west-1',
      resources: [],
    })
  })

  it('runs dry at the plan’s clock, however the controller is configured', async () => {
    // Prepare
    serveAccount()
    const live = { ...CONFIG, dryRun: false, everyInstanceOptedIn: true }

    // Act
    const report = await planAccount(clients(), live, { everyInstanceOptedIn: false, now: NOW })

    // Assess
    expect(report.everyInstanceOptedIn).toBe(false)
    expect(roleOf(report, 'web').locked.map((i) => i.instanceId)).toEqual([LUKE, DANNY])
    expect(operationsSent().filter((operation) => !isReadOperation(operation))).toEqual([])
  })
})
