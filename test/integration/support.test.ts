import { createHash } from 'node:crypto'
import {
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeRouteTablesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2'
import {
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesForRoleCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { AwsCallCounter } from '../support/aws-call-counter.js'
import {
  type AnyEventBridgeEvent,
  associateAddress,
  type CloudTrailEvent,
  disassociateAddress,
  type FixtureName,
  iamProfileAssociation,
  loadEvent,
  scheduled,
  sqsBatch,
  stateChange,
  tagChange,
} from '../support/events.js'
import { useMotoAccount } from '../support/moto.js'
import {
  buildDefendersWorld,
  DEFENDERS_APP_POLICY,
  type DefendersWorld,
  EC2_READ_ONLY_POLICY_ARN,
  OPT_IN_TAG,
} from '../support/world.js'

const INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const
const CLOUDTRAIL_FIXTURES: readonly FixtureName[] = [
  'cloudtrail-associate-address-by-instance',
  'cloudtrail-associate-address-by-eni',
  'cloudtrail-associate-address-failed',
  'cloudtrail-disassociate-address',
  'cloudtrail-associate-iam-instance-profile',
  'cloudtrail-replace-iam-instance-profile-association',
  'cloudtrail-disassociate-iam-instance-profile',
  'cloudtrail-ec2-describe-instances',
  'cloudtrail-s3-put-object',
]
const INSTANCE_ID = 'i-0123456789abcdef0'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const AWS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:credential-lock-events.fifo'

describe('event fixtures', () => {
  it.each([
    ...INSTANCE_STATES.map((state) => `ec2-state-change-${state}` as const),
    ...CLOUDTRAIL_FIXTURES,
    'tag-change-ec2-instance',
    'tag-change-ec2-instance-opt-out',
    'tag-change-s3-bucket',
    'scheduled-event',
  ] satisfies FixtureName[])('%s has the EventBridge envelope', (name) => {
    // Act
    const event = loadEvent(name)

    // Assess
    expect(event).toMatchObject({ version: '0', account: '123456789012', region: 'us-east-1' })
    expect(event.id).toMatch(UUID)
    expect(event.time).toMatch(AWS_TIME)
    expect(event.source).toMatch(/^aws\./)
    expect(Array.isArray(event.resources)).toBe(true)
  })

  it.each(CLOUDTRAIL_FIXTURES)('%s carries a CloudTrail record', (name) => {
    // Act
    const event = loadEvent<CloudTrailEvent>(name)

    // Assess
    expect(event['detail-type']).toBe('AWS API Call via CloudTrail')
    expect(event.detail.eventSource).toMatch(/\.amazonaws\.com$/)
    expect(event.detail.eventTime).toBe(event.time)
    expect(event.detail.eventType).toBe('AwsApiCall')
    expect(event.source).toBe(`aws.${event.detail.eventSource.split('.')[0]}`)
  })

  it('gives each state change the instance, the state and a fresh id', () => {
    // Act
    const first = stateChange(INSTANCE_ID, 'stopped')
    const second = stateChange(INSTANCE_ID, 'stopped')

    // Assess
    expect(first.detail).toEqual({ 'instance-id': INSTANCE_ID, state: 'stopped' })
    expect(first.resources).toEqual([`arn:aws:ec2:us-east-1:123456789012:instance/${INSTANCE_ID}`])
    expect(first.id).not.toBe(second.id)
  })

  it('names the instance or the interface in AssociateAddress, and neither in DisassociateAddress', () => {
    // Act
    const byInstance = associateAddress({ instanceId: INSTANCE_ID }, 'eipalloc-0123456789abcdef0')
    const byEni = associateAddress(
      { networkInterfaceId: 'eni-0fedcba9876543210' },
      'eipalloc-0123456789abcdef0',
    )
    const disassociation = disassociateAddress(byInstance.detail.responseElements?.associationId ?? '')

    // Assess
    expect(byInstance.detail.requestParameters).toEqual({
      instanceId: INSTANCE_ID,
      allocationId: 'eipalloc-0123456789abcdef0',
    })
    expect(byEni.detail.requestParameters).toEqual({
      networkInterfaceId: 'eni-0fedcba9876543210',
      allocationId: 'eipalloc-0123456789abcdef0',
    })
    expect(byInstance.detail.responseElements?.associationId).toMatch(/^eipassoc-[0-9a-f]{17}$/)
    expect(disassociation.detail.requestParameters).toEqual({
      associationId: byInstance.detail.responseElements?.associationId,
    })
    expect(loadEvent<CloudTrailEvent>('cloudtrail-associate-address-failed').detail).toMatchObject({
      errorCode: 'Client.InvalidAllocationID.NotFound',
      responseElements: null,
    })
  })

  it.each([
    ['associate', 'AssociateIamInstanceProfile'],
    ['replace', 'ReplaceIamInstanceProfileAssociation'],
    ['disassociate', 'DisassociateIamInstanceProfile'],
  ] as const)('names the instance in the %s response', (kind, eventName) => {
    // Prepare
    const profileArn = 'arn:aws:iam::123456789012:instance-profile/web'

    // Act
    const event = iamProfileAssociation(kind, INSTANCE_ID, profileArn)

    // Assess
    expect(event.detail.eventName).toBe(eventName)
    expect(
      event.detail.responseElements?.[`${eventName}Response`]?.iamInstanceProfileAssociation,
    ).toMatchObject({
      instanceId: INSTANCE_ID,
      iamInstanceProfile: { arn: profileArn },
    })
  })

  it('reports the full tag set and the changed keys, deleted ones included', () => {
    // Act
    const optOut = tagChange(INSTANCE_ID, { Name: 'luke' }, [OPT_IN_TAG.key])

    // Assess
    expect(optOut.detail).toMatchObject({
      service: 'ec2',
      'resource-type': 'instance',
      'changed-tag-keys': [OPT_IN_TAG.key],
      tags: { Name: 'luke' },
    })
    expect(loadEvent('tag-change-ec2-instance').detail).toMatchObject({
      tags: { [OPT_IN_TAG.key]: 'enabled' },
    })
  })

  it('wraps EventBridge events in SQS FIFO records whose bodies parse back', () => {
    // Prepare
    const events: AnyEventBridgeEvent[] = [stateChange(INSTANCE_ID, 'running'), scheduled()]

    // Act
    const batch = sqsBatch(events, { queueArn: QUEUE_ARN })

    // Assess
    expect(batch.Records).toHaveLength(2)
    for (const [index, record] of batch.Records.entries()) {
      expect(JSON.parse(record.body)).toEqual(events[index])
      expect(record.md5OfBody).toBe(createHash('md5').update(record.body).digest('hex'))
      expect(record).toMatchObject({
        eventSource: 'aws:sqs',
        eventSourceARN: QUEUE_ARN,
        awsRegion: 'us-east-1',
      })
      expect(record.attributes).toMatchObject({
        MessageGroupId: 'credential-lock',
        MessageDeduplicationId: events[index]?.id,
      })
    }
    expect(new Set(batch.Records.map((record) => record.messageId)).size).toBe(2)
    expect(
      sqsBatch(events, { queueArn: QUEUE_ARN.replace('.fifo', '') }).Records[0]?.attributes,
    ).not.toHaveProperty('MessageGroupId')
  })
})

describe('the Defenders world in moto', () => {
  let ec2: EC2Client
  let iam: IAMClient
  let world: DefendersWorld

  beforeAll(async () => {
    const config = { endpoint: inject('motoEndpoint'), region: 'us-east-1' }
    ec2 = new EC2Client(config)
    iam = new IAMClient(config)
    const accountId = useMotoAccount(ec2)
    useMotoAccount(iam, accountId)
    world = await buildDefendersWorld({ ec2, iam })
  })

  it('launches Luke and Matt with public IPs and Danny without, all on the defenders role', async () => {
    // Act
    const described = await ec2.send(
      new DescribeInstancesCommand({
        InstanceIds: [world.luke, world.matt, world.danny].map((i) => i.instanceId),
      }),
    )

    // Assess
    const instances = described.Reservations?.flatMap((reservation) => reservation.Instances ?? []) ?? []
    expect(instances.map((instance) => instance.IamInstanceProfile?.Arn)).toEqual(
      Array(3).fill(world.instanceProfile.arn),
    )
    expect(world.luke).toMatchObject({ name: 'luke', optedIn: true, subnetId: world.publicSubnet.subnetId })
    expect(world.matt).toMatchObject({ name: 'matt', optedIn: false, subnetId: world.publicSubnet.subnetId })
    expect(world.danny).toMatchObject({
      name: 'danny',
      optedIn: true,
      subnetId: world.privateSubnet.subnetId,
    })
    expect(world.luke.publicIp).toBeDefined()
    expect(world.matt.publicIp).toBeDefined()
    expect(world.danny.publicIp).toBeUndefined()
    expect(world.luke.arn).toBe(`arn:aws:ec2:us-east-1:${world.accountId}:instance/${world.luke.instanceId}`)
  })

  it('keeps its resources in its own moto account, apart from other test files', () => {
    // Assess
    expect(world.accountId).toMatch(/^\d{12}$/)
    expect(world.accountId).not.toBe('123456789012')
    expect(world.role.roleArn).toBe(`arn:aws:iam::${world.accountId}:role/defenders`)
  })

  it('points clients built without an endpoint at moto too', async () => {
    // Prepare
    const defaultClient = new EC2Client({})

    // Act
    const regions = await defaultClient.send(new DescribeRegionsCommand({}))

    // Assess
    expect(process.env.AWS_ENDPOINT_URL).toBe(inject('motoEndpoint'))
    expect(regions.Regions?.length).toBeGreaterThan(0)
  })

  it("routes the private subnet's default route through the NAT gateway", async () => {
    // Act
    const tables = await ec2.send(
      new DescribeRouteTablesCommand({
        Filters: [{ Name: 'association.subnet-id', Values: [world.privateSubnet.subnetId] }],
      }),
    )

    // Assess
    expect(tables.RouteTables?.[0]?.Routes).toContainEqual(
      expect.objectContaining({
        DestinationCidrBlock: '0.0.0.0/0',
        NatGatewayId: world.privateSubnet.natGatewayId,
      }),
    )
    expect(world.privateSubnet.natPublicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  })

  it('gives the role its own inline policy and the EC2 read-only managed policy', async () => {
    // Act
    const [inline, attached, profiles] = await Promise.all([
      iam.send(new GetRolePolicyCommand({ RoleName: world.role.roleName, PolicyName: DEFENDERS_APP_POLICY })),
      iam.send(new ListAttachedRolePoliciesCommand({ RoleName: world.role.roleName })),
      iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: world.role.roleName })),
    ])

    // Assess
    expect(decodeURIComponent(inline.PolicyDocument ?? '')).toContain('s3:GetObject')
    expect(attached.AttachedPolicies?.map((policy) => policy.PolicyArn)).toEqual([EC2_READ_ONLY_POLICY_ARN])
    expect(profiles.InstanceProfiles?.map((profile) => profile.Arn)).toEqual([world.instanceProfile.arn])
  })

  it('counts calls per service and operation, reads apart from writes', async () => {
    // Prepare
    const counter = new AwsCallCounter().attachTo(ec2, iam)

    // Act
    await ec2.send(new DescribeInstancesCommand({ InstanceIds: [world.luke.instanceId] }))
    await ec2.send(new DescribeInstancesCommand({ InstanceIds: [world.matt.instanceId] }))
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: world.role.roleName,
        PolicyName: 'counter-probe',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
        }),
      }),
    )
    const counted = counter.snapshot()
    counter.reset()

    // Assess
    expect(counted).toEqual({
      byOperation: { 'EC2:DescribeInstances': 2, 'IAM:PutRolePolicy': 1 },
      reads: 2,
      writes: 1,
      total: 3,
    })
    expect(counter.snapshot().total).toBe(0)
  })
})
