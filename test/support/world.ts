/**
 * The Defenders world, built in moto through injected SDK v3 clients.
 *
 * What moto 5.2.1 really returns (checked against this server; the controller must not depend on the quirks):
 * - DescribeInstances: `NetworkInterfaces[].Association` is `{}` (present but empty) when the ENI has no
 *   public IP; check `Association?.PublicIp`, not `Association`. With one, it carries `PublicIp`, `IpOwnerId`
 *   and `PublicDnsName` (no association or allocation id), on the ENI and on `PrivateIpAddresses[]`.
 * - Auto-assigned public IPs look real (54.214.x.x); Elastic IPs come from 127.0.0.0/8. Both are valid IPv4
 *   for `toCidr`, but never treat 127/8 as "not public" in code that runs against moto.
 * - Stop/start replaces an auto-assigned public IP (running → new 54.214.x.x; stopped → none).
 *   QUIRK: an instance with an Elastic IP loses it in DescribeInstances when stopped and comes back with a
 *   fresh auto-assigned IP, while DescribeAddresses still shows the Elastic IP associated to it. Real AWS keeps
 *   the Elastic IP through stop/start.
 * - Associating an Elastic IP replaces the public IP; disassociating it gives the instance a new
 *   auto-assigned IP (as AWS does when the subnet/ENI auto-assigns).
 * - QUIRK: DescribeAddresses of an Elastic IP associated by network interface shows `InstanceId: ""`; after
 *   TerminateInstances the Elastic IP still shows as associated to the terminated instance.
 * - `IamInstanceProfile` stays on stopped instances and is absent on terminated ones.
 *   QUIRK: its `Id` is the association id (`iip-assoc-…`), not the profile id (`AIPA…`).
 * - QUIRK: ReplaceIamInstanceProfileAssociation updates DescribeIamInstanceProfileAssociations but NOT
 *   DescribeInstances (still the old profile). Associate/Disassociate update both.
 * - DescribeIamInstanceProfileAssociations supports the `instance-id` filter; DescribeInstances fails with
 *   HTTP 500 for the `iam-instance-profile.arn` and `iam-instance-profile.name` filters. `tag:<key>` works.
 * - `StateTransitionReason` is `""` while running and `"User initiated (YYYY-MM-DD HH:MM:SS UTC)"` when stopped
 *   or terminated; `StateReason.Code` is then `Client.UserInitiatedShutdown`. Instances are `running` at the
 *   first DescribeInstances after RunInstances (`pending` only in the RunInstances answer).
 * - Deleting the last tag leaves `Tags` undefined, not `[]`.
 * - NAT gateways are `available` at once; `NatGatewayAddresses[].PublicIp` is the Elastic IP (127/8). Its
 *   `PrivateIp` is not inside the subnet's CIDR.
 * - DescribeRouteTables (filter `association.subnet-id`) returns the private subnet's `0.0.0.0/0`
 *   route with `NatGatewayId` (state `active`), plus the `local` route.
 * - RunInstances with MinCount > 1 attaches the instance profile to the first instance only.
 * - Company networks (checked with small experiments against this server):
 *   - Transit gateways, egress-only internet gateways, virtual private gateways and peering connections exist
 *     and can be route targets; CreateRoute checks that a peering connection or VPC endpoint exists.
 *   - IPv6 routes (`DestinationIpv6CidrBlock`, `::/0` to `EgressOnlyInternetGatewayId`, `64:ff9b::/96` to a
 *     NAT gateway) come back as given. A VPC with AmazonProvidedIpv6CidrBlock gets a /56 from 2400:6500::/32,
 *     plus a `local` route for it.
 *   - A Gateway Load Balancer endpoint as a route target (`VpcEndpointId`) comes back as `GatewayId: vpce-…`,
 *     as in AWS; an interface endpoint is refused as a target (RouteNotSupported). A gateway endpoint adds a
 *     route with `DestinationPrefixListId` and `GatewayId: vpce-…` to its route tables.
 *   - A private NAT gateway (`ConnectivityType: private`) has only `PrivateIp` in `NatGatewayAddresses`.
 *   - QUIRK: an instance in an IPv6-only subnet (`Ipv6Native`) gets an IPv6 address as `PrivateIpAddress`
 *     (also in `PrivateIpAddresses`); AWS gives it no private IPv4 and no such field. The top-level
 *     `Ipv6Address` stays empty (IsPrimaryIpv6 false); the address is in `NetworkInterfaces[].Ipv6Addresses`.
 *   - A network interface from another VPC attaches to an instance (AttachNetworkInterface, device index 1) and
 *     shows in DescribeInstances with its own `VpcId` and `SubnetId`; moto does not check the availability zone.
 *   - QUIRK: `LaunchTime` does not change on stop/start (AWS sets it at every start).
 *   - DescribeRouteTables takes several VPC IDs in one `vpc-id` filter.
 * - AWS managed policies exist only because `startMoto` sets MOTO_IAM_LOAD_MANAGED_POLICIES=true; the first
 *   IAM call of an account then takes about a second.
 */
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DisassociateAddressCommand,
  type EC2Client,
  type Instance,
  ModifySubnetAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  type IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { isOptedIn } from '../../policy/lock/index.js'
