import {
  DeletePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetAccountAuthorizationDetailsCommand,
  IAMClient,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam'
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { RoleScope } from '../../handlers/aws/role-scope.js'
import { uninstall, handler as uninstallHandler } from '../../handlers/controller/uninstall.js'
import { customResourceEvent } from '../support/events.js'

const iamMock = mockClient(IAMClient)
const lambdaMock = mockClient(LambdaClient)
const REGION = 'eu-west-3'
const TAGGED: RoleScope = { kind: 'tagged', tag: { key: 'credential-lock-managed', value: 'true' } }

/** Runs the uninstall handler on one request, collecting the warnings it reports. */
function runUninstall(requestType: 'Create' | 'Update' | 'Delete', roleScope: RoleScope = { kind: 'all' }) {
  const warnings: string[] = []
  const running = uninstall(
    customResourceEvent(requestType),
    new IAMClient({ region: REGION }),
    new LambdaClient({ region: REGION }),
    REGION,
    roleScope,
    (message) => warnings.push(message),
  )
  return { running, warnings }
}

function profile(name: string, roleName: string) {
  const arn = `arn:aws:iam::123456789012:instance-profile/${name}`
  return {
    InstanceProfileName: name,
    InstanceProfileId: `AIPA${name.toUpperCase()}`,
    Arn: arn,
    Path: '/',
    CreateDate: new Date(),
    Roles: [{ RoleName: roleName, RoleId: 'AROA1', Arn: 'arn', Path: '/', CreateDate: new Date() }],
  }
}

describe('uninstall custom resource: removes every policy the controller wrote, and no other', () => {
  beforeEach(() => {
    iamMock.reset()
    lambdaMock.reset()
    iamMock.on(ListPoliciesCommand).resolves({ Policies: [] })
    iamMock.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [], Policies: [] })
    lambdaMock.on(ListFunctionsCommand).resolves({ Functions: [] })
  })

  it('detaches and deletes the managed policies under its own path, and no other', async () => {
    // Prepare
    const own = `arn:aws:iam::123456789012:policy/credential-lock/${REGION}/workers-1`
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [] })
    iamMock.on(ListPoliciesCommand).resolves({
      Policies: [
        { PolicyName: 'workers-1', Arn: own, Path: `/credential-lock/${REGION}/`, DefaultVersionId: 'v2' },
        {
          PolicyName: 'workers-2',
          Arn: `arn:aws:iam::123456789012:policy/credential-lock/${REGION}/deeper/workers-2`,
          Path: `/credential-lock/${REGION}/deeper/`,
        },
      ],
    })
    iamMock.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v2', IsDefaultVersion: true },
        { VersionId: 'v1', IsDefaultVersion: false },
      ],
    })

    // Act
    await runUninstall('Delete').running

    // Assess
    expect(iamMock.commandCalls(ListPoliciesCommand)[0]?.args[0].input).toMatchObject({
      Scope: 'Local',
      PathPrefix: `/credential-lock/${REGION}/`,
    })
    expect(iamMock.commandCalls(DetachRolePolicyCommand).map((call) => call.args[0].input)).toEqual([
      { RoleName: 'workers', PolicyArn: own },
    ])
    expect(iamMock.commandCalls(DeletePolicyCommand).map((call) => call.args[0].input)).toEqual([
      { PolicyArn: own },
    ])
  })

  it('deletes only credential-lock-<region> from every instance-profile role, once per role', async () => {
    // Prepare: two pages of profiles, two of them sharing a role
    iamMock
      .on(ListInstanceProfilesCommand)
      .resolvesOnce({
        InstanceProfiles: [profile('web', 'web-role'), profile('web-2', 'web-role')],
        IsTruncated: true,
        Marker: 'm',
      })
      .resolvesOnce({ InstanceProfiles: [profile('batch', 'batch-role')], IsTruncated: false })
    iamMock.on(DeleteRolePolicyCommand).resolves({})

    // Act
    const response = await runUninstall('Delete').running

    // Assess
    const deletions = iamMock.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input)
    expect(deletions).toEqual([
      { RoleName: 'web-role', PolicyName: 'credential-lock-eu-west-3' },
      { RoleName: 'batch-role', PolicyName: 'credential-lock-eu-west-3' },
    ])
    expect(response).toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
  })

  it('deletes it from the roles of functions too, a role shared with an instance profile once', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('web', 'web-role')] })
    const fn = (name: string, role: string) => ({
      FunctionName: name,
      FunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${name}`,
      Role: `arn:aws:iam::123456789012:role/service/${role}`,
    })
    lambdaMock
      .on(ListFunctionsCommand)
      .resolves({ Functions: [fn('reporter', 'reporter-role'), fn('web-hook', 'web-role')] })
    iamMock.on(DeleteRolePolicyCommand).resolves({})

    // Act
    await runUninstall('Delete').running

    // Assess
    const deletions = iamMock.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input.RoleName)
    expect(deletions).toEqual(['web-role', 'reporter-role'])
  })

  it('deletes it from a role nothing uses any more that still carries it, found by the bulk read', async () => {
    // Prepare: the last locked function of 'orphan-role' moved away; 'other-role' carries only its own policy.
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('web', 'web-role')] })
    const inline = (name: string) => ({
      PolicyName: name,
      PolicyDocument: encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [] })),
    })
    const role = (name: string, policies: string[]) => ({
      RoleName: name,
      Arn: `arn:aws:iam::123456789012:role/${name}`,
      RolePolicyList: policies.map(inline),
      AttachedManagedPolicies: [],
      InstanceProfileList: [],
    })
    iamMock.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [
        role('orphan-role', ['credential-lock-eu-west-3', 'app-policy']),
        role('other-role', ['app-policy']),
        role('web-role', ['credential-lock-eu-west-3']),
      ],
      Policies: [],
    })
    iamMock.on(DeleteRolePolicyCommand).resolves({})

    // Act
    await runUninstall('Delete').running

    // Assess
    const deletions = iamMock.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input)
    expect(deletions).toEqual([
      { RoleName: 'web-role', PolicyName: 'credential-lock-eu-west-3' },
      { RoleName: 'orphan-role', PolicyName: 'credential-lock-eu-west-3' },
    ])
  })

  it('without the bulk read, cleans every role it can find and warns that unused roles were not searched', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('web', 'web-role')] })
    iamMock
      .on(GetAccountAuthorizationDetailsCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }))
    iamMock.on(DeleteRolePolicyCommand).resolves({})

    // Act
    const { running, warnings } = runUninstall('Delete')
    await running

    // Assess
    expect(iamMock.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input.RoleName)).toEqual([
      'web-role',
    ])
    expect(warnings).toEqual([
      expect.stringMatching(
        /iam:GetAccountAuthorizationDetails.*Roles no instance profile or function uses were not searched for credential-lock-eu-west-3\.$/,
      ),
    ])
  })

  it('tolerates roles that carry no lock (NoSuchEntity)', async () => {
    // Prepare
    iamMock
      .on(ListInstanceProfilesCommand)
      .resolves({ InstanceProfiles: [profile('a', 'a-role'), profile('b', 'b-role')] })
    iamMock
      .on(DeleteRolePolicyCommand, { RoleName: 'a-role' })
      .rejects(new NoSuchEntityException({ message: 'The role policy cannot be found.', $metadata: {} }))
      .on(DeleteRolePolicyCommand, { RoleName: 'b-role' })
      .resolves({})

    // Act
    const uninstalling = runUninstall('Delete').running

    // Assess
    await expect(uninstalling).resolves.toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
    expect(iamMock.commandCalls(DeleteRolePolicyCommand)).toHaveLength(2)
  })

  it('fails the deletion on any other error, so CloudFormation reports it instead of leaving locks', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('a', 'a-role')] })
    iamMock
      .on(DeleteRolePolicyCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))

    // Act
    const uninstalling = runUninstall('Delete').running

    // Assess
    await expect(uninstalling).rejects.toThrow('Rate exceeded')
  })

  it.each(['Create', 'Update'] as const)('does nothing on %s', async (requestType) => {
    // Prepare
    iamMock.onAnyCommand().rejects(new Error('no IAM call expected'))

    // Act
    const response = await runUninstall(requestType).running

    // Assess
    expect(response).toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
    expect(iamMock.calls()).toHaveLength(0)
  })
  it('with a tagged scope, skips a role IAM keeps out of scope with a warning, and still deletes the rest', async () => {
    // Prepare
    iamMock
      .on(ListInstanceProfilesCommand)
      .resolves({ InstanceProfiles: [profile('a', 'untagged-role'), profile('b', 'tagged-role')] })
    iamMock
      .on(DeleteRolePolicyCommand, { RoleName: 'untagged-role' })
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }))
      .on(DeleteRolePolicyCommand, { RoleName: 'tagged-role' })
      .resolves({})

    // Act
    const { running, warnings } = runUninstall('Delete', TAGGED)

    // Assess
    await expect(running).resolves.toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
    expect(iamMock.commandCalls(DeleteRolePolicyCommand)).toHaveLength(2)
    expect(warnings).toEqual([
      'Role untagged-role is out of scope, so any credential-lock-eu-west-3 policy on it stays: delete it by hand.',
    ])
  })

  it('with a tagged scope, leaves a managed policy IAM keeps out of scope with a warning that names it', async () => {
    // Prepare
    const own = `arn:aws:iam::123456789012:policy/credential-lock/${REGION}/untagged-role-1`
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [] })
    iamMock.on(ListPoliciesCommand).resolves({
      Policies: [
        {
          PolicyName: 'untagged-role-1',
          Arn: own,
          Path: `/credential-lock/${REGION}/`,
          DefaultVersionId: 'v1',
        },
      ],
    })
    iamMock
      .on(DetachRolePolicyCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }))

    // Act
    const { running, warnings } = runUninstall('Delete', TAGGED)

    // Assess
    await expect(running).resolves.toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
    expect(warnings).toEqual([
      `Role untagged-role is out of scope, so the managed policy ${own} on it stays: delete it by hand.`,
    ])
    expect(iamMock.commandCalls(DeletePolicyCommand)).toHaveLength(0)
  })

  it('with every role in scope, fails the deletion when IAM refuses, since a permission is missing', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [profile('a', 'a-role')] })
    iamMock
      .on(DeleteRolePolicyCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }))

    // Act
    const { running } = runUninstall('Delete')

    // Assess
    await expect(running).rejects.toThrowError(expect.objectContaining({ name: 'MissingPermissionError' }))
  })
})

describe("the uninstall entry: runs only in the Lambda runtime, named after the region's policy", () => {
  const create = customResourceEvent('Create')

  afterEach(() => vi.unstubAllEnvs())

  it('refuses to run outside the Lambda runtime, where AWS_REGION is not set', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', '')

    // Act
    const run = uninstallHandler(create)

    // Assess
    await expect(run).rejects.toThrowError(
      'AWS_REGION is not set: the uninstall must run in the Lambda runtime.',
    )
  })

  it("names the resource after the region's policy", async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'eu-west-3')

    // Act
    const response = await uninstallHandler(create)

    // Assess
    expect(response).toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
  })
})
