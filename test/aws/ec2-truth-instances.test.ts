/**
 * What the controller reads about each instance from EC2 (describeOptedIn, describeByIds, instancesOfInterfaces)
 * over a mocked EC2: every address of every network interface, the other VPCs, launch and stop times, the plan's
 * what-if reading of every instance, what EC2 describes only in part, and an instance profile IAM did not list.
 */
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { describeByIds, describeOptedIn, instancesOfInterfaces } from '../../handlers/aws/ec2-truth.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const LOCK_TAG = { key: 'credential-lock', value: 'enabled' }
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/web'

const reading = { ec2, lockTag: LOCK_TAG, profileRoles: new Map([[PROFILE, 'web']]) }

function instances(...described: Instance[]): void {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: described }] })
}

beforeEach(() => ec2Mock.reset())

describe('describeOptedIn: the network facts of each instance', () => {
  it('reads the primary private IPv4, the other VPCs of its interfaces and its launch time', async () => {
    // Prepare
    const launchedAt = new Date('2026-11-25T08:00:00Z')
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0a1b2c3d4e5f60001',
              State: { Name: 'running' },
              VpcId: 'vpc-1',
              SubnetId: 'subnet-private',
              PrivateIpAddress: '10.0.2.10',
              LaunchTime: launchedAt,
              Tags: [{ Key: 'credential-lock', Value: 'enabled' }],
              NetworkInterfaces: [
                {
                  SubnetId: 'subnet-private',
                  VpcId: 'vpc-1',
                  PrivateIpAddresses: [{ PrivateIpAddress: '10.0.2.10' }, { PrivateIpAddress: '10.0.2.11' }],
                },
                {
                  SubnetId: 'subnet-shared',
                  VpcId: 'vpc-2',
                  PrivateIpAddresses: [{ PrivateIpAddress: '10.9.0.5' }],
                  Ipv6Addresses: [{ Ipv6Address: '2001:db8:9::5' }],
                },
              ],
            },
          ],
        },
      ],
    })

    // Act
    const [instance] = await describeOptedIn({
      ec2,
      lockTag: { key: 'credential-lock', value: 'enabled' },
      profileRoles: new Map(),
    })

    // Assess
    expect(instance).toMatchObject({
      primaryPrivateIpv4: '10.0.2.10',
      otherVpcIds: ['vpc-2'],
      launchedAt,
      privateIps: ['10.0.2.10', '10.0.2.11', '10.9.0.5', '2001:db8:9::5'],
      interfaces: [
        { subnetId: 'subnet-private', vpcId: 'vpc-1', ipv4: true, ipv6: false },
        { subnetId: 'subnet-shared', vpcId: 'vpc-2', ipv4: true, ipv6: true },
      ],
    })
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

describe('instancesOfInterfaces and describeByIds: the instance behind an interface, and instances by ID', () => {
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

function accessDenied(): Error {
  return Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' })
}