import type { AddressTarget } from './events.js'
import type { InstanceCredentials } from './simulate.js'

export const OPT_IN_TAG = { key: 'credential-lock', value: 'enabled' } as const
export const DEFENDERS = 'defenders'
export const DEFENDERS_APP_POLICY = 'defenders-app'
export const EC2_READ_ONLY_POLICY_ARN = 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess'

/** The trust policy of an instance role: EC2 may hand its credentials to instances. */
export const EC2_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
})

const VPC_CIDR = '10.0.0.0/16'
const PUBLIC_SUBNET_CIDR = '10.0.1.0/24'
const PRIVATE_SUBNET_CIDR = '10.0.2.0/24'
const DEFAULT_ROUTE = '0.0.0.0/0'

export interface WorldClients {
  readonly ec2: EC2Client
  readonly iam: IAMClient
}

/** One instance as DescribeInstances shows it now. */
export interface WorldInstance {
  readonly instanceId: string
  readonly arn: string
  readonly name: string | undefined
  readonly state: string | undefined
  readonly subnetId: string | undefined
  readonly networkInterfaceId: string | undefined
  readonly privateIp: string | undefined
  readonly publicIp: string | undefined
  readonly instanceProfileArn: string | undefined
  readonly optedIn: boolean
  /** When it last started (EC2 updates LaunchTime on every start). */
  readonly launchedAt: Date | undefined
}

export interface DefendersWorld {
  readonly accountId: string
  readonly region: string
  readonly imageId: string
  readonly vpcId: string
  readonly publicSubnet: {
    readonly subnetId: string
    readonly routeTableId: string
    readonly internetGatewayId: string
  }
  readonly privateSubnet: {
    readonly subnetId: string
    readonly routeTableId: string
    readonly natGatewayId: string
    readonly natPublicIp: string
  }
  readonly role: { readonly roleName: string; readonly roleArn: string }
  readonly instanceProfile: { readonly name: string; readonly arn: string }
  /** Public subnet, public IP, opted in. */
  readonly luke: WorldInstance
  /** Public subnet, same role, not opted in. */
  readonly matt: WorldInstance
  /** Private subnet behind the NAT gateway, opted in. */
  readonly danny: WorldInstance
}

/** One of the Defenders subnets, or any other subnet by ID (the company networks). */
export type WorldSubnet = 'public' | 'private' | { readonly subnetId: string }

export interface LaunchOptions {
  readonly subnet: WorldSubnet
  readonly name: string
  readonly optedIn: boolean
  /** IPv6 addresses to assign (the subnet needs an IPv6 block). @default 0 */
  readonly ipv6Addresses?: number
}

export async function buildDefendersWorld(clients: WorldClients): Promise<DefendersWorld> {
  const { ec2 } = clients
  const [network, identity, imageId, region] = await Promise.all([
    buildNetwork(ec2),
    buildIdentity(clients.iam),
    firstImageId(ec2),
    ec2.config.region(),
  ])
  const partial = {
    ...network,
    ...identity,
    imageId,
    region,
    accountId: identity.role.roleArn.split(':')[4] ?? '',
  }
  // One at a time: moto attaches the profile to the first instance of a multi-instance RunInstances only.
  const luke = await launchOnRole(ec2, partial, { subnet: 'public', name: 'luke', optedIn: true })
  const matt = await launchOnRole(ec2, partial, { subnet: 'public', name: 'matt', optedIn: false })
  const danny = await launchOnRole(ec2, partial, { subnet: 'private', name: 'danny', optedIn: true })
  return { ...partial, luke, matt, danny }
}

