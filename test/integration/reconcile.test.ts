import {
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateIamInstanceProfileCommand,
} from '@aws-sdk/client-ec2'
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { controllerUnderTest } from '../support/controller-under-test.js'
import { iamProfileAssociation, stateChange } from '../support/events.js'
import { fromPublicIp, type InstanceCredentials, verdict } from '../support/simulate.js'
import {
  type ChapterResult,
  defendersStory,
  foreignPolicyDocument,
  rolePolicies,
  runChapter,
  THIEF_IP,
} from '../support/story.js'
import { buildDefendersWorld, readInstance } from '../support/world.js'

/** Chapters whose events must not change a correct lock: the budget there is zero writes. */
const NO_CHANGE = new Set([
  'duplicate/out-of-order state change',
  'malformed + ghost instance',
  'none (drift)',
])

describe('the Defenders story against moto, judged by iam-simulate', () => {
  const results: ChapterResult[] = []

  beforeAll(async () => {
    const controller = controllerUnderTest(inject('motoEndpoint'))
    const world = await buildDefendersWorld(controller)
    const deps = { ...controller, world }
    const foreignPolicy = await foreignPolicyDocument(controller.iam, world)
    for (const chapter of defendersStory(deps)) results.push(await runChapter(deps, chapter, foreignPolicy))
  })

  it('gives every expected verdict after every chapter', () => {
    for (const { title, results: checks } of results) {
      const table = checks.map(({ who, from, expected, actual }) => ({ who, from, expected, actual }))
      expect.soft(table, title).toEqual(table.map((row) => ({ ...row, actual: row.expected })))
    }
  })

  it("never touches the role's own inline policy and never fails a record", () => {
    for (const { title, foreignPolicyUntouched, failedRecords } of results) {
      expect
        .soft({ title, foreignPolicyUntouched, failedRecords })
        .toEqual({ title, foreignPolicyUntouched: true, failedRecords: 0 })
    }
  })

  it('stays within the call budget: one EC2 pass, one IAM read and at most one IAM write per role', () => {
    for (const { title, eventKind, calls } of results) {
      const count = (operation: string) => calls.byOperation[operation] ?? 0
      const writes = count('IAM:PutRolePolicy') + count('IAM:DeleteRolePolicy')
      const budget = {
        instanceProfileLists: count('IAM:ListInstanceProfiles') <= 1,
        policyReads: count('IAM:GetRolePolicy') <= 1,
        describeInstances: count('EC2:DescribeInstances') <= 2,
        writes: writes <= (NO_CHANGE.has(eventKind) ? 0 : 1),
        auditOnlyOnChange: count('EventBridge:PutEvents') === writes,
      }
      expect
        .soft({ title, ...budget })
        .toEqual({ title, ...Object.fromEntries(Object.keys(budget).map((k) => [k, true])) })
    }
  })
})

describe('an instance moved to another role', () => {
  it('leaves a tombstone for its old credentials and a live lock for its new ones', async () => {
    // Prepare: Luke is locked on `defenders`; a second role `heroes-for-hire` exists.
    const controller = controllerUnderTest(inject('motoEndpoint'))
    const world = await buildDefendersWorld(controller)
    const context = {
      invokedFunctionArn: `arn:aws:lambda:us-east-1:${world.accountId}:function:credential-lock`,
    }
    await controller.handler(stateChange(world.luke.instanceId, 'running'), context)
    const heroes = await createInstanceRole(controller.iam, 'heroes-for-hire')
    const { ec2 } = controller
    const associations = await ec2.send(
      new DescribeIamInstanceProfileAssociationsCommand({
        Filters: [{ Name: 'instance-id', Values: [world.luke.instanceId] }],
      }),
    )
    const associationId = associations.IamInstanceProfileAssociations?.[0]?.AssociationId

    // Act: moto does not reflect ReplaceIamInstanceProfileAssociation in DescribeInstances, so the move is
    // a disassociate + associate, each with the event AWS would deliver.
    await ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: associationId }))
    await controller.handler(
      iamProfileAssociation('disassociate', world.luke.instanceId, world.instanceProfile.arn),
      context,
    )
    await ec2.send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: world.luke.instanceId,
        IamInstanceProfile: { Arn: heroes },
      }),
    )
    await controller.handler(iamProfileAssociation('associate', world.luke.instanceId, heroes), context)

    // Assess
    const luke = await readInstance(ec2, world.luke.instanceId)
    const credentials = (roleName: string): InstanceCredentials => ({
      accountId: world.accountId,
      region: world.region,
      roleName,
      instanceId: luke.instanceId,
      vpcId: world.vpcId,
      privateIpv4: luke.privateIp,
    })
    const oldRole = await rolePolicies(controller.iam, 'defenders')
    const newRole = await rolePolicies(controller.iam, 'heroes-for-hire')
    const own = luke.publicIp ?? ''
    const [oldFromOwnIp, newFromOwnIp, newFromThief] = await Promise.all([
      verdict(oldRole, fromPublicIp(credentials('defenders'), own)),
      verdict(newRole, fromPublicIp(credentials('heroes-for-hire'), own)),
      verdict(newRole, fromPublicIp(credentials('heroes-for-hire'), THIEF_IP)),
    ])
    expect({ oldFromOwnIp, newFromOwnIp, newFromThief }).toEqual({
      oldFromOwnIp: 'ExplicitlyDenied',
      newFromOwnIp: 'Allowed',
      newFromThief: 'ExplicitlyDenied',
    })
  })
})

/** A second instance role with an ordinary permission, the way an operator would create one. */
async function createInstanceRole(
  iam: ReturnType<typeof controllerUnderTest>['iam'],
  name: string,
): Promise<string> {
  const trust = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  }
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }))
  const allowReports = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
  }
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'app',
      PolicyDocument: JSON.stringify(allowReports),
    }),
  )
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name }))
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }))
  return profile.InstanceProfile?.Arn ?? ''
}
