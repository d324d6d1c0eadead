/**
 * Which routes of a subnet carry an instance's calls to AWS public endpoints (egressRoutes), and which route
 * table a subnet reads them from: its own, else its VPC's main table; a blackhole or a table without routes
 * leads nowhere.
 */
import { DescribeNatGatewaysCommand, type Route } from '@aws-sdk/client-ec2'
import { beforeEach, describe, expect, it } from 'vitest'
import { type EgressRoute, egressRoutes } from '../../handlers/aws/ec2-truth.js'
import {
  ec2Mock,
  egressOf,
  LGW,
  launching,
  NAT_ADDRESS,
  natDefault,
  PCX,
  routeTables,
  TGW,
} from '../support/route-tables.js'

const VGW = 'vgw-0123456789abcdef0'

beforeEach(() => ec2Mock.reset())

describe('egressRoutes: which routes can carry calls to AWS public endpoints', () => {
  it.each<[string, Route]>([
    ['the local route', { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }],
    ['a blackhole', { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'blackhole' }],
    ['a gateway endpoint', { DestinationPrefixListId: 'pl-63a5400a', GatewayId: 'vpce-0123456789abcdef0' }],
    ['another VPC over a transit gateway', { DestinationCidrBlock: '10.0.0.0/8', TransitGatewayId: TGW }],
    ['the company network over a VPN', { DestinationCidrBlock: '172.16.0.0/12', GatewayId: 'vgw-1' }],
    ['a peered VPC', { DestinationCidrBlock: '192.168.4.0/24', VpcPeeringConnectionId: PCX }],
    ['a shared-space (CGNAT) VPC range', { DestinationCidrBlock: '100.64.0.0/16', TransitGatewayId: TGW }],
    ['an IPv6 unique local range', { DestinationIpv6CidrBlock: 'fd00:10::/32', TransitGatewayId: TGW }],
  ])('leaves out %s', (_, route) => {
    // Act
    const routes = egressRoutes({ Routes: [route] })

    // Assess
    expect(routes).toEqual([])
  })

  it.each<[string, Route, unknown]>([
    [
      'the IPv4 default route',
      { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: TGW },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'unseen', id: TGW, what: 'transit gateway' } },
    ],
    [
      'a more specific public route',
      { DestinationCidrBlock: '3.5.0.0/16', NatGatewayId: 'nat-2' },
      { destination: '3.5.0.0/16', family: 4, target: { kind: 'nat-gateway', id: 'nat-2' } },
    ],
    [
      'the IPv6 default route to an egress-only gateway',
      { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: 'eigw-1' },
      { destination: '::/0', family: 6, target: { kind: 'own-address' } },
    ],
    [
      'NAT64',
      { DestinationIpv6CidrBlock: '64:ff9b::/96', NatGatewayId: 'nat-1' },
      { destination: '64:ff9b::/96', family: 6, target: { kind: 'nat-gateway', id: 'nat-1' } },
    ],
    [
      'a route to a NAT instance',
      { DestinationCidrBlock: '0.0.0.0/0', InstanceId: 'i-0nat', NetworkInterfaceId: 'eni-nat' },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'nat-instance', id: 'eni-nat' } },
    ],
    [
      'a Wavelength carrier gateway',
      { DestinationCidrBlock: '0.0.0.0/0', CarrierGatewayId: 'cagw-1' },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'own-address' } },
    ],
    [
      'a customer prefix list (its entries are not read: both families)',
      { DestinationPrefixListId: 'pl-0123456789abcdef0', TransitGatewayId: TGW },
      {
        destination: 'pl-0123456789abcdef0',
        family: 'both',
        target: { kind: 'unseen', id: TGW, what: 'transit gateway' },
      },
    ],
  ])('keeps %s', (_, route, expected) => {
    // Act
    const routes = egressRoutes({ Routes: [route] })

    // Assess
    expect(routes).toEqual([expected])
  })
})

