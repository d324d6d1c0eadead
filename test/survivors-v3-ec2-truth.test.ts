/**
 * What the controller reads from EC2 (handlers/ec2-truth.ts), on the edges the third mutation pass found
 * unguarded: the plan's what-if reading of every instance, interfaces EC2 describes only in part, the IPv6
 * local route of a dual-stack VPC, prefix-list routes, route targets the controller cannot see through, and
 * the sentence that names them.
 */
import {
  DescribeInstancesCommand,
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Instance,
  type Route,
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  describeOptedIn,
  type EgressRoute,
  egressRoutes,
  type ObservedInstance,
  withEgress,
} from '../handlers/aws/ec2-truth.js'
import type { KnownEgress } from '../policy/environment.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const LOCK_TAG = { key: 'credential-lock', value: 'enabled' }
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/web'
const NO_KNOWN_EGRESS: KnownEgress = new Map()
const NAT_ADDRESS = '198.51.100.7'
const TGW = 'tgw-0123456789abcdef0'
const PCX = 'pcx-0123456789abcdef0'
const VGW = 'vgw-0123456789abcdef0'
const LGW = 'lgw-0123456789abcdef0'
const NAT_ENI = 'eni-0123456789abcdef0'

const reading = { ec2, lockTag: LOCK_TAG, profileRoles: new Map([[PROFILE, 'web']]) }

const privateInstance: ObservedInstance = {
  instanceId: 'i-0a1b2c3d4e5f60001',
  state: 'running',
  roleName: 'web',
  optedIn: true,
  publicIps: [],
  privateIps: ['10.0.2.10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: false }],
}

const dualStackInstance: ObservedInstance = {
  ...privateInstance,
  publicIps: ['2600:1f18:1234:5601::10'],
  privateIps: ['10.0.2.10', '2600:1f18:1234:5601::10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: true }],
}

function instances(...described: Instance[]): void {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: described }] })
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

describe('describeOptedIn for the plan: every instance with a role, as if opted in', () => {
  it('reads every instance, keeps those with a role, and treats untagged ones as opted in', async () => {
    // Prepare: an untagged instance with a role, and one without an instance profile.
    instances(
      { InstanceId: 'i-0a1b2c3d4e5f60001', State: { Name: 'running' }, IamInstanceProfile: { Arn: PROFILE } },
      { InstanceId: 'i-0a1b2c3d4e5f60002', State: { Name: 'running' } },
    )

    // Act
    const observed = await describeOptedIn({ ...reading, everyInstanceOptedIn: true })

    // Assess
    expect(observed.map(({ instanceId, roleName, optedIn }) => ({ instanceId, roleName, optedIn }))).toEqual([
      { instanceId: 'i-0a1b2c3d4e5f60001', roleName: 'web', optedIn: true },
    ])
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([])
  })
})

describe('describeOptedIn: what EC2 describes only in part', () => {
  it('reads a reservation without instances as none, and an instance described with nothing as no one', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{}, { Instances: [{}] }] })

    // Act
    const observed = await describeOptedIn(reading)

    // Assess
    expect(observed).toEqual([
      {
        instanceId: '',
        state: 'terminated',
        roleName: undefined,
        optedIn: false,
        publicIps: [],
        privateIps: [],
        stateChangedAt: undefined,
        primaryPrivateIpv4: undefined,
        otherVpcIds: [],
        launchedAt: undefined,
        interfaces: [],
      },
    ])
  })

  it('takes no route source from an interface whose subnet or VPC EC2 does not name', async () => {
    // Prepare
    instances({
      InstanceId: 'i-0a1b2c3d4e5f60001',
      State: { Name: 'running' },
      Tags: [{ Key: LOCK_TAG.key, Value: LOCK_TAG.value }],
      SubnetId: 'subnet-1',
      NetworkInterfaces: [
        { PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10' }] },
        { SubnetId: 'subnet-2', PrivateIpAddresses: [{ PrivateIpAddress: '10.0.2.10' }] },
      ],
    })

    // Act
    const [observed] = await describeOptedIn(reading)

    // Assess
    expect(observed?.interfaces).toEqual([])
  })

  it('counts an interface as IPv4 when moto lists its IPv6 address among the private ones', async () => {
    // Prepare
    instances({
      InstanceId: 'i-0a1b2c3d4e5f60001',
      State: { Name: 'running' },
      Tags: [{ Key: LOCK_TAG.key, Value: LOCK_TAG.value }],
      NetworkInterfaces: [
        {
          SubnetId: 'subnet-1',
          VpcId: 'vpc-1',
          PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10' }, { PrivateIpAddress: '2001:db8::10' }],
        },
      ],
    })

    // Act
    const [observed] = await describeOptedIn(reading)

    // Assess
    expect(observed?.interfaces).toEqual([{ subnetId: 'subnet-1', vpcId: 'vpc-1', ipv4: true, ipv6: false }])
  })

  it('lets every route of its subnet carry the calls of an instance whose interfaces are not described', async () => {
    // Prepare
    instances({
      InstanceId: 'i-0a1b2c3d4e5f60001',
      State: { Name: 'running' },
      Tags: [{ Key: LOCK_TAG.key, Value: LOCK_TAG.value }],
      SubnetId: 'subnet-1',
      VpcId: 'vpc-1',
    })

    // Act
    const [observed] = await describeOptedIn(reading)

    // Assess
    expect(observed?.interfaces).toEqual([{ subnetId: 'subnet-1', vpcId: 'vpc-1', ipv4: true, ipv6: true }])
  })
})

describe('egressRoutes: routes the third pass found unguarded', () => {
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

describe('withEgress: edges of the third pass', () => {
  it('keeps the IPv6 local route of a dual-stack VPC out of the egress', async () => {
    // Prepare
    privateSubnetRoutes(
      { DestinationIpv6CidrBlock: '2600:1f18:1234:5600::/56', GatewayId: 'local' },
      { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' },
      { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: 'eigw-1' },
    )

    // Act
    const [facts] = await withEgress(ec2, [dualStackInstance], () => true, NO_KNOWN_EGRESS)

    // Assess
    expect(facts?.egressIps).toEqual([NAT_ADDRESS])
  })

  it('follows a prefix-list route for an IPv4-only instance: it may hold IPv4 ranges', async () => {
    // Prepare
    privateSubnetRoutes({ DestinationPrefixListId: 'pl-0123456789abcdef0', NatGatewayId: 'nat-1' })

    // Act
    const [facts] = await withEgress(ec2, [privateInstance], () => true, NO_KNOWN_EGRESS)

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
    const [facts] = await withEgress(ec2, [privateInstance], () => true, NO_KNOWN_EGRESS)

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
    const [facts] = await withEgress(ec2, [privateInstance], () => true, NO_KNOWN_EGRESS)

    // Assess
    expect(facts?.egressUnknownReason).toBe(
      `its routes 0.0.0.0/0 to transit gateway ${TGW}, 52.94.0.0/16 to peering connection ${PCX} and ` +
        `3.5.0.0/16 to local gateway ${LGW} lead where the controller cannot see the public egress: add ` +
        `"${TGW}", "${PCX}" and "${LGW}" (or "*") to the knownEgress setting with the public CIDRs that ` +
        'traffic leaves by.',
    )
  })
})
