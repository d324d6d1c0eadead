/**
 * One account behind mocked AWS clients (aws-sdk-client-mock) for the plan's reads (handlers/plan/preflight.ts):
 * seven instances on two roles, a subnet behind a transit gateway, a public and a private EKS cluster; the
 * controller's own write of a lock; and every operation the plan sent.
 */
import { DescribeRouteTablesCommand, EC2Client, type Instance, type RouteTable } from '@aws-sdk/client-ec2'
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
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { type ControllerConfig, readConfig } from '../../handlers/aws/config.js'
import type { PlanReport } from '../../handlers/plan/plan-report.js'
import { type PlanClients, planAccount } from '../../handlers/plan/preflight.js'
import { scheduled, sqsBatch } from './events.js'
import {
  ACCOUNT,
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
} from './mocked-controller.js'

export const aws = { ...mockAws(), sts: mockClient(STSClient), eks: mockClient(EKSClient) }

export const CONFIG: ControllerConfig = { ...readConfig({ AWS_REGION: REGION }), lockTag: LOCK_TAG }
export const LUKE = 'i-0a1b2c3d4e5f60001'
export const DANNY = 'i-0a1b2c3d4e5f60002'
export const MATT = 'i-0a1b2c3d4e5f60003'
export const TRISH = 'i-0a1b2c3d4e5f60004'
export const JESSICA = 'i-0a1b2c3d4e5f60005'
export const FRANK = 'i-0a1b2c3d4e5f60006'
export const KAREN = 'i-0a1b2c3d4e5f60007'
export const TRANSIT_GATEWAY = 'tgw-0a1b2c3d4e5f60001'
export const CLUSTER = 'avengers'
export const APP_POLICY =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

export const IMDS_V2 = { HttpTokens: 'required', HttpEndpoint: 'enabled' } as const

/** The subnet whose default route leads to a transit gateway: the controller cannot see its egress. */
export const TRANSIT_TABLE: RouteTable = {
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
export const INSTANCES: readonly Instance[] = [
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

export function clients(): PlanClients {
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
export function serveAccount(
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
export async function lockWrittenOnWeb(instances: readonly Instance[]): Promise<string> {
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
export function serveOtherInlinePolicy(roleName: string) {
  aws.iam.on(ListRolePoliciesCommand, { RoleName: roleName }).resolves({ PolicyNames: ['app', POLICY] })
  aws.iam
    .on(GetRolePolicyCommand, { RoleName: roleName, PolicyName: 'app' })
    .resolves({ RoleName: roleName, PolicyName: 'app', PolicyDocument: encodeURIComponent(APP_POLICY) })
}

export function plan(everyInstanceOptedIn = false): Promise<PlanReport> {
  return planAccount(clients(), CONFIG, { everyInstanceOptedIn, now: NOW })
}

/** What the controller's DescribeInstances, filtered by the opt-in tag, answers. */
export function optedIn(instances: readonly Instance[]): Instance[] {
  return instances.filter((instance) =>
    instance.Tags?.some((tag) => tag.Key === LOCK_TAG.key && tag.Value === LOCK_TAG.value),
  )
}

/** Every command sent to any mocked client, as `Operation`. */
export function operationsSent(): string[] {
  return Object.values(aws).flatMap((mock) =>
    mock.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, '')),
  )
}
