/**
 * The role's inline policies and instance profiles, against a mocked IAM: which profile gives which role, what
 * the role's other inline policies cost of its budget, how a policy IAM does not have reads, and the permission
 * each call names when it is refused. IAM pages that leave out their list (the SDK omits an empty list element)
 * read as empty, so a role without other policies costs nothing of its budget.
 */
import {
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  foreignManagedPolicyCount,
  instanceProfileRoles,
  listManagedParts,
  otherInlinePolicyChars,
  readInlinePolicy,
  removeOwnPolicy,
} from '../../handlers/aws/iam-roles.js'

const iamMock = mockClient(IAMClient)
const iam = new IAMClient({ region: 'us-east-1' })
const REGION = 'us-east-1'
const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' })
const missingPermission = (action: string, resource: string) =>
  expect.objectContaining({
    name: 'MissingPermissionError',
    message: expect.stringContaining(`not allowed to call ${action} on ${resource}:`),
  })

beforeEach(() => iamMock.reset())

describe('instanceProfileRoles: the role of each instance profile', () => {
  it('maps each profile to its role and skips a profile without one', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({
      InstanceProfiles: [
        { Arn: 'arn:aws:iam::123456789012:instance-profile/web', Roles: [{ RoleName: 'web' }] },
        { Arn: 'arn:aws:iam::123456789012:instance-profile/empty', Roles: [] },
      ] as never,
    })

    // Act
    const roles = await instanceProfileRoles(iam)

    // Assess
    expect(Object.fromEntries(roles)).toEqual({ 'arn:aws:iam::123456789012:instance-profile/web': 'web' })
  })
})

describe('the inline policies and instance profiles IAM gives, and the permission each read names', () => {
  it('lists each profile with a role, and skips profiles without one', async () => {
    // Prepare
    const role = { RoleName: 'web', Arn: '', RoleId: '', Path: '/', CreateDate: new Date() }
    const profile = (name: string, roles?: (typeof role)[]) => ({
      Arn: `arn:aws:iam::123456789012:instance-profile/${name}`,
      InstanceProfileName: name,
      InstanceProfileId: 'AIPA',
      Path: '/',
      CreateDate: new Date(),
      Roles: roles as (typeof role)[],
    })
    iamMock.on(ListInstanceProfilesCommand).resolves({
      InstanceProfiles: [profile('web', [role]), profile('empty', []), profile('none')],
    })

    // Act
    const roles = await instanceProfileRoles(iam)

    // Assess
    expect(roles).toEqual(new Map([['arn:aws:iam::123456789012:instance-profile/web', 'web']]))
  })

  it.each([
    ['iam:ListInstanceProfiles', '*', () => instanceProfileRoles(iam)],
    ['iam:GetRolePolicy', 'role web', () => readInlinePolicy(iam, 'web', 'lock')],
    ['iam:DeleteRolePolicy', 'role web', () => removeOwnPolicy(iam, 'web', 'lock')],
    ['iam:ListRolePolicies', 'role web', () => otherInlinePolicyChars(iam, 'web', 'lock')],
  ] as const)('names %s on %s when the controller may not call it', async (action, resource, call) => {
    // Prepare: IAM refuses every call.
    iamMock.onAnyCommand().rejects(denied())

    // Act
    const attempt = call()

    // Assess
    await expect(attempt).rejects.toThrowError(missingPermission(action, resource))
  })

  it('reads a policy IAM returns without a document as none, and one IAM does not have as none', async () => {
    // Prepare
    iamMock
      .on(GetRolePolicyCommand, { PolicyName: 'empty' })
      .resolves({ RoleName: 'web', PolicyName: 'empty' } as never)
    iamMock
      .on(GetRolePolicyCommand, { PolicyName: 'missing' })
      .rejects(new NoSuchEntityException({ message: 'not found', $metadata: {} }))

    // Act
    const documents = [
      await readInlinePolicy(iam, 'web', 'empty'),
      await readInlinePolicy(iam, 'web', 'missing'),
    ]

    // Assess
    expect(documents).toEqual([undefined, undefined])
  })

  it('passes on any other failure to read a policy, so the event is retried', async () => {
    // Prepare
    iamMock
      .on(GetRolePolicyCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))

    // Act
    const read = readInlinePolicy(iam, 'web', 'lock')

    // Assess
    await expect(read).rejects.toThrowError('Rate exceeded')
  })

  it('counts nothing for a policy deleted between listing and reading it', async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand, { RoleName: 'web' }).resolves({ PolicyNames: ['gone'] })
    iamMock
      .on(GetRolePolicyCommand)
      .rejects(new NoSuchEntityException({ message: 'not found', $metadata: {} }))

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'lock')

    // Assess
    expect(chars).toBe(0)
  })

  it('counts an inline policy with a long name like any other: IAM counts every inline policy of the role', async () => {
    // Prepare: names of up to 128 characters are allowed; the quota counts the documents whatever their names.
    const longName = 'reporting-application-permissions'
    iamMock
      .on(ListRolePoliciesCommand, { RoleName: 'web' })
      .resolves({ PolicyNames: ['app', longName, 'lock'] })
    for (const [name, document] of [
      ['app', '{"Statement":[]}'],
      [longName, '{"Statement":[{"Sid":"reports"}]}'],
    ]) {
      iamMock.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: name }).resolves({
        RoleName: 'web',
        PolicyName: name,
        PolicyDocument: encodeURIComponent(document as string),
      })
    }

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'lock')

    // Assess
    expect(chars).toBe('{"Statement":[]}'.length + '{"Statement":[{"Sid":"reports"}]}'.length)
  })

  it("counts the role's other inline policies, never its own", async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand, { RoleName: 'web' }).resolves({ PolicyNames: ['app', 'lock'] })
    iamMock.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'app' }).resolves({
      RoleName: 'web',
      PolicyName: 'app',
      PolicyDocument: encodeURIComponent('{ "Statement": [] }'),
    })
    iamMock.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'lock' }).resolves({
      RoleName: 'web',
      PolicyName: 'lock',
      PolicyDocument: encodeURIComponent('{"Statement":[{"Sid":"a long policy of its own"}]}'),
    })

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'lock')

    // Assess
    expect(chars).toBe('{"Statement":[]}'.length)
  })
})

describe('an IAM page without its list reads as empty', () => {
  it('gives no other inline policy characters, and reads no policy', async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'credential-lock-us-east-1')

    // Assess
    expect(chars).toBe(0)
    expect(iamMock.commandCalls(GetRolePolicyCommand)).toHaveLength(0)
  })

  it('counts no foreign managed policy', async () => {
    // Prepare
    iamMock.on(ListAttachedRolePoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const count = await foreignManagedPolicyCount(iam, 'web', REGION)

    // Assess
    expect(count).toBe(0)
  })

  it('names no instance profile and no managed part', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ IsTruncated: false })
    iamMock.on(ListPoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const roles = await instanceProfileRoles(iam)
    const parts = await listManagedParts(iam, REGION)

    // Assess
    expect(roles.size).toBe(0)
    expect(parts.size).toBe(0)
  })
})
