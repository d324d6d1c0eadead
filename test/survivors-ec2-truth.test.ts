/**
 * What the controller reads from EC2, on the edges mutation testing found unguarded: routes it must not
 * follow or must not guess about, the main route table a subnet falls back to, every address of every
 * network interface, and an instance profile IAM did not list.
 */
import {
  DescribeInstancesCommand,
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Instance,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  describeByIds,
  describeOptedIn,
  instancesOfInterfaces,
  type ObservedInstance,
  withEgress,
} from '../handlers/aws/ec2-truth.js'
import type { KnownEgress } from '../policy/environment.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const NAT_ADDRESS = '198.51.100.7'
const LOCK_TAG = { key: 'credential-lock', value: 'enabled' }
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/web'

const launching: ObservedInstance = {
  instanceId: 'i-0a1b2c3d4e5f60001',
  state: 'pending',
  roleName: 'web',
  optedIn: true,
  publicIps: [],
  privateIps: ['10.0.2.10'],
  interfaces: [{ subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: false }],
}
const NO_KNOWN_EGRESS: KnownEgress = new Map()

function routeTables(tables: RouteTable[]): void {
  ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables })
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [{ PublicIp: NAT_ADDRESS }] }],
  })
}

const natDefault = { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' } as const

beforeEach(() => ec2Mock.reset())

describe('withEgress: the default route of a launching instance', () => {
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
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

    // Assess
    expect(facts?.egressIps).toEqual([NAT_ADDRESS])
  })

  it('reads a table EC2 lists without associations or routes as leading nowhere', async () => {
    // Prepare
    routeTables([{ VpcId: 'vpc-1' }, { VpcId: 'vpc-1', Associations: [{ Main: true }] }])

    // Act
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

    // Assess
    expect(facts?.egressIps).toEqual([])
  })
})

describe('describeOptedIn and describeByIds: what EC2 says about an instance', () => {
  const reading = { ec2, lockTag: LOCK_TAG, profileRoles: new Map([[PROFILE, 'web']]) }
  const instance = (change: Partial<Instance>): Instance => ({
    InstanceId: 'i-0a1b2c3d4e5f60001',
    State: { Name: 'running' },
    IamInstanceProfile: { Arn: PROFILE },
    Tags: [{ Key: 'credential-lock', Value: 'enabled' }],
    PrivateIpAddress: '10.0.1.10',
    SubnetId: 'subnet-1',
    VpcId: 'vpc-1',
    ...change,
  })

  it('collects the public, carrier, IPv6 and private addresses of every network interface', async () => {
    // Prepare: a primary interface and a secondary one, each with its own addresses.
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            instance({
              PublicIpAddress: '54.0.0.1',
              NetworkInterfaces: [
                {
                  Association: { PublicIp: '54.0.0.1' },
                  PrivateIpAddresses: [
                    { PrivateIpAddress: '10.0.1.10', Association: { PublicIp: '54.0.0.1' } },
                  ],
                },
                {
                  Association: { PublicIp: '54.0.0.2', CarrierIp: '155.146.0.2' },
                  PrivateIpAddresses: [
                    { PrivateIpAddress: '10.0.1.20', Association: { PublicIp: '54.0.0.2' } },
                    {
                      PrivateIpAddress: '10.0.1.21',
                      Association: { PublicIp: '54.0.0.3', CarrierIp: '155.146.0.3' },
                    },
                  ],
                  Ipv4Prefixes: [{ Ipv4Prefix: '10.0.1.48/28' }],
                  Ipv6Addresses: [{ Ipv6Address: '2001:db8::20' }],
                  Ipv6Prefixes: [{ Ipv6Prefix: '2001:db8:0:1::/80' }],
                },
                { PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.30' }] },
              ],
            }),
          ],
        },
      ],
    })

    // Act
    const [observed] = await describeOptedIn(reading)

    // Assess
    expect(observed).toMatchObject({ instanceId: 'i-0a1b2c3d4e5f60001', roleName: 'web', optedIn: true })
    expect([...(observed?.publicIps ?? [])].sort()).toEqual(
      [
        '54.0.0.1',
        '54.0.0.2',
        '54.0.0.3',
        '155.146.0.2',
        '155.146.0.3',
        '2001:db8::20',
        '2001:db8:0:1::/80',
      ].sort(),
    )
    expect([...(observed?.privateIps ?? [])].sort()).toEqual(
      [
        '10.0.1.10',
        '10.0.1.20',
        '10.0.1.21',
        '10.0.1.30',
        '10.0.1.48/28',
        '2001:db8::20',
        '2001:db8:0:1::/80',
      ].sort(),
    )
    expect(observed?.interfaces).toEqual([
      { subnetId: 'subnet-1', vpcId: 'vpc-1', ipv4: true, ipv6: false },
      { subnetId: 'subnet-1', vpcId: 'vpc-1', ipv4: true, ipv6: true },
      { subnetId: 'subnet-1', vpcId: 'vpc-1', ipv4: true, ipv6: false },
    ])
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'tag:credential-lock', Values: ['enabled'] },
    ])
  })

  it('refuses to read an instance whose profile IAM did not list, so the event is retried', async () => {
    // Prepare: a profile created a moment ago, after the controller listed them.
    const fresh = 'arn:aws:iam::123456789012:instance-profile/fresh'
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance({ IamInstanceProfile: { Arn: fresh } })] }],
    })

    // Act
    const read = describeByIds(reading, ['i-0a1b2c3d4e5f60001'])

    // Assess
    await expect(read).rejects.toThrowError(
      `Instance i-0a1b2c3d4e5f60001 uses instance profile ${fresh}, which IAM did not list: ` +
        'it was probably created a moment ago; the event will be retried.',
    )
  })

  it('reads when a stopped instance stopped, from the reason EC2 gives', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            instance({
              State: { Name: 'stopped' },
              StateTransitionReason: 'User initiated (2026-11-25 18:00:00 GMT)',
            }),
          ],
        },
      ],
    })

    // Act
    const [observed] = await describeByIds(reading, ['i-0a1b2c3d4e5f60001'])

    // Assess
    expect(observed).toMatchObject({ state: 'stopped', stateChangedAt: new Date('2026-11-25T18:00:00Z') })
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'instance-id', Values: ['i-0a1b2c3d4e5f60001'] },
    ])
  })
})

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
    const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
      const [facts] = await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
    await withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

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
    const read = withEgress(ec2, [launching], () => true, NO_KNOWN_EGRESS)

    // Assess
    await expect(read).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining(`call ${action} on *`),
      }),
    )
  })
})

