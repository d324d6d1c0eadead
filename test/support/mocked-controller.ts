/**
 * The controller's Lambda handler over mocked AWS clients (aws-sdk-client-mock), for tests that need exact
 * control of what EC2 and IAM answer. EC2's DescribeInstances honours the two filters the controller sends
 * (`tag:<key>` and `instance-id`), and IAM serves each role's controller policy from `policies`, so a test
 * states the world once and the controller reads it the way it reads AWS. IAM refuses the bulk read
 * (GetAccountAuthorizationDetails), as an SCP may: the controller reads role by role, the calls these tests
 * count; test/aws/bulk-read.test.ts serves the bulk read.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import {
  DescribeInstancesCommand,
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import {
  GetAccountAuthorizationDetailsCommand,
  GetRolePolicyCommand,
  IAMClient,
  type InstanceProfile,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam'
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda'
import { SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { vi } from 'vitest'
import { type ControllerConfig, readConfig } from '../../handlers/aws/config.js'
import type { ManagedPartCache } from '../../handlers/aws/iam-roles.js'
import { createHandler } from '../../handlers/controller/lambda.js'
import { lockPolicyName } from '../../policy/lock/index.js'

export const ACCOUNT = '123456789012'
export const REGION = 'us-east-1'
export const POLICY = lockPolicyName(REGION)
export const LOCK_TAG = { key: 'credential-lock', value: 'enabled' } as const
export const DEAD_LETTER_QUEUE = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/credential-lock-dlq.fifo`
export const CONTEXT = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:credential-lock` }
export const QUEUE = {
  queueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:credential-lock.fifo`,
  messageGroupId: 'credential-lock',
}
/** The clock every handler here runs at. */
export const NOW = new Date('2026-11-25T12:00:00Z')

/** Mocks for the five clients; call once per test file, at its top. */
export function mockAws() {
  return {
    ec2: mockClient(EC2Client),
    iam: mockClient(IAMClient),
    events: mockClient(EventBridgeClient),
    sqs: mockClient(SQSClient),
    lambda: mockClient(LambdaClient),
  }
}

export type MockedAws = ReturnType<typeof mockAws>

export function profileArn(roleName: string): string {
  return `arn:aws:iam::${ACCOUNT}:instance-profile/${roleName}`
}

/** A running, opted-in instance in subnet-1 of vpc-1 with one private address; `overrides` change any field. */
export function ec2Instance(
  instanceId: string,
  roleName: string | undefined,
  overrides: Partial<Instance> = {},
) {
  return {
    InstanceId: instanceId,
    State: { Name: 'running' },
    ...(roleName === undefined ? {} : { IamInstanceProfile: { Arn: profileArn(roleName) } }),
    Tags: [{ Key: LOCK_TAG.key, Value: LOCK_TAG.value }],
    PrivateIpAddress: '10.0.1.10',
    SubnetId: 'subnet-1',
    VpcId: 'vpc-1',
    ...overrides,
  } satisfies Instance
}

export interface MockedWorld {
  /** Roles with an instance profile of the same name. */
  readonly roles: readonly string[]
  readonly instances: readonly Instance[]
  /** The controller's current policy document on each role that has one. */
  readonly policies?: Readonly<Record<string, string>>
}

/**
 * Resets every mock and serves `world`; route tables and network interfaces are empty (no NAT, no interface
 * an Elastic IP could be associated with) unless a test adds some.
 */
export function serveWorld(aws: MockedAws, world: MockedWorld): void {
  for (const mock of Object.values(aws)) mock.reset()
  aws.iam.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: world.roles.map(profile) })
  aws.iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())
  aws.iam.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    const document = PolicyName === POLICY ? world.policies?.[RoleName] : undefined
    if (document === undefined) throw new NoSuchEntityException({ message: 'not found', $metadata: {} })
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) }
  })
  aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => ({
    Reservations: [{ Instances: world.instances.filter((instance) => matches(instance, Filters ?? [])) }],
  }))
  aws.iam.on(ListPoliciesCommand).resolves({ Policies: [] })
  aws.lambda.on(ListFunctionsCommand).resolves({ Functions: [] })
  aws.iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] })
  aws.iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] })
  aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] })
  aws.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] })
  aws.events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] })
}

/** Subnet `subnet-1` of `vpc-1` sends its default route through NAT gateway `nat-1`, which has `address`. */
export function serveNatGateway(aws: MockedAws, address: { PublicIp?: string; PrivateIp?: string }): void {
  aws.ec2.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        VpcId: 'vpc-1',
        Associations: [{ SubnetId: 'subnet-1' }],
        Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }],
      },
    ],
  })
  aws.ec2.on(DescribeNatGatewaysCommand).resolves({
    NatGateways: [{ NatGatewayId: 'nat-1', NatGatewayAddresses: [address] }],
  })
}

function matches(instance: Instance, filters: readonly Filter[]): boolean {
  return filters.every(({ Name, Values = [] }) => {
    if (Name === 'instance-id') return Values.includes(instance.InstanceId ?? '')
    if (Name?.startsWith('tag:')) {
      const key = Name.slice('tag:'.length)
      return (instance.Tags ?? []).some((tag) => tag.Key === key && Values.includes(tag.Value ?? ''))
    }
    throw new Error(`The mocked DescribeInstances does not know the filter ${Name}.`)
  })
}

function profile(roleName: string): InstanceProfile {
  return {
    Arn: profileArn(roleName),
    InstanceProfileName: roleName,
    InstanceProfileId: 'AIPAEXAMPLE',
    Path: '/',
    CreateDate: NOW,
    Roles: [{ RoleName: roleName, Arn: '', RoleId: '', Path: '/', CreateDate: NOW }],
  }
}

export interface LogLine {
  readonly level: 'INFO' | 'WARN' | 'ERROR'
  readonly message: string
  readonly fields: Record<string, unknown>
}

export interface HandlerOptions {
  readonly config?: Partial<ControllerConfig>
  /** {@link DEAD_LETTER_QUEUE} when not given; `undefined` given explicitly means none is set. */
  readonly deadLetterQueueUrl?: string | undefined
  /** The warm Lambda's cache of managed parts, shared by handlers that stand for one warm Lambda. @default none */
  readonly managedPartCache?: ManagedPartCache
}

/** The Lambda handler over the mocked clients, with the log lines and metrics it produced. */
export function mockedHandler(options: HandlerOptions = {}) {
  const deadLetterQueueUrl = 'deadLetterQueueUrl' in options ? options.deadLetterQueueUrl : DEAD_LETTER_QUEUE
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields })
  const logger = { info: at('INFO'), warn: at('WARN'), error: at('ERROR') } as unknown as Logger
  const metrics = { addMetric: vi.fn(), publishStoredMetrics: vi.fn() }
  const handler = createHandler({
    ec2: new EC2Client({ region: REGION }),
    iam: new IAMClient({ region: REGION }),
    events: new EventBridgeClient({ region: REGION }),
    sqs: new SQSClient({ region: REGION }),
    lambda: new LambdaClient({ region: REGION }),
    deadLetterQueueUrl,
    logger,
    metrics: metrics as unknown as Metrics,
    config: {
      ...readConfig({ AWS_REGION: REGION }),
      lockTag: LOCK_TAG,
      ...options.config,
    },
    now: () => NOW,
    ...(options.managedPartCache && { managedPartCache: options.managedPartCache }),
  })
  return { handler, lines, metrics }
}

/** An error with the name the AWS SDK gives a permission refusal. */
export function accessDenied(): Error {
  return Object.assign(new Error('not authorized'), { name: 'AccessDenied' })
}
