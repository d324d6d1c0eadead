/**
 * withEgress: where a private instance reaches AWS public endpoints from, read from its subnets' route tables
 * over a mocked EC2: the public addresses of NAT gateways, transit gateways and peering connections through
 * knownEgress, IPv6 routes, a second interface in another VPC, and what the reading costs in look-ups. Which
 * route can carry the calls is in ec2-truth-routes.test.ts, NAT instances and unseen targets in
 * ec2-truth-route-targets.test.ts.
 */
import {
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  type Route,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import { beforeEach, describe, expect, it } from 'vitest'
import { type ObservedInstance, withEgress } from '../../handlers/aws/ec2-truth.js'
import { ec2, ec2Mock, egressOf, NO_KNOWN_EGRESS, PCX, running, TGW } from '../support/route-tables.js'

const NAT_PUBLIC_IP = '198.51.100.7'

const privateInstance: ObservedInstance = { ...running, primaryPrivateIpv4: '10.0.2.10', otherVpcIds: [] }

const dualStackInstance: ObservedInstance = {
  ...privateInstance,
  publicIps: ['2001:db8:2::10'],
  privateIps: ['10.0.2.10', '2001:db8:2::10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: true }],
}

function table(subnetId: string, routes: Route[], vpcId = 'vpc-1'): RouteTable {
  return {
    VpcId: vpcId,
    Associations: [{ SubnetId: subnetId }],
    Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' }, ...routes],
  }
}

function routeTables(...tables: RouteTable[]) {
  ec2Mock.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        VpcId: 'vpc-1',
        Associations: [{ Main: true }],
        Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }],
      },
      ...tables,
    ],
  })
}

function defaultRoute(route: Partial<Route>) {
  routeTables(table('subnet-private', [{ DestinationCidrBlock: '0.0.0.0/0', State: 'active', ...route }]))
}

function natGateways(...nats: { id: string; publicIp?: string }[]) {
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: nats.map(({ id, publicIp }) => ({
      NatGatewayId: id,
      NatGatewayAddresses: [publicIp ? { PublicIp: publicIp } : { PrivateIp: '10.0.9.9' }],
    })),
  })
}

beforeEach(() => ec2Mock.reset())

