/**
 * Company networks next to the Defenders world, built in moto the way a platform team would: a spoke VPC
 * routed to a transit gateway with endpoints in a shared-services VPC, an IPv6-only subnet with NAT64, a
 * second NAT gateway for a more specific public route, and an interface attached from another VPC.
 * What moto emulates of these (and how it differs from AWS) is listed at the top of world.ts.
 */
import {
  AllocateAddressCommand,
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AttachNetworkInterfaceCommand,
  CreateEgressOnlyInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  type CreateRouteCommandInput,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateTransitGatewayCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DescribeInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2'
import { type DefendersWorld, required } from './world.js'

type RouteTarget = Omit<CreateRouteCommandInput, 'RouteTableId'>

export interface SpokeNetwork {
  readonly spokeVpcId: string
  readonly spokeSubnetId: string
  readonly transitGatewayId: string
  /** The shared-services VPC the spoke reaches over the transit gateway. */
  readonly sharedVpcId: string
  /** An STS interface endpoint in the shared-services VPC: the one to list in trustedVpcEndpoints. */
  readonly sharedEndpointId: string
}

/** A spoke VPC that sends everything, the company's private ranges and the internet, to a transit gateway. */
export async function buildSpokeNetwork(ec2: EC2Client): Promise<SpokeNetwork> {
  const transitGateway = await ec2.send(new CreateTransitGatewayCommand({ Description: 'company hub' }))
  const transitGatewayId = required(transitGateway.TransitGateway?.TransitGatewayId, 'transit gateway id')
  const spokeVpcId = await createVpc(ec2, '10.20.0.0/16')
  const spokeSubnetId = await createSubnet(ec2, spokeVpcId, { CidrBlock: '10.20.1.0/24' })
  await routeSubnet(ec2, spokeVpcId, spokeSubnetId, [
    { DestinationCidrBlock: '10.0.0.0/8', TransitGatewayId: transitGatewayId },
    { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: transitGatewayId },
  ])
  const sharedVpcId = await createVpc(ec2, '10.30.0.0/16')
  const sharedSubnetId = await createSubnet(ec2, sharedVpcId, { CidrBlock: '10.30.1.0/24' })
  const endpoint = await ec2.send(
    new CreateVpcEndpointCommand({
      VpcId: sharedVpcId,
      VpcEndpointType: 'Interface',
      ServiceName: `com.amazonaws.${await ec2.config.region()}.sts`,
      SubnetIds: [sharedSubnetId],
    }),
  )
  const sharedEndpointId = required(endpoint.VpcEndpoint?.VpcEndpointId, 'VPC endpoint id')
  return { spokeVpcId, spokeSubnetId, transitGatewayId, sharedVpcId, sharedEndpointId }
}

export interface Ipv6OnlyNetwork {
  readonly vpcId: string
  readonly subnetId: string
  readonly egressOnlyGatewayId: string
  readonly natGatewayId: string
  readonly natPublicIp: string
}

/**
 * A dual-stack VPC with an IPv6-only subnet: IPv6 leaves through an egress-only internet gateway, and IPv4-only
 * endpoints are reached through DNS64 and the NAT64 prefix, routed to a public NAT gateway.
 */
export async function buildIpv6OnlyNetwork(ec2: EC2Client): Promise<Ipv6OnlyNetwork> {
  const created = await ec2.send(
    new CreateVpcCommand({ CidrBlock: '10.40.0.0/16', AmazonProvidedIpv6CidrBlock: true }),
  )
  const vpcId = required(created.Vpc?.VpcId, 'VPC id')
  const vpcIpv6 = required(created.Vpc?.Ipv6CidrBlockAssociationSet?.[0]?.Ipv6CidrBlock, 'VPC IPv6 block')
  const publicSubnetId = await createSubnet(ec2, vpcId, { CidrBlock: '10.40.1.0/24' })
  const internetGateway = await ec2.send(new CreateInternetGatewayCommand({}))
  const internetGatewayId = required(
    internetGateway.InternetGateway?.InternetGatewayId,
    'internet gateway id',
  )
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId }))
  await routeSubnet(ec2, vpcId, publicSubnetId, [
    { DestinationCidrBlock: '0.0.0.0/0', GatewayId: internetGatewayId },
  ])
  const nat = await createNatGateway(ec2, publicSubnetId)
  const egressOnly = await ec2.send(new CreateEgressOnlyInternetGatewayCommand({ VpcId: vpcId }))
  const egressOnlyGatewayId = required(
    egressOnly.EgressOnlyInternetGateway?.EgressOnlyInternetGatewayId,
    'egress-only internet gateway id',
  )
  // The VPC's /56 and its first /64 share their text up to the prefix length.
  const subnetId = await createSubnet(ec2, vpcId, {
    Ipv6Native: true,
    Ipv6CidrBlock: vpcIpv6.replace(/\/56$/, '/64'),
  })
  await routeSubnet(ec2, vpcId, subnetId, [
    { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: egressOnlyGatewayId },
    { DestinationIpv6CidrBlock: '64:ff9b::/96', NatGatewayId: nat.natGatewayId },
  ])
  return { vpcId, subnetId, egressOnlyGatewayId, ...nat }
}

