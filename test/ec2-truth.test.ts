import {
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Route,
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { type ObservedInstance, withEgress } from '../handlers/ec2-truth.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })

const privateInstance: ObservedInstance = {
  instanceId: 'i-0a1b2c3d4e5f60001',
  state: 'running',
  roleName: 'web',
  optedIn: true,
  publicIps: [],
  privateIps: ['10.0.2.10'],
  subnetId: 'subnet-private',
  vpcId: 'vpc-1',
}

function defaultRoute(route: Partial<Route>) {
  ec2Mock.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        VpcId: 'vpc-1',
        Associations: [{ Main: true }],
        Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }],
      },
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-private' }],
        Routes: [{ DestinationCidrBlock: '0.0.0.0/0', State: 'active', ...route }],
      },
    ],
  })
}

beforeEach(() => ec2Mock.reset())

describe('withEgress: where a private instance reaches AWS from', () => {
  it.each([
    ['a NAT gateway', { NatGatewayId: 'nat-1' }, ['198.51.100.7']],
    ['a NAT instance', { NetworkInterfaceId: 'eni-nat' }, ['198.51.100.9']],
    ['a transit gateway (egress unknown: never guess)', { TransitGatewayId: 'tgw-1' }, 'unknown'],
    ['a VPC peering (egress unknown)', { VpcPeeringConnectionId: 'pcx-1' }, 'unknown'],
    ['an internet gateway (it leaves from its own address)', { GatewayId: 'igw-1' }, []],
  ])('through %s', async (_, route, expected) => {
    // Prepare
    defaultRoute(route)
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [{ PublicIp: '198.51.100.7' }] }],
    })
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        {
          NetworkInterfaceId: 'eni-nat',
          PrivateIpAddresses: [{ Association: { PublicIp: '198.51.100.9' } }],
        },
      ],
    })

    // Act
    const [facts] = await withEgress(ec2, [privateInstance], () => true)

    // Assess
    expect(facts?.egressIps).toEqual(expected)
  })

  it('treats a private NAT gateway (no public address) as unknown egress', async () => {
    // Prepare
    defaultRoute({ NatGatewayId: 'nat-private' })
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [{ NatGatewayId: 'nat-private', NatGatewayAddresses: [{ PrivateIp: '10.0.9.9' }] }],
    })

    // Act
    const [facts] = await withEgress(ec2, [privateInstance], () => true)

    // Assess
    expect(facts?.egressIps).toBe('unknown')
  })

  it('looks up an instance with its own public address too: its subnet may route it through a NAT', async () => {
    // Prepare
    defaultRoute({ NatGatewayId: 'nat-1' })
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [{ PublicIp: '198.51.100.7' }] }],
    })

    // Act
    const [facts] = await withEgress(ec2, [{ ...privateInstance, publicIps: ['54.0.0.1'] }], () => true)

    // Assess
    expect(facts).toMatchObject({ publicIps: ['54.0.0.1'], egressIps: ['198.51.100.7'] })
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
    )

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0)
    expect(facts.map((instance) => instance.egressIps)).toEqual([[], [], []])
  })
})
