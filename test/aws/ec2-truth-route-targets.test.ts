/**
 * What withEgress asks EC2 and what each route target gives: NAT gateways asked for exactly once, a NAT
 * instance named by instance or interface and its public addresses, prefix lists, the IPv6 local route of a
 * dual-stack VPC, and the one sentence naming the targets the controller cannot see through.
 */
import {
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  type Route,
} from '@aws-sdk/client-ec2'
import { beforeEach, describe, expect, it } from 'vitest'
import { type ObservedInstance, withEgress } from '../../handlers/aws/ec2-truth.js'
import {
  ec2,
  ec2Mock,
  egressOf,
  LGW,
  launching,
  NAT_ADDRESS,
  NO_KNOWN_EGRESS,
  natDefault,
  PCX,
  routeTables,
  running,
  TGW,
} from '../support/route-tables.js'

const NAT_ENI = 'eni-0123456789abcdef0'

const privateInstance = running

const dualStackInstance: ObservedInstance = {
  ...privateInstance,
  publicIps: ['2600:1f18:1234:5601::10'],
  privateIps: ['10.0.2.10', '2600:1f18:1234:5601::10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: true }],
}

/** The private subnet's table: its local routes, then `routes`; NAT gateway nat-1 has a public address. */
function privateSubnetRoutes(...routes: Route[]): void {
  ec2Mock.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-private' }],
        Routes: [
          { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
          ...routes.map((route) => ({ State: 'active' as const, ...route })),
        ],
      },
    ],
  })
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [{ PublicIp: NAT_ADDRESS }] }],
  })
}

beforeEach(() => ec2Mock.reset())

describe('withEgress: what it asks EC2 and what a NAT instance gives', () => {
  const natInstanceInterface = (privateIps: { PublicIp?: string }[]) => ({
    NetworkInterfaces: [
      {
        NetworkInterfaceId: 'eni-nat',
        Attachment: { InstanceId: 'i-0aaaaaaaaaaaaaaa1' },
        PrivateIpAddresses: privateIps.map((association, n) => ({
          PrivateIpAddress: `10.0.0.${n + 5}`,
          ...(association.PublicIp ? { Association: association } : {}),
        })),
      },
    ],
  })

  it('follows a default route to a NAT instance named by instance ID, past the local route', async () => {
    // Prepare: the NAT instance has a public address on one of its two private addresses.
    routeTables([
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-other' }, { SubnetId: 'subnet-private' }],
        Routes: [
          { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
          { DestinationCidrBlock: '0.0.0.0/0', InstanceId: 'i-0aaaaaaaaaaaaaaa1', State: 'active' },
        ],
      },
    ])
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolves(natInstanceInterface([{}, { PublicIp: '198.51.100.9' }]))

    // Act
    const [facts] = await egressOf([launching])

    // Assess
    expect(facts?.egressIps).toEqual(['198.51.100.9'])
    expect(ec2Mock.commandCalls(DescribeRouteTablesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'vpc-id', Values: ['vpc-1'] },
    ])
    expect(
      ec2Mock.commandCalls(DescribeNetworkInterfacesCommand).map((call) => call.args[0].input.Filters),
    ).toEqual([[{ Name: 'attachment.instance-id', Values: ['i-0aaaaaaaaaaaaaaa1'] }]])
  })

  it.each([
    ['by interface', { NetworkInterfaceId: 'eni-nat' }, 'network-interface-id', 'eni-nat'],
    ['by instance', { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }, 'attachment.instance-id', 'i-0aaaaaaaaaaaaaaa1'],
  ])(
    'is unknown egress through a NAT instance (%s) without a public address',
    async (_, target, filter, id) => {
      // Prepare
      routeTables([
        {
          VpcId: 'vpc-1',
          Associations: [{ SubnetId: 'subnet-private' }],
          Routes: [{ DestinationCidrBlock: '0.0.0.0/0', State: 'active', ...target }],
        },
      ])
      ec2Mock.on(DescribeNetworkInterfacesCommand).resolves(natInstanceInterface([{}]))

      // Act
      const [facts] = await egressOf([launching])

      // Assess
      expect(facts?.egressIps).toBe('unknown')
      expect(ec2Mock.commandCalls(DescribeNetworkInterfacesCommand)[0]?.args[0].input.Filters).toEqual([
        { Name: filter, Values: [id] },
      ])
    },
  )

  it('asks for exactly the NAT gateways the routes lead to', async () => {
    // Prepare
    routeTables([{ VpcId: 'vpc-1', Associations: [{ SubnetId: 'subnet-private' }], Routes: [natDefault] }])

    // Act
    await egressOf([launching])

    // Assess
    expect(ec2Mock.commandCalls(DescribeNatGatewaysCommand)[0]?.args[0].input).toEqual({
      NatGatewayIds: ['nat-1'],
    })
  })

  it.each([
    ['ec2:DescribeRouteTables', () => ec2Mock.on(DescribeRouteTablesCommand).rejects(accessDenied())],
    [
      'ec2:DescribeNatGateways',
      () => {
        routeTables([
          { VpcId: 'vpc-1', Associations: [{ SubnetId: 'subnet-private' }], Routes: [natDefault] },
        ])
        ec2Mock.on(DescribeNatGatewaysCommand).rejects(accessDenied())
      },
    ],
    [
      'ec2:DescribeNetworkInterfaces',
      () => {
        routeTables([
          {
            VpcId: 'vpc-1',
            Associations: [{ SubnetId: 'subnet-private' }],
            Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NetworkInterfaceId: 'eni-nat', State: 'active' }],
          },
        ])
        ec2Mock.on(DescribeNetworkInterfacesCommand).rejects(accessDenied())
      },
    ],
  ])('names %s when the controller may not call it', async (action, refuse) => {
    // Prepare
    refuse()

    // Act
    const read = egressOf([launching])

    // Assess
    await expect(read).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining(`call ${action} on *`),
      }),
    )
  })
})

