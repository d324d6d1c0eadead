/**
 * What the controller reads about Lambda functions (handlers/function-truth.ts) over mocked Lambda and EC2:
 * every page of ListFunctions, the opt-in tag, functions outside a VPC, moto's placeholder VPC, subnets deleted
 * a moment ago, dual-stack subnets and the egress of their routes. The moto story
 * (test/integration/functions.test.ts) reads the same end to end; mutation testing runs without moto.
 */
import {
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type RouteTable,
  type Subnet,
} from '@aws-sdk/client-ec2'
import {
  type FunctionConfiguration,
  LambdaClient,
  ListFunctionsCommand,
  ListTagsCommand,
} from '@aws-sdk/client-lambda'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  functionFacts,
  type ListedFunction,
  listFunctions,
  optedInFunctions,
} from '../../handlers/aws/function-truth.js'
import type { KnownEgress } from '../../policy/environment.js'
import { ACCOUNT, accessDenied, LOCK_TAG, REGION } from '../support/mocked-controller.js'

const lambdaMock = mockClient(LambdaClient)
const ec2Mock = mockClient(EC2Client)
const lambda = new LambdaClient({ region: REGION })
const ec2 = new EC2Client({ region: REGION })
const NO_KNOWN_EGRESS: KnownEgress = new Map()

const APP_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
/** What moto answers for VpcConfig.VpcId, whatever the subnets: never to be believed. */
const MOTO_PLACEHOLDER_VPC = 'vpc-123abc'
const SUBNET_A = 'subnet-0a1b2c3d4e5f60789'
const SUBNET_B = 'subnet-0a1b2c3d4e5f6078a'
const NAT_IPV4 = '198.51.100.7'
const NAT64 = '198.51.100.64'

beforeEach(() => {
  lambdaMock.reset()
  ec2Mock.reset()
})