describe('instancesOfInterfaces and describeByIds', () => {
  const reading = { ec2, lockTag: LOCK_TAG, profileRoles: new Map([[PROFILE, 'web']]) }

  it('gives the instance each interface is attached to, and nothing for a detached one', async () => {
    // Prepare
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [{ Attachment: { InstanceId: 'i-0a1b2c3d4e5f60001' } }, { Status: 'available' }],
    })

    // Act
    const instanceIds = await instancesOfInterfaces(ec2, ['eni-1', 'eni-2'])

    // Assess
    expect(instanceIds).toEqual(['i-0a1b2c3d4e5f60001'])
    expect(ec2Mock.commandCalls(DescribeNetworkInterfacesCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'network-interface-id', Values: ['eni-1', 'eni-2'] }],
    })
  })

  it.each([
    ['ec2:DescribeInstances', () => describeOptedIn(reading), DescribeInstancesCommand],
    [
      'ec2:DescribeNetworkInterfaces',
      () => instancesOfInterfaces(ec2, ['eni-1']),
      DescribeNetworkInterfacesCommand,
    ],
  ] as const)('names %s when the controller may not call it', async (action, read, command) => {
    // Prepare
    ec2Mock.on(command).rejects(accessDenied())

    // Act
    const attempt = read()

    // Assess
    await expect(attempt).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining(`call ${action} on *`),
      }),
    )
  })

  it('asks EC2 nothing for no instance IDs', async () => {
    // Act
    const observed = await describeByIds(reading, [])

    // Assess
    expect(observed).toEqual([])
    expect(ec2Mock.calls()).toHaveLength(0)
  })

  it('reads an instance without a profile as having no role', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0a1b2c3d4e5f60001', State: { Name: 'terminated' } }] }],
    })

    // Act
    const [observed] = await describeByIds(reading, ['i-0a1b2c3d4e5f60001'])

    // Assess
    expect(observed).toMatchObject({ instanceId: 'i-0a1b2c3d4e5f60001', roleName: undefined, optedIn: false })
  })
})

function accessDenied(): Error {
  return Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' })
}