describe('egressRoutes: a local or undestined route left out, a target it cannot see through kept', () => {
  it.each<[string, Route]>([
    [
      'the IPv6 local route of a dual-stack VPC (a global range)',
      { DestinationIpv6CidrBlock: '2600:1f18:1234:5600::/56', GatewayId: 'local', State: 'active' },
    ],
    ['a route EC2 gives no destination', { NatGatewayId: 'nat-1', State: 'active' }],
  ])('leaves out %s', (_, route) => {
    // Act
    const routes = egressRoutes({ Routes: [route] })

    // Assess
    expect(routes).toEqual([])
  })

  it.each<[string, Route, EgressRoute]>([
    [
      'a prefix-list route to a virtual private gateway (not a gateway endpoint)',
      { DestinationPrefixListId: 'pl-0123456789abcdef0', GatewayId: VGW },
      {
        destination: 'pl-0123456789abcdef0',
        family: 'both',
        target: { kind: 'unseen', id: VGW, what: 'virtual private gateway' },
      },
    ],
    [
      'a route to an Outposts local gateway',
      { DestinationCidrBlock: '0.0.0.0/0', LocalGatewayId: LGW },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'unseen', id: LGW, what: 'local gateway' } },
    ],
    [
      'a route to a target EC2 does not name',
      { DestinationCidrBlock: '0.0.0.0/0' },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'unseen', id: 'unnamed', what: 'gateway' } },
    ],
    [
      'a route to a gateway of a kind the controller does not know',
      { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'xgw-1' },
      { destination: '0.0.0.0/0', family: 4, target: { kind: 'unseen', id: 'xgw-1', what: 'gateway' } },
    ],
  ])('keeps %s, as a target it cannot see through', (_, route, expected) => {
    // Act
    const routes = egressRoutes({ Routes: [route] })

    // Assess
    expect(routes).toEqual([expected])
  })
})

describe('withEgress: which route table a launching instance reads its default route from', () => {
  it('leads nowhere when it is a blackhole: nothing is looked up behind it', async () => {
    // Prepare: the NAT gateway was deleted; its route stays as a blackhole.
    routeTables([
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-private' }],
        Routes: [{ ...natDefault, State: 'blackhole' }],
      },
    ])

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toEqual([])
    expect(ec2Mock.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(0)
  })

  it.each([
    ['a virtual private gateway', { GatewayId: 'vgw-1' }],
    ['a gateway whose ID only contains igw-', { GatewayId: 'vgw-igw-1' }],
  ])('is unknown egress through %s, never guessed', async (_, target) => {
    // Prepare
    routeTables([
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-private' }],
        Routes: [{ DestinationCidrBlock: '0.0.0.0/0', State: 'active', ...target }],
      },
    ])

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toBe('unknown')
  })

  it("falls back to its own VPC's main route table when no table names its subnet", async () => {
    // Prepare: another VPC's main table comes first and routes nowhere.
    routeTables([
      { VpcId: 'vpc-2', Associations: [{ Main: true }], Routes: [] },
      { VpcId: 'vpc-1', Associations: [{ Main: false, SubnetId: 'subnet-other' }], Routes: [] },
      {
        VpcId: 'vpc-1',
        Associations: [{ Main: true }, { Main: false, SubnetId: 'subnet-elsewhere' }],
        Routes: [natDefault],
      },
    ])

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toEqual([NAT_ADDRESS])
  })

  it('reads a table EC2 lists without associations or routes as leading nowhere', async () => {
    // Prepare
    routeTables([{ VpcId: 'vpc-1' }, { VpcId: 'vpc-1', Associations: [{ Main: true }] }])

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toEqual([])
  })

  it('prefers the table that names its subnet over the main table', async () => {
    // Prepare
    routeTables([
      { VpcId: 'vpc-1', Associations: [{ Main: true }], Routes: [natDefault] },
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-private' }],
        Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }],
      },
    ])

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toEqual([])
  })
})