/** Launches one more instance with the world's instance profile, e.g. for burst tests. */
export async function launchOnRole(
  ec2: EC2Client,
  world: Pick<DefendersWorld, 'imageId' | 'instanceProfile' | 'publicSubnet' | 'privateSubnet'>,
  options: LaunchOptions,
): Promise<WorldInstance> {
  const tags = [{ Key: 'Name', Value: options.name }]
  if (options.optedIn) tags.push({ Key: OPT_IN_TAG.key, Value: OPT_IN_TAG.value })
  const launched = await ec2.send(
    new RunInstancesCommand({
      ImageId: world.imageId,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetIdOf(world, options.subnet),
      ...(options.ipv6Addresses ? { Ipv6AddressCount: options.ipv6Addresses } : {}),
      IamInstanceProfile: { Arn: world.instanceProfile.arn },
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
    }),
  )
  return readInstance(ec2, required(launched.Instances?.[0]?.InstanceId, 'RunInstances instance id'))
}

function subnetIdOf(
  world: Pick<DefendersWorld, 'publicSubnet' | 'privateSubnet'>,
  subnet: WorldSubnet,
): string {
  if (subnet === 'public') return world.publicSubnet.subnetId
  if (subnet === 'private') return world.privateSubnet.subnetId
  return subnet.subnetId
}

export async function readInstance(ec2: EC2Client, instanceId: string): Promise<WorldInstance> {
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
  const reservation = required(described.Reservations?.[0], `reservation of ${instanceId}`)
  const instance = required(reservation.Instances?.[0], `instance ${instanceId}`)
  const arnPrefix = `arn:aws:ec2:${await ec2.config.region()}:${reservation.OwnerId}:instance/`
  return toWorldInstance(instance, arnPrefix)
}

export interface ElasticIp {
  readonly allocationId: string
  readonly associationId: string
  readonly publicIp: string
}

export async function allocateAndAssociateEip(ec2: EC2Client, target: AddressTarget): Promise<ElasticIp> {
  const allocated = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))
  const allocationId = required(allocated.AllocationId, 'AllocateAddress allocation id')
  const associated = await ec2.send(
    new AssociateAddressCommand(
      'instanceId' in target
        ? { AllocationId: allocationId, InstanceId: target.instanceId }
        : { AllocationId: allocationId, NetworkInterfaceId: target.networkInterfaceId },
    ),
  )
  return {
    allocationId,
    associationId: required(associated.AssociationId, 'AssociateAddress association id'),
    publicIp: required(allocated.PublicIp, 'AllocateAddress public IP'),
  }
}

export async function disassociateEip(ec2: EC2Client, associationId: string): Promise<void> {
  await ec2.send(new DisassociateAddressCommand({ AssociationId: associationId }))
}

export async function stopInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }))
}

export async function startInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }))
}

export async function terminateInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
}

/** Adds or removes the opt-in tag, as an operator would. */
export async function setOptIn(ec2: EC2Client, instanceId: string, on: boolean): Promise<void> {
  if (on) {
    const tag = { Key: OPT_IN_TAG.key, Value: OPT_IN_TAG.value }
    await ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [tag] }))
  } else {
    await ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: OPT_IN_TAG.key }] }))
  }
}

async function buildNetwork(ec2: EC2Client) {
  const vpcId = required((await ec2.send(new CreateVpcCommand({ CidrBlock: VPC_CIDR }))).Vpc?.VpcId, 'VPC id')
  const [publicSubnetId, privateSubnetId, internetGatewayId] = await Promise.all([
    createSubnet(ec2, vpcId, PUBLIC_SUBNET_CIDR),
    createSubnet(ec2, vpcId, PRIVATE_SUBNET_CIDR),
    createInternetGateway(ec2, vpcId),
  ])
  await ec2.send(
    new ModifySubnetAttributeCommand({ SubnetId: publicSubnetId, MapPublicIpOnLaunch: { Value: true } }),
  )
  const publicRouteTableId = await routeDefaultThrough(ec2, vpcId, publicSubnetId, {
    GatewayId: internetGatewayId,
  })
  const natAllocation = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))
  const nat = await ec2.send(
    new CreateNatGatewayCommand({ SubnetId: publicSubnetId, AllocationId: natAllocation.AllocationId }),
  )
  const natGatewayId = required(nat.NatGateway?.NatGatewayId, 'NAT gateway id')
  const privateRouteTableId = await routeDefaultThrough(ec2, vpcId, privateSubnetId, {
    NatGatewayId: natGatewayId,
  })
  return {
    vpcId,
    publicSubnet: { subnetId: publicSubnetId, routeTableId: publicRouteTableId, internetGatewayId },
    privateSubnet: {
      subnetId: privateSubnetId,
      routeTableId: privateRouteTableId,
      natGatewayId,
      natPublicIp: required(natAllocation.PublicIp, 'NAT Elastic IP'),
    },
  }
}

