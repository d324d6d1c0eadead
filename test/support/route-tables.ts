import {
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { type ObservedInstance, withEgress } from '../../handlers/aws/ec2-truth.js'
import type { KnownEgress } from '../../policy/environment.js'
import type { InstanceFacts } from '../../policy/lock/index.js'

/** The mocked EC2 the route-table tests of test/aws/ read through; reset it in each file's beforeEach. */
export const ec2Mock = mockClient(EC2Client)
/** The client handed to withEgress; its calls land on {@link ec2Mock}. */
export const ec2 = new EC2Client({ region: 'us-east-1' })
/** No shared-services egress declared: only what the route tables show counts. */
export const NO_KNOWN_EGRESS: KnownEgress = new Map()
/** withEgress over {@link ec2} for every one of `instances`, with no shared-services egress declared. */
export function egressOf(instances: readonly ObservedInstance[]): Promise<InstanceFacts[]> {
  return withEgress(ec2, instances, () => true, NO_KNOWN_EGRESS)
}
export const TGW = 'tgw-0123456789abcdef0'
export const PCX = 'pcx-0123456789abcdef0'
export const LGW = 'lgw-0123456789abcdef0'

/** The public address of NAT gateway nat-1 in the route-table tests of test/aws/. */
export const NAT_ADDRESS = '198.51.100.7'

/** An opted-in instance launching in subnet-private of vpc-1, with one private IPv4 address. */
export const launching: ObservedInstance = {
  instanceId: 'i-0a1b2c3d4e5f60001',
  state: 'pending',
  roleName: 'web',
  optedIn: true,
  publicIps: [],
  privateIps: ['10.0.2.10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: false }],
}

/** The same instance once it runs. */
export const running: ObservedInstance = { ...launching, state: 'running' }

/** A default route through NAT gateway nat-1. */
export const natDefault = {
  DestinationCidrBlock: '0.0.0.0/0',
  NatGatewayId: 'nat-1',
  State: 'active',
} as const

/**
 * {@link ec2Mock} answers DescribeRouteTables with `tables`, and DescribeNatGateways with nat-1 at
 * {@link NAT_ADDRESS}.
 */
export function routeTables(tables: RouteTable[]): void {
  ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables })
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [{ PublicIp: NAT_ADDRESS }] }],
  })
}
