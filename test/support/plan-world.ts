/**
 * What the pre-flight plan is shown against: the Defenders world (test/support/world.ts) plus every case the
 * plan must explain. Built in moto by the operator's clients; the plan reads it with its own.
 */
import {
  AssociateRouteTableCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateTransitGatewayCommand,
  type EC2Client,
  ModifyInstanceMetadataOptionsCommand,
} from '@aws-sdk/client-ec2'
import { CreateClusterCommand, CreateNodegroupCommand, type EKSClient } from '@aws-sdk/client-eks'
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { INLINE_POLICY_BUDGET } from '../../policy/lock/index.js'
import {
  buildDefendersWorld,
  type DefendersWorld,
  EC2_TRUST_POLICY,
  launchOnRole,
  OPT_IN_TAG,
  required,
  type WorldClients,
  type WorldInstance,
} from './world.js'

const TRANSIT_SUBNET_CIDR = '10.0.3.0/24'
export const FULL_ROLE = 'warehouse'
export const EKS_CLUSTER = 'avengers'
/** IAM's default quota of managed policies per role, all taken by the full role's own. */
const MANAGED_POLICY_QUOTA = 10
/** AWS managed policies moto knows (startMoto loads them), attached to fill the full role's quota. */
const READ_ONLY_POLICIES = [
  'AmazonEC2ReadOnlyAccess',
  'AmazonS3ReadOnlyAccess',
  'AmazonSQSReadOnlyAccess',
  'AmazonSNSReadOnlyAccess',
  'AmazonDynamoDBReadOnlyAccess',
  'AmazonRDSReadOnlyAccess',
  'AmazonVPCReadOnlyAccess',
  'IAMReadOnlyAccess',
  'CloudWatchReadOnlyAccess',
  'AWSLambda_ReadOnlyAccess',
]

export interface PlanDemoWorld {
  readonly world: DefendersWorld
  /** Opted in, in a subnet whose default route leads to a transit gateway: its egress cannot be seen. */
  readonly trish: WorldInstance
  /** Tagged by hand `credential-lock=Enabled`: a near miss of the opt-in tag. */
  readonly karen: WorldInstance
  /** Opted in on {@link FULL_ROLE}, whose inline and managed policy quotas its own policies already fill. */
  readonly frank: WorldInstance
}

/**
 * The Defenders world (Luke public, Danny behind the NAT gateway, both opted in; Matt not opted in) plus Trish
 * behind a transit gateway, Karen with a near-miss tag, Frank on a role with no room left for a lock, and the EKS
 * cluster avengers with a public endpoint whose managed nodes use the Defenders role. The opted-in instances
 * require IMDSv2; Matt, Karen and Frank do not.
 */
export async function buildPlanDemoWorld(
  clients: WorldClients & { readonly eks: EKSClient },
): Promise<PlanDemoWorld> {
  const world = await buildDefendersWorld(clients)
  const transitSubnetId = await subnetBehindTransitGateway(clients.ec2, world.vpcId)
  const trish = await launchOnRole(
    clients.ec2,
    { ...world, privateSubnet: { ...world.privateSubnet, subnetId: transitSubnetId } },
    { subnet: 'private', name: 'trish', optedIn: true },
  )
  const karen = await launchOnRole(clients.ec2, world, { subnet: 'public', name: 'karen', optedIn: false })
  await clients.ec2.send(
    new CreateTagsCommand({
      Resources: [karen.instanceId],
      Tags: [{ Key: OPT_IN_TAG.key, Value: 'Enabled' }],
    }),
  )
  const fullProfile = await buildFullRole(clients)
  const frank = await launchOnRole(
    clients.ec2,
    { ...world, instanceProfile: fullProfile },
    { subnet: 'public', name: 'frank', optedIn: true },
  )
  for (const { instanceId } of [world.luke, world.danny, trish]) {
    await clients.ec2.send(
      new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpTokens: 'required' }),
    )
  }
  await clients.eks.send(
    new CreateClusterCommand({
      name: EKS_CLUSTER,
      roleArn: `arn:aws:iam::${world.accountId}:role/eks-cluster`,
      resourcesVpcConfig: { subnetIds: [world.privateSubnet.subnetId] },
    }),
  )
  await clients.eks.send(
    new CreateNodegroupCommand({
      clusterName: EKS_CLUSTER,
      nodegroupName: 'workers',
      nodeRole: world.role.roleArn,
      subnets: [world.privateSubnet.subnetId],
    }),
  )
  return { world, trish, karen, frank }
}

/** A new subnet of the VPC whose default route leads to a transit gateway. */
export async function subnetBehindTransitGateway(ec2: EC2Client, vpcId: string): Promise<string> {
  const gateway = await ec2.send(new CreateTransitGatewayCommand({}))
  const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: TRANSIT_SUBNET_CIDR }))
  const table = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))
  const routeTableId = table.RouteTable?.RouteTableId
  const subnetId = required(subnet.Subnet?.SubnetId, 'subnet id')
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: routeTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      TransitGatewayId: gateway.TransitGateway?.TransitGatewayId,
    }),
  )
  await ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId, SubnetId: subnetId }))
  return subnetId
}

/**
 * A role whose own inline policy leaves less room than any lock needs, and whose quota of managed policies is
 * taken: the controller can lock none of its instances.
 */
async function buildFullRole(
  clients: WorldClients,
): Promise<{ readonly name: string; readonly arn: string }> {
  const { iam } = clients
  await iam.send(
    new CreateRoleCommand({
      RoleName: FULL_ROLE,
      AssumeRolePolicyDocument: EC2_TRUST_POLICY,
    }),
  )
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: FULL_ROLE,
      PolicyName: `${FULL_ROLE}-app`,
      PolicyDocument: JSON.stringify(inlinePolicyOfChars(INLINE_POLICY_BUDGET - 200)),
    }),
  )
  for (const name of READ_ONLY_POLICIES.slice(0, MANAGED_POLICY_QUOTA)) {
    await iam.send(
      new AttachRolePolicyCommand({ RoleName: FULL_ROLE, PolicyArn: `arn:aws:iam::aws:policy/${name}` }),
    )
  }
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: FULL_ROLE }))
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: FULL_ROLE, RoleName: FULL_ROLE }))
  return { name: FULL_ROLE, arn: required(profile.InstanceProfile?.Arn, 'instance profile ARN') }
}

/** An application policy about `chars` characters long (whitespace aside), as IAM counts them. */
function inlinePolicyOfChars(chars: number) {
  const resource = (index: number) => `arn:aws:s3:::warehouse-shelf-${String(index).padStart(4, '0')}/*`
  const resources: string[] = []
  // Each ARN adds its length plus two quotes and a comma.
  for (let used = 120; used + resource(0).length + 3 <= chars; used += resource(0).length + 3) {
    resources.push(resource(resources.length))
  }
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resources }],
  }
}
