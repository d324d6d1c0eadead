/**
 * The controller's reads of IAM at scale, over mocked clients: the resync reads IAM once in bulk and reconciles a
 * role nothing points at any more; a warm Lambda does not read a managed part again while its default version
 * is unchanged.
 */
import {
  type AttachedPolicy,
  GetAccountAuthorizationDetailsCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  PutRolePolicyCommand,
  type RoleDetail,
} from '@aws-sdk/client-iam'
import { beforeEach, describe, expect, it } from 'vitest'
import { ManagedPartCache } from '../../handlers/aws/iam-roles.js'
import { instanceArn } from '../../policy/lock/index.js'
import { scheduled, sqsBatch, stateChange } from '../support/events.js'
import {
  ACCOUNT,
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  POLICY,
  profileArn,
  QUEUE,
  REGION,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const GONE = 'i-0a1b2c3d4e5f60009'
const PART = `arn:aws:iam::${ACCOUNT}:policy/credential-lock/${REGION}/web-1`
const SCOPE = { partition: 'aws', region: REGION, accountId: ACCOUNT }

/** A lock naming `instanceId` only, the shape the controller writes. */
function lockOn(instanceId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: { 'ec2:SourceInstanceARN': instanceArn(SCOPE, instanceId) },
          NotIpAddress: { 'aws:SourceIp': ['54.0.0.1/32'], 'aws:VpcSourceIp': ['10.0.1.10/32'] },
        },
      },
    ],
  })
}

function role(
  name: string,
  options: { profile: boolean; lock?: string; attached?: AttachedPolicy[] },
): RoleDetail {
  return {
    RoleName: name,
    InstanceProfileList: options.profile
      ? [
          {
            Arn: profileArn(name),
            InstanceProfileName: name,
            InstanceProfileId: 'AIPA',
            Path: '/',
            CreateDate: new Date(),
            Roles: [],
          },
        ]
      : [],
    RolePolicyList: options.lock
      ? [{ PolicyName: POLICY, PolicyDocument: encodeURIComponent(options.lock) }]
      : [],
    AttachedManagedPolicies: options.attached ?? [],
  }
}

beforeEach(() => serveWorld(aws, { roles: ['web'], instances: [ec2Instance(LUKE, 'web')] }))

describe('the scheduled resync', () => {
  it('reads IAM once in bulk and tombstones what a role no profile or function leads to still locks', async () => {
    // Prepare: `old-web` lost its instance profile; its lock names an instance EC2 no longer knows.
    aws.iam.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [
        role('web', { profile: true }),
        role('old-web', { profile: false, lock: lockOn(GONE) }),
      ],
      Policies: [],
      IsTruncated: false,
    })
    const { handler, lines } = mockedHandler()

    // Act
    const response = await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(response?.batchItemFailures).toEqual([])
    const decisions = lines.filter((line) => line.message === 'lock decision').map((line) => line.fields)
    expect(decisions.find((line) => line.roleName === 'old-web')?.instances).toEqual([
      expect.objectContaining({ instanceId: GONE, outcome: 'tombstoned', reason: 'gone from EC2' }),
    ])
    expect(aws.iam.commandCalls(ListInstanceProfilesCommand)).toHaveLength(0)
    expect(aws.iam.commandCalls(GetRolePolicyCommand)).toHaveLength(0)
    expect(
      aws.iam
        .commandCalls(PutRolePolicyCommand)
        .map((call) => call.args[0].input.RoleName)
        .sort(),
    ).toEqual(['old-web', 'web'])
  })
})

describe('a bulk read IAM refuses (an SCP may deny it)', () => {
  it('is said once, and the resync reads role by role instead', async () => {
    // Prepare: the mocked world refuses GetAccountAuthorizationDetails.
    const { handler, lines } = mockedHandler()

    // Act
    const response = await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(response?.batchItemFailures).toEqual([])
    expect(lines.filter((line) => line.message.startsWith('bulk read of IAM refused'))).toHaveLength(1)
    expect(aws.iam.commandCalls(ListInstanceProfilesCommand)).toHaveLength(1)
    expect(aws.iam.commandCalls(GetRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'web',
    ])
  })
})

describe('a managed part whose default version is unchanged', () => {
  it('is read once by a warm Lambda, however many batches read the role', async () => {
    // Prepare: web's lock spans its inline policy and part 1 (version v7).
    aws.iam
      .on(GetRolePolicyCommand)
      .resolves({ RoleName: 'web', PolicyName: POLICY, PolicyDocument: encodeURIComponent(lockOn(LUKE)) })
    aws.iam.on(ListPoliciesCommand).resolves({
      Policies: [
        {
          PolicyName: 'web-1',
          Arn: PART,
          Path: `/credential-lock/${REGION}/`,
          DefaultVersionId: 'v7',
          AttachmentCount: 1,
        },
      ],
    })
    aws.iam
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { Document: encodeURIComponent(lockOn(GONE)) } })
    const managedPartCache = new ManagedPartCache()

    // Act
    for (let batch = 0; batch < 3; batch++) {
      const { handler } = mockedHandler({ managedPartCache })
      await handler(sqsBatch([stateChange(LUKE, 'running')], QUEUE), CONTEXT)
    }

    // Assess
    expect(aws.iam.commandCalls(GetPolicyVersionCommand)).toHaveLength(1)
    expect(aws.iam.commandCalls(ListPoliciesCommand)).toHaveLength(3)
  })
})