export interface NatGateway {
  readonly natGatewayId: string
  readonly natPublicIp: string
}

/** A second public NAT gateway, and a more specific route to it from the Defenders' private subnet. */
export async function routeRangeThroughSecondNat(
  ec2: EC2Client,
  world: Pick<DefendersWorld, 'publicSubnet' | 'privateSubnet'>,
  destination: string,
): Promise<NatGateway> {
  const nat = await createNatGateway(ec2, world.publicSubnet.subnetId)
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: world.privateSubnet.routeTableId,
      DestinationCidrBlock: destination,
      NatGatewayId: nat.natGatewayId,
    }),
  )
  return nat
}

export interface ForeignInterface {
  readonly vpcId: string
  readonly networkInterfaceId: string
  readonly privateIp: string
}

/** A VPC with only its local route, and one of its interfaces attached to the instance as eth1. */
export async function attachInterfaceFromAnotherVpc(
  ec2: EC2Client,
  instanceId: string,
): Promise<ForeignInterface> {
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
  const zone = described.Reservations?.[0]?.Instances?.[0]?.Placement?.AvailabilityZone
  const vpcId = await createVpc(ec2, '10.50.0.0/16')
  // AWS attaches an interface of another VPC only in the instance's availability zone.
  const subnetId = await createSubnet(ec2, vpcId, { CidrBlock: '10.50.1.0/24', AvailabilityZone: zone })
  const created = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }))
  const networkInterfaceId = required(created.NetworkInterface?.NetworkInterfaceId, 'network interface id')
  await ec2.send(
    new AttachNetworkInterfaceCommand({
      NetworkInterfaceId: networkInterfaceId,
      InstanceId: instanceId,
      DeviceIndex: 1,
    }),
  )
  return {
    vpcId,
    networkInterfaceId,
    privateIp: required(created.NetworkInterface?.PrivateIpAddress, 'network interface private IP'),
  }
}

async function createVpc(ec2: EC2Client, cidr: string): Promise<string> {
  return required((await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc?.VpcId, 'VPC id')
}

async function createSubnet(
  ec2: EC2Client,
  vpcId: string,
  addressing: {
    CidrBlock?: string
    Ipv6CidrBlock?: string
    Ipv6Native?: boolean
    AvailabilityZone?: string | undefined
  },
): Promise<string> {
  const created = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, ...addressing }))
  return required(created.Subnet?.SubnetId, 'subnet id')
}

async function createNatGateway(ec2: EC2Client, publicSubnetId: string): Promise<NatGateway> {
  const allocation = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))
  const nat = await ec2.send(
    new CreateNatGatewayCommand({ SubnetId: publicSubnetId, AllocationId: allocation.AllocationId }),
  )
  return {
    natGatewayId: required(nat.NatGateway?.NatGatewayId, 'NAT gateway id'),
    natPublicIp: required(allocation.PublicIp, 'NAT Elastic IP'),
  }
}

/** A route table of its own for the subnet, with these routes besides the local ones. */
async function routeSubnet(
  ec2: EC2Client,
  vpcId: string,
  subnetId: string,
  routes: readonly RouteTarget[],
): Promise<void> {
  const created = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))
  const routeTableId = required(created.RouteTable?.RouteTableId, 'route table id')
  for (const route of routes) await ec2.send(new CreateRouteCommand({ RouteTableId: routeTableId, ...route }))
  await ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId, SubnetId: subnetId }))
}