describe('withEgress: the IPv6 local route, prefix lists, instances without interfaces and unseen targets', () => {
  it('keeps the IPv6 local route of a dual-stack VPC out of the egress', async () => {
    // Prepare
    privateSubnetRoutes(
      { DestinationIpv6CidrBlock: '2600:1f18:1234:5600::/56', GatewayId: 'local' },
      { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' },
      { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: 'eigw-1' },
    )

    // Act
    const [facts] = await egressOf([dualStackInstance])

    // Assess
    expect(facts?.egressIps).toEqual([NAT_ADDRESS])
  })

  it('follows a prefix-list route for an IPv4-only instance: it may hold IPv4 ranges', async () => {
    // Prepare
    privateSubnetRoutes({ DestinationPrefixListId: 'pl-0123456789abcdef0', NatGatewayId: 'nat-1' })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressIps).toEqual([NAT_ADDRESS])
  })

  it('costs no look-up for an opted-in running instance without a network interface', async () => {
    // Act
    const [facts] = await withEgress(
      ec2,
      [{ ...privateInstance, interfaces: [] }],
      () => true,
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(facts?.egressIps).toEqual([])
    expect(ec2Mock.calls()).toHaveLength(0)
  })

  it('looks a NAT instance named by its interface up once, by interface, and names it without an address', async () => {
    // Prepare: the NAT instance's interface has no public address.
    privateSubnetRoutes({ DestinationCidrBlock: '0.0.0.0/0', NetworkInterfaceId: NAT_ENI })
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        {
          NetworkInterfaceId: NAT_ENI,
          Attachment: { InstanceId: 'i-0aaaaaaaaaaaaaaa1' },
          PrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.5' }],
        },
      ],
    })

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts).toMatchObject({
      egressIps: 'unknown',
      egressUnknownReason:
        `its route 0.0.0.0/0 to NAT instance without a public address ${NAT_ENI} leads where the controller ` +
        `cannot see the public egress: add "${NAT_ENI}" (or "*") to the knownEgress setting with the public ` +
        'CIDRs that traffic leaves by.',
    })
    expect(
      ec2Mock.commandCalls(DescribeNetworkInterfacesCommand).map((call) => call.args[0].input.Filters),
    ).toEqual([[{ Name: 'network-interface-id', Values: [NAT_ENI] }]])
  })

  it('names three unseen routes in one sentence, in order', async () => {
    // Prepare
    privateSubnetRoutes(
      { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: TGW },
      { DestinationCidrBlock: '52.94.0.0/16', VpcPeeringConnectionId: PCX },
      { DestinationCidrBlock: '3.5.0.0/16', LocalGatewayId: LGW },
    )

    // Act
    const [facts] = await egressOf([privateInstance])

    // Assess
    expect(facts?.egressUnknownReason).toBe(
      `its routes 0.0.0.0/0 to transit gateway ${TGW}, 52.94.0.0/16 to peering connection ${PCX} and ` +
        `3.5.0.0/16 to local gateway ${LGW} lead where the controller cannot see the public egress: add ` +
        `"${TGW}", "${PCX}" and "${LGW}" (or "*") to the knownEgress setting with the public CIDRs that ` +
        'traffic leaves by.',
    )
  })
})

function accessDenied(): Error {
  return Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' })
}