async function createSubnet(ec2: EC2Client, vpcId: string, cidr: string): Promise<string> {
  const created = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr }))
  return required(created.Subnet?.SubnetId, 'subnet id')
}

async function createInternetGateway(ec2: EC2Client, vpcId: string): Promise<string> {
  const created = await ec2.send(new CreateInternetGatewayCommand({}))
  const internetGatewayId = required(created.InternetGateway?.InternetGatewayId, 'internet gateway id')
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId }))
  return internetGatewayId
}

async function routeDefaultThrough(
  ec2: EC2Client,
  vpcId: string,
  subnetId: string,
  target: { readonly GatewayId: string } | { readonly NatGatewayId: string },
): Promise<string> {
  const created = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))
  const routeTableId = required(created.RouteTable?.RouteTableId, 'route table id')
  await ec2.send(
    new CreateRouteCommand({ RouteTableId: routeTableId, DestinationCidrBlock: DEFAULT_ROUTE, ...target }),
  )
  await ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId, SubnetId: subnetId }))
  return routeTableId
}

async function buildIdentity(iam: IAMClient) {
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: DEFENDERS,
      AssumeRolePolicyDocument: EC2_TRUST_POLICY,
    }),
  )
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: DEFENDERS,
      PolicyName: DEFENDERS_APP_POLICY,
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::defenders-reports/*' },
        ],
      }),
    }),
  )
  await iam.send(new AttachRolePolicyCommand({ RoleName: DEFENDERS, PolicyArn: EC2_READ_ONLY_POLICY_ARN }))
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: DEFENDERS }))
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: DEFENDERS, RoleName: DEFENDERS }))
  return {
    role: { roleName: DEFENDERS, roleArn: required(role.Role?.Arn, 'role ARN') },
    instanceProfile: { name: DEFENDERS, arn: required(profile.InstanceProfile?.Arn, 'instance profile ARN') },
  }
}

async function firstImageId(ec2: EC2Client): Promise<string> {
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }))
  return required(images.Images?.[0]?.ImageId, 'an Amazon image id')
}

function toWorldInstance(instance: Instance, arnPrefix: string): WorldInstance {
  const instanceId = required(instance.InstanceId, 'instance id')
  const tags = instance.Tags ?? []
  return {
    instanceId,
    arn: `${arnPrefix}${instanceId}`,
    name: tags.find((tag) => tag.Key === 'Name')?.Value,
    state: instance.State?.Name,
    subnetId: instance.SubnetId,
    networkInterfaceId: instance.NetworkInterfaces?.[0]?.NetworkInterfaceId,
    privateIp: instance.PrivateIpAddress,
    publicIp: instance.PublicIpAddress,
    instanceProfileArn: instance.IamInstanceProfile?.Arn,
    optedIn: isOptedIn(tags, OPT_IN_TAG),
    launchedAt: instance.LaunchTime,
  }
}

/** The value moto returned, or an error naming what it left out. */
export function required<Value>(value: Value | undefined | null, what: string): Value {
  if (value === undefined || value === null) throw new Error(`moto returned no ${what}`)
  return value
}

/** The credential a Defenders worker carries (stolen or not). */
export function workerCredentials(world: DefendersWorld, worker: WorldInstance): InstanceCredentials {
  return {
    accountId: world.accountId,
    region: world.region,
    roleName: DEFENDERS,
    instanceId: worker.instanceId,
    vpcId: world.vpcId,
    privateIpv4: worker.privateIp,
  }
}