function arnOf(name: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`
}

function configuration(name: string, change: Partial<FunctionConfiguration> = {}): FunctionConfiguration {
  return {
    FunctionName: name,
    FunctionArn: arnOf(name),
    Role: `arn:aws:iam::${ACCOUNT}:role/service/${name}-role`,
    ...change,
  }
}

function listed(name: string, change: Partial<ListedFunction> = {}): ListedFunction {
  return {
    functionName: name,
    functionArn: arnOf(name),
    roleName: `${name}-role`,
    subnetIds: [SUBNET_A],
    ipv6: false,
    ...change,
  }
}

function subnets(...described: Subnet[]): void {
  ec2Mock.on(DescribeSubnetsCommand).callsFake(({ Filters }) => ({
    Subnets: described.filter((subnet) => Filters?.[0]?.Values?.includes(subnet.SubnetId ?? '')),
  }))
}

/** One route table for both subnets: IPv4 through one NAT gateway, NAT64 through another. */
function natRoutes(): void {
  const table: RouteTable = {
    VpcId: APP_VPC,
    Associations: [{ SubnetId: SUBNET_A }, { SubnetId: SUBNET_B }],
    Routes: [
      { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
      { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-ipv4', State: 'active' },
      { DestinationIpv6CidrBlock: '64:ff9b::/96', NatGatewayId: 'nat-64', State: 'active' },
    ],
  }
  ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [table] })
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: [
      { NatGatewayId: 'nat-ipv4', NatGatewayAddresses: [{ PublicIp: NAT_IPV4 }] },
      { NatGatewayId: 'nat-64', NatGatewayAddresses: [{ PublicIp: NAT64 }] },
    ],
  })
}

const ipv4Subnet: Subnet = { SubnetId: SUBNET_A, VpcId: APP_VPC, CidrBlock: '10.0.1.0/24' }
const dualStackSubnet: Subnet = {
  SubnetId: SUBNET_B,
  VpcId: APP_VPC,
  CidrBlock: '10.0.2.0/24',
  Ipv6CidrBlockAssociationSet: [
    { Ipv6CidrBlock: '2001:db8:0:2::/64', Ipv6CidrBlockState: { State: 'associated' } },
  ],
}

describe('listFunctions: every function of the region, with its role and subnets', () => {
  it('reads every page, takes the role name from a role ARN with a path and keeps the IPv6 choice', async () => {
    // Prepare: two pages, as Lambda gives 50 functions a page.
    lambdaMock.on(ListFunctionsCommand).callsFake(({ Marker }) =>
      Marker === undefined
        ? {
            Functions: [
              configuration('reporter', {
                VpcConfig: {
                  SubnetIds: [SUBNET_A, SUBNET_B],
                  VpcId: MOTO_PLACEHOLDER_VPC,
                  Ipv6AllowedForDualStack: true,
                },
              }),
            ],
            NextMarker: 'page-2',
          }
        : {
            Functions: [
              configuration('auditor', {
                VpcConfig: { SubnetIds: [SUBNET_A], Ipv6AllowedForDualStack: false },
              }),
              configuration('outside'),
            ],
          },
    )

    // Act
    const functions = await listFunctions(lambda)

    // Assess
    expect(functions).toEqual([
      {
        functionName: 'reporter',
        functionArn: arnOf('reporter'),
        roleName: 'reporter-role',
        subnetIds: [SUBNET_A, SUBNET_B],
        ipv6: true,
      },
      { ...listed('auditor'), subnetIds: [SUBNET_A], ipv6: false },
      { ...listed('outside'), subnetIds: [], ipv6: false },
    ])
    expect(lambdaMock.commandCalls(ListFunctionsCommand)).toHaveLength(2)
  })

  it.each([
    ['a name', { FunctionName: undefined }],
    ['an ARN', { FunctionArn: undefined }],
    ['a role', { Role: undefined }],
  ])('passes over a function Lambda lists without %s, and reads the rest', async (_, missing) => {
    // Prepare
    lambdaMock
      .on(ListFunctionsCommand)
      .resolves({ Functions: [configuration('broken', missing), configuration('reporter')] })

    // Act
    const functions = await listFunctions(lambda)

    // Assess
    expect(functions.map((fn) => fn.functionName)).toEqual(['reporter'])
  })

  it('names lambda:ListFunctions when the controller may not call it', async () => {
    // Prepare
    lambdaMock.on(ListFunctionsCommand).rejects(accessDenied())

    // Act
    const read = listFunctions(lambda)

    // Assess
    await expect(read).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining('call lambda:ListFunctions on *'),
      }),
    )
  })
})

describe('optedInFunctions: the functions carrying the lock tag', () => {
  it('opts in exactly the functions whose tag has the lock value', async () => {
    // Prepare
    const tags: Record<string, Record<string, string> | undefined> = {
      [arnOf('reporter')]: { team: 'defenders', [LOCK_TAG.key]: LOCK_TAG.value },
      [arnOf('auditor')]: { [LOCK_TAG.key]: 'disabled' },
      [arnOf('untagged')]: undefined,
    }
    lambdaMock.on(ListTagsCommand).callsFake(({ Resource }) => ({ Tags: tags[Resource] }))

    // Act
    const optedIn = await optedInFunctions(
      lambda,
      [listed('reporter'), listed('auditor'), listed('untagged')],
      LOCK_TAG,
    )

    // Assess
    expect(optedIn).toEqual(new Set(['reporter']))
  })

  it('names lambda:ListTags on the function when the controller may not call it', async () => {
    // Prepare
    lambdaMock.on(ListTagsCommand).rejects(accessDenied())

    // Act
    const read = optedInFunctions(lambda, [listed('reporter')], LOCK_TAG)

    // Assess
    await expect(read).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining(`call lambda:ListTags on ${arnOf('reporter')}`),
      }),
    )
  })
})

describe('functionFacts: the VPC, subnet ranges and egress of each function', () => {
  it("takes the VPC from the subnets, never moto's placeholder, and the egress of their IPv4 routes", async () => {
    // Prepare
    subnets(ipv4Subnet, dualStackSubnet)
    natRoutes()

    // Act
    const [facts] = await functionFacts(
      ec2,
      [listed('reporter', { subnetIds: [SUBNET_A, SUBNET_B] })],
      new Set(['reporter']),
      NO_KNOWN_EGRESS,
    )

    // Assess: an IPv4-only function sends nothing through NAT64.
    expect(facts).toEqual({
      functionName: 'reporter',
      roleName: 'reporter-role',
      optedIn: true,
      vpcId: APP_VPC,
      subnetCidrs: ['10.0.1.0/24', '10.0.2.0/24', '2001:db8:0:2::/64'],
      egressIps: [NAT_IPV4],
    })
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'subnet-id', Values: [SUBNET_A, SUBNET_B] }],
    })
  })

  it.each([
    [
      'a dual-stack function in a dual-stack subnet adds the NAT64 gateway',
      true,
      dualStackSubnet,
      [NAT_IPV4, NAT64],
    ],
    ['a dual-stack function in an IPv4-only subnet sends no IPv6', true, ipv4Subnet, [NAT_IPV4]],
    ['an IPv4-only function in a dual-stack subnet sends no IPv6', false, dualStackSubnet, [NAT_IPV4]],
  ])('%s', async (_, ipv6, subnet, egressIps) => {
    // Prepare
    subnets(subnet)
    natRoutes()

    // Act
    const [facts] = await functionFacts(
      ec2,
      [listed('reporter', { subnetIds: [subnet.SubnetId ?? ''], ipv6 })],
      new Set(['reporter']),
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(facts?.egressIps).toEqual(egressIps)
  })

  it('reads a subnet without an IPv4 block, and only the IPv6 blocks that are associated', async () => {
    // Prepare: a block being removed, one EC2 gives no state for, and the one in use.
    subnets({
      SubnetId: SUBNET_A,
      VpcId: APP_VPC,
      Ipv6CidrBlockAssociationSet: [
        { Ipv6CidrBlock: '2001:db8:0:1::/64', Ipv6CidrBlockState: { State: 'disassociated' } },
        { Ipv6CidrBlock: '2001:db8:0:3::/64' },
        { Ipv6CidrBlockState: { State: 'associated' } },
        { Ipv6CidrBlock: '2001:db8:0:4::/64', Ipv6CidrBlockState: { State: 'associated' } },
      ],
    })
    natRoutes()

    // Act
    const [facts] = await functionFacts(
      ec2,
      [listed('reporter', { ipv6: true })],
      new Set(['reporter']),
      NO_KNOWN_EGRESS,
    )

    // Assess: Lambda attaches functions to dual-stack subnets only, so IPv4 routes still count for it.
    expect(facts).toMatchObject({
      vpcId: APP_VPC,
      subnetCidrs: ['2001:db8:0:4::/64'],
      egressIps: [NAT_IPV4, NAT64],
    })
  })

  it('reads functions outside a VPC or not opted in with no EC2 call, and no VPC, range or egress', async () => {
    // Act
    const facts = await functionFacts(
      ec2,
      [listed('outside', { subnetIds: [] }), listed('untagged', { subnetIds: [SUBNET_A, SUBNET_B] })],
      new Set(['outside']),
      NO_KNOWN_EGRESS,
    )

    // Assess
    expect(facts).toEqual([
      {
        functionName: 'outside',
        roleName: 'outside-role',
        optedIn: true,
        vpcId: undefined,
        subnetCidrs: [],
        egressIps: [],
      },
      {
        functionName: 'untagged',
        roleName: 'untagged-role',
        optedIn: false,
        vpcId: undefined,
        subnetCidrs: [],
        egressIps: [],
      },
    ])
    expect(ec2Mock.calls()).toHaveLength(0)
  })

  it.each([
    ['a subnet deleted a moment ago', [ipv4Subnet]],
    ['a subnet EC2 describes without its VPC', [ipv4Subnet, { ...dualStackSubnet, VpcId: undefined }]],
  ])(
    'refuses to guess the facts of an opted-in function with %s, so the event is retried',
    async (_, described) => {
      // Prepare
      subnets(...described)
      natRoutes()

      // Act
      const read = functionFacts(
        ec2,
        [listed('reporter', { subnetIds: [SUBNET_A, SUBNET_B] })],
        new Set(['reporter']),
        NO_KNOWN_EGRESS,
      )

      // Assess
      await expect(read).rejects.toThrowError(
        `Function reporter uses subnets EC2 did not describe (${SUBNET_A}, ${SUBNET_B}): they were probably ` +
          'deleted a moment ago; the event will be retried.',
      )
    },
  )

  it('names ec2:DescribeSubnets when the controller may not call it', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).rejects(accessDenied())

    // Act
    const read = functionFacts(ec2, [listed('reporter')], new Set(['reporter']), NO_KNOWN_EGRESS)

    // Assess
    await expect(read).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining('call ec2:DescribeSubnets on *'),
      }),
    )
  })
})