describe('withEgress: where a private instance reaches AWS from', () => {
  it.each([
    ['a NAT gateway', { NatGatewayId: 'nat-1' }, [NAT_PUBLIC_IP]],
    ['a NAT instance', { NetworkInterfaceId: 'eni-nat' }, ['198.51.100.9']],
    ['an internet gateway (it leaves from its own address)', { GatewayId: 'igw-1' }, []],
  ])('through %s', async (_, route, expected) => {
    // Prepare
    defaultRoute(route)
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP })
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        {
          NetworkInterfaceId: 'eni-nat',
          PrivateIpAddresses: [{ Association: { PublicIp: '198.51.100.9' } }],
        },
      ],
    })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressIps).toEqual(expected)
  })

  it('through a NAT gateway with secondary Elastic IPs: every one of its public addresses', async () => {
    // Prepare: traffic through a NAT gateway leaves by any of its addresses, the primary one or a secondary one.
    defaultRoute({ NatGatewayId: 'nat-1' })
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [
        {
          NatGatewayId: 'nat-1',
          NatGatewayAddresses: [
            { PrivateIp: '10.0.0.20', PublicIp: NAT_PUBLIC_IP, IsPrimary: true, Status: 'succeeded' },
            { PrivateIp: '10.0.0.21', PublicIp: '198.51.100.8', IsPrimary: false, Status: 'succeeded' },
            { PrivateIp: '10.0.0.22', IsPrimary: false, Status: 'succeeded' },
            { PrivateIp: '10.0.0.23', PublicIp: '203.0.113.40', IsPrimary: false, Status: 'succeeded' },
          ],
        },
      ],
    })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess: a workload behind it would be refused whenever its call left by an address the lock left out.
    expect(facts?.egressIps).toEqual([NAT_PUBLIC_IP, '198.51.100.8', '203.0.113.40'])
  })

  it.each([
    ['a transit gateway', { TransitGatewayId: TGW }, `transit gateway ${TGW}`, TGW],
    ['a VPC peering', { VpcPeeringConnectionId: PCX }, `peering connection ${PCX}`, PCX],
    [
      'a firewall endpoint',
      { GatewayId: 'vpce-0123456789abcdef0' },
      'VPC endpoint vpce-0123456789abcdef0',
      'vpce-0123456789abcdef0',
    ],
    [
      'a virtual private gateway',
      { GatewayId: 'vgw-0123456789abcdef0' },
      'virtual private gateway vgw-0123456789abcdef0',
      'vgw-0123456789abcdef0',
    ],
  ])(
    'through %s, not in knownEgress: unknown, and the reason names the target and the setting',
    async (_, route, target, id) => {
      // Prepare
      defaultRoute(route)

      // Act
      const [facts] = await egressOf([privateInstance])

      // Assess
      expect(facts).toMatchObject({
        egressIps: 'unknown',
        egressUnknownReason:
          `its route 0.0.0.0/0 to ${target} leads where the controller cannot see the public egress: add ` +
          `"${id}" (or "*") to the knownEgress setting with the public CIDRs that traffic leaves by.`,
      })
    },
  )

  it('through a transit gateway in knownEgress: its declared CIDRs', async () => {
    // Prepare
    defaultRoute({ TransitGatewayId: TGW })
    const knownEgress = new Map([[TGW, ['203.0.113.0/28', '203.0.113.64/28']]])

    // Act
    const [facts] = await withEgress(ec2, [privateInstance], () => true, knownEgress)

    // Assess
    expect(facts?.egressIps).toEqual(['203.0.113.0/28', '203.0.113.64/28'])
    expect(facts?.egressUnknownReason).toBeUndefined()
  })

  it('through a peering connection covered by "*": the catch-all CIDRs; a listed target keeps its own', async () => {
    // Prepare
    routeTables(
      table('subnet-private', [
        { DestinationCidrBlock: '0.0.0.0/0', VpcPeeringConnectionId: PCX },
        { DestinationCidrBlock: '52.94.0.0/16', TransitGatewayId: TGW },
      ]),
    )
    const knownEgress = new Map([
      ['*', ['203.0.113.0/28']],
      [TGW, ['192.0.2.0/28']],
    ])

    // Act
    const [facts] = await withEgress(ec2, [privateInstance], () => true, knownEgress)

    // Assess
    expect(facts?.egressIps).toEqual(['203.0.113.0/28', '192.0.2.0/28'])
  })

  it('treats a private NAT gateway (no public address) as unknown egress unless knownEgress names it', async () => {
    // Prepare
    defaultRoute({ NatGatewayId: 'nat-0123456789abcdef0' })
    natGateways({ id: 'nat-0123456789abcdef0' })
    const declared = new Map([['nat-0123456789abcdef0', ['203.0.113.8/29']]])

    // Act
    const [unknown] = await withEgress(ec2, [privateInstance], () => true, NO_KNOWN_EGRESS)
    const [known] = await withEgress(ec2, [privateInstance], () => true, declared)

    // Assess
    expect(unknown).toMatchObject({
      egressIps: 'unknown',
      egressUnknownReason:
        'its route 0.0.0.0/0 to NAT gateway without a public address nat-0123456789abcdef0 leads where the ' +
        'controller cannot see the public egress: add "nat-0123456789abcdef0" (or "*") to the knownEgress ' +
        'setting with the public CIDRs that traffic leaves by.',
    })
    expect(known?.egressIps).toEqual(['203.0.113.8/29'])
  })

  it('names every unseen target in one sentence, and "*" alone for a target no key can name', async () => {
    // Prepare
    routeTables(
      table('subnet-private', [
        { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: TGW },
        { DestinationCidrBlock: '52.94.0.0/16', CoreNetworkArn: 'arn:aws:networkmanager::1:core-network/x' },
      ]),
    )

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressUnknownReason).toBe(
      `its routes 0.0.0.0/0 to transit gateway ${TGW} and 52.94.0.0/16 to core network ` +
        'arn:aws:networkmanager::1:core-network/x lead where the controller cannot see the public egress: add ' +
        `"${TGW}" and "*" to the knownEgress setting with the public CIDRs that traffic leaves by.`,
    )
  })

  it('adds the NAT of a more specific public route to the default route NAT', async () => {
    // Prepare
    routeTables(
      table('subnet-private', [
        { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' },
        { DestinationCidrBlock: '3.5.0.0/16', NatGatewayId: 'nat-2' },
      ]),
    )
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP }, { id: 'nat-2', publicIp: '198.51.100.8' })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressIps).toEqual([NAT_PUBLIC_IP, '198.51.100.8'])
    expect(ec2Mock.commandCalls(DescribeNatGatewaysCommand)[0]?.args[0].input).toEqual({
      NatGatewayIds: ['nat-1', 'nat-2'],
    })
  })

  it('reads IPv6 routes only for an interface with IPv6: ::/0 to an egress-only gateway, NAT64 to a NAT', async () => {
    // Prepare
    routeTables(
      table('subnet-private', [
        { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1' },
        { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: 'eigw-1' },
        { DestinationIpv6CidrBlock: '64:ff9b::/96', NatGatewayId: 'nat-1' },
      ]),
    )
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP })

    // Act
    const [ipv4Only, dualStack] = await withEgress(
      ec2,
      [privateInstance, { ...dualStackInstance, instanceId: 'i-0a1b2c3d4e5f60002' }],
      () => true,
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(ipv4Only?.egressIps).toEqual([])
    expect(dualStack?.egressIps).toEqual([NAT_PUBLIC_IP])
  })

  it('an IPv6 route to an unseen target leaves an IPv4-only instance alone', async () => {
    // Prepare
    routeTables(
      table('subnet-private', [
        { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' },
        { DestinationIpv6CidrBlock: '::/0', TransitGatewayId: TGW },
      ]),
    )
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP })

    // Act
    const [ipv4Only, dualStack] = await withEgress(
      ec2,
      [privateInstance, { ...dualStackInstance, instanceId: 'i-0a1b2c3d4e5f60002' }],
      () => true,
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(ipv4Only?.egressIps).toEqual([NAT_PUBLIC_IP])
    expect(dualStack?.egressIps).toBe('unknown')
  })

  it('adds the routes of a second interface in another VPC, read in the same pass', async () => {
    // Prepare
    const twoVpcs: ObservedInstance = {
      ...privateInstance,
      otherVpcIds: ['vpc-2'],
      interfaces: [
        ...privateInstance.interfaces,
        { subnetId: 'subnet-other', vpcId: 'vpc-2', ipv4: true, ipv6: false },
      ],
    }
    routeTables(
      table('subnet-private', [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' }]),
      table('subnet-other', [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-2' }], 'vpc-2'),
    )
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP }, { id: 'nat-2', publicIp: '198.51.100.8' })

    // Act
    const [facts] = await egressOf([twoVpcs])

    // Assess
    expect(facts?.egressIps).toEqual([NAT_PUBLIC_IP, '198.51.100.8'])
    expect(ec2Mock.commandCalls(DescribeRouteTablesCommand)).toHaveLength(1)
    expect(ec2Mock.commandCalls(DescribeRouteTablesCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'vpc-id', Values: ['vpc-1', 'vpc-2'] }],
    })
  })

  it("falls back to the VPC's main route table for a subnet without its own", async () => {
    // Prepare
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          VpcId: 'vpc-1',
          Associations: [{ Main: true }],
          Routes: [{ DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: TGW }],
        },
      ],
    })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressIps).toBe('unknown')
  })

  it('looks up an instance with its own public address too: its subnet may route it through a NAT', async () => {
    // Prepare
    defaultRoute({ NatGatewayId: 'nat-1' })
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP })

    // Act
    const [facts] = await withEgress(
      ec2,
      [{ ...privateInstance, publicIps: ['54.0.0.1'] }],
      () => true,
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(facts).toMatchObject({ publicIps: ['54.0.0.1'], egressIps: [NAT_PUBLIC_IP] })
  })

  it('costs one look-up of each kind for a whole batch of instances', async () => {
    // Prepare
    defaultRoute({ NatGatewayId: 'nat-1' })
    natGateways({ id: 'nat-1', publicIp: NAT_PUBLIC_IP })
    const fleet = Array.from({ length: 20 }, (_, index) => ({
      ...privateInstance,
      instanceId: `i-0a1b2c3d4e5f6${String(index).padStart(4, '0')}`,
    }))

    // Act
    const facts = await egressOf(fleet)

    // Assess
    expect(new Set(facts.map((instance) => JSON.stringify(instance.egressIps)))).toEqual(
      new Set([JSON.stringify([NAT_PUBLIC_IP])]),
    )
    expect(ec2Mock.calls()).toHaveLength(2)
  })

  it('costs no look-up for stopped, not opted-in or unconcerned instances', async () => {
    // Prepare
    const others: ObservedInstance[] = [
      { ...privateInstance, state: 'stopped' },
      { ...privateInstance, optedIn: false },
    ]

    // Act
    const facts = await withEgress(
      ec2,
      [...others, privateInstance],
      (instance) => instance !== privateInstance,
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0)
    expect(facts.map((instance) => instance.egressIps)).toEqual([[], [], []])
  })
})
